"""Huey tasks of the restore domain."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from cloudbox.restores import service

if TYPE_CHECKING:
    from cloudbox.runtime import Runtime


def register(runtime: Runtime) -> dict[str, Any]:
    @runtime.queue.task(name="cloudbox.restores.run")  # type: ignore[untyped-decorator]
    def run_restore(restore_id: int) -> None:
        service.run_restore(runtime, restore_id)

    return {"run_restore": run_restore}

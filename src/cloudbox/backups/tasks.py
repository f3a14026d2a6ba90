"""Huey tasks of the backup domain. Registered on the runtime's queue by `cloudbox.tasks`."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from cloudbox.backups import service

if TYPE_CHECKING:
    from cloudbox.runtime import Runtime


def register(runtime: Runtime) -> dict[str, Any]:
    queue = runtime.queue

    @queue.task(name="cloudbox.backups.create")  # type: ignore[untyped-decorator]
    def create_backup(backup_id: int) -> None:
        service.run_backup(runtime, backup_id)

    return {"create_backup": create_backup}

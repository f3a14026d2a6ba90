"""Registers every domain's background tasks on the runtime's queue.

The API process (which enqueues) and the worker processes (which run) both call this, so
task names match on both sides.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from cloudbox.backups import tasks as backup_tasks
from cloudbox.jobs.memory import release_freed_memory
from cloudbox.policies import tasks as policy_tasks
from cloudbox.restores import tasks as restore_tasks

if TYPE_CHECKING:
    from cloudbox.runtime import Runtime


def install(runtime: Runtime) -> dict[str, Any]:
    @runtime.queue.post_execute()  # type: ignore[untyped-decorator]
    def _after_each_job(_task: Any, _value: Any, _exc: BaseException | None) -> None:
        release_freed_memory()

    return {
        **backup_tasks.register(runtime),
        **restore_tasks.register(runtime),
        **policy_tasks.register(runtime),
    }

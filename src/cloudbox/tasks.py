"""Registers every domain's background tasks on the runtime's queue.

The API process (which enqueues) and the worker processes (which run) both call this, so
task names match on both sides.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from cloudbox.backups import tasks as backup_tasks
from cloudbox.policies import tasks as policy_tasks
from cloudbox.restores import tasks as restore_tasks

if TYPE_CHECKING:
    from cloudbox.runtime import Runtime


def install(runtime: Runtime) -> dict[str, Any]:
    return {
        **backup_tasks.register(runtime),
        **restore_tasks.register(runtime),
        **policy_tasks.register(runtime),
    }

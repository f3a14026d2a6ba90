"""Huey tasks of backup policies. Registered on the runtime's queue by `cloudbox.tasks`.

`cloudbox.policies.tick` is a periodic task (every minute) on every consumer that runs
periodic tasks: the embedded consumer threads of `cloudbox serve`, and each
`cloudbox worker`. However many tick, a slot fires once (see `scheduler`). With
CLOUDBOX_POLICY_SCHEDULER=false it is an ordinary task nothing enqueues by itself.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from huey import crontab

from cloudbox.policies import runner, scheduler, webhooks

if TYPE_CHECKING:
    from cloudbox.runtime import Runtime


def register(runtime: Runtime) -> dict[str, Any]:
    queue = runtime.queue

    def tick() -> None:
        scheduler.tick(runtime)

    if runtime.settings.policy_scheduler:
        tick_task = queue.periodic_task(crontab(), name="cloudbox.policies.tick")(tick)
    else:
        tick_task = queue.task(name="cloudbox.policies.tick")(tick)

    @queue.task(name="cloudbox.policies.backup")  # type: ignore[untyped-decorator]
    def policy_backup(backup_id: int) -> None:
        runner.run_policy_backup(runtime, backup_id)

    @queue.task(name="cloudbox.policies.webhook")  # type: ignore[untyped-decorator]
    def policy_webhook(project_id: int, delivery_id: str) -> None:
        attempt = webhooks.deliver(runtime, project_id, delivery_id)
        if attempt.retry_in is not None:
            policy_webhook.schedule(args=(project_id, delivery_id), delay=attempt.retry_in)

    return {
        "policy_tick": tick_task,
        "policy_backup": policy_backup,
        "policy_webhook": policy_webhook,
    }

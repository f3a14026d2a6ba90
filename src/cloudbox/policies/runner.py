"""What happens to a policy's backup: run it, then (in order, each only if the previous
step succeeded) verify it, drill-restore it, and apply the policy's retention. Failures
are recorded on the policy run and notified through the policy's webhook.

Runs as the `cloudbox.policies.backup` task, wrapping `backups.service.run_backup`, so the
backup job itself knows nothing of policies.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import datetime
from typing import TYPE_CHECKING, Any

from cloudbox.backups import service as backups
from cloudbox.backups.models import Backup
from cloudbox.db.types import utcnow
from cloudbox.policies import drill, service, webhooks
from cloudbox.policies import repository as repo
from cloudbox.policies.models import RUN_COMPLETED as COMPLETED
from cloudbox.policies.models import RUN_FAILED as FAILED
from cloudbox.policies.models import RUN_STARTED, BackupPolicy

if TYPE_CHECKING:
    from cloudbox.runtime import Runtime

log = logging.getLogger(__name__)

Clock = Callable[[], datetime]


def run_policy_backup(runtime: Runtime, backup_id: int, now: Clock = utcnow) -> None:
    backups.run_backup(runtime, backup_id)
    after_backup(runtime, backup_id, now)


def _backup_ref(backup: Backup) -> dict[str, Any]:
    return {
        "id": backup.id,
        "name": backup.name,
        "status": backup.status,
        "created_at": backup.created_at,
        "size": backup.size,
        "checksum": backup.checksum,
    }


def _finish(
    runtime: Runtime,
    backup_id: int,
    status: str,
    now: datetime,
    *,
    reason: str | None = None,
    message: str | None = None,
    details: dict[str, Any] | None = None,
    event: str | None = None,
    event_data: dict[str, Any] | None = None,
    drill_result: dict[str, Any] | None = None,
) -> None:
    """Record the outcome on the run (and the drill on the backup), queue the event."""
    delivery: str | None = None
    project_id = 0
    with runtime.db.transaction() as db:
        backup = db.get(Backup, backup_id)
        if backup is None:
            return
        project_id = backup.project_id
        run = repo.run_for_backup(db, backup_id, lock=True)
        if run is not None and run.status != RUN_STARTED:
            return  # finished already (by the job or by the tick's reconciliation)
        if drill_result is not None:
            backup.drill = drill_result
        if run is not None:
            run.status, run.reason, run.finished_at = status, reason, now
            run.message = message[:500] if message else None
            run.details = {**(run.details or {}), **(details or {})}
        policy = (
            db.get(BackupPolicy, (backup.project_id, backup.policy_id))
            if backup.policy_id
            else None
        )
        if event is not None and policy is not None:
            delivery = webhooks.queue_event(
                db, policy, event, {"backup": _backup_ref(backup), **(event_data or {})}, now
            )
    webhooks.enqueue(runtime, project_id, [delivery])


def after_backup(runtime: Runtime, backup_id: int, now: Clock = utcnow) -> None:
    with runtime.db.session() as db:
        backup = db.get(Backup, backup_id)
        if backup is None or backup.status == backups.STATUS_CREATING:
            return
        policy = (
            db.get(BackupPolicy, (backup.project_id, backup.policy_id))
            if backup.policy_id
            else None
        )
        status = backup.status
        error = {"code": backup.error_code, "message": backup.error_message}
        verify = policy is not None and policy.verify_after_backup
        do_drill = policy is not None and policy.restore_drill
        policy_id = policy.id if policy is not None else None
    if status != backups.STATUS_COMPLETED:
        cancelled = error["code"] == "BACKUP_CANCELLED"  # someone chose to: no alert
        _finish(
            runtime,
            backup_id,
            FAILED,
            now(),
            reason=error["code"] or "BACKUP_FAILED",
            message=error["message"],
            event=None if cancelled else webhooks.EVENT_BACKUP_FAILED,
            event_data={"error": error},
        )
        return
    if verify:
        with runtime.db.session() as db:
            row = db.get(Backup, backup_id)
        # the archive is read with no database transaction open
        report = backups.verify_stored(runtime.archives, row) if row is not None else None
        if report is None or not report.ok:
            problems = report.problems if report is not None else []
            _finish(
                runtime,
                backup_id,
                FAILED,
                now(),
                reason="VERIFY_FAILED",
                message="The new backup did not verify; retention did not run",
                details={"problems": problems[:20]},
                event=webhooks.EVENT_VERIFY_FAILED,
                event_data={"problems": problems[:20]},
            )
            return
        with runtime.db.transaction() as db:
            row = db.get(Backup, backup_id)
            if row is not None:
                row.verified_at = now()
    drill_result: dict[str, Any] | None = None
    if do_drill:
        result = drill.run(runtime, backup_id, now())
        drill_result = result.as_dict()
        if not result.ok:
            _finish(
                runtime,
                backup_id,
                FAILED,
                now(),
                reason="DRILL_FAILED",
                message="The restore drill of the new backup failed; retention did not run",
                details={"drill": drill_result},
                event=webhooks.EVENT_DRILL_FAILED,
                event_data={"drill": drill_result},
                drill_result=drill_result,
            )
            return
    pruned: list[service.Pruned] = []
    if policy_id is not None:
        try:
            pruned = service.apply_retention(runtime, policy_id, now())
        except Exception:
            log.exception("retention of policy %s failed", policy_id)
            _finish(
                runtime,
                backup_id,
                FAILED,
                now(),
                reason="RETENTION_FAILED",
                message="The backup completed but retention could not run",
                drill_result=drill_result,
            )
            return
    _finish(
        runtime,
        backup_id,
        COMPLETED,
        now(),
        details={
            "verified": verify,
            "pruned": [
                {"backup_id": p.backup_id, "size": p.size, "reason": p.reason} for p in pruned
            ],
        },
        drill_result=drill_result,
    )

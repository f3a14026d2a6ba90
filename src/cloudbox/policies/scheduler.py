"""The scheduler tick: once a minute (a Huey periodic task on every consumer), find the
policies whose slot is due and start their backups.

Exactly once per slot, whatever the number of workers ticking: each fired slot is a
`policy_runs` row with a unique `(policy_id, slot_time)`; the transaction whose insert
wins fires the slot, the others roll back and skip. A tick fires only the latest due
slot of a policy, so slots missed while nothing ran (server down) collapse into one run
at the first tick after start. A slot that finds a backup or restore running on the
project is recorded as `skipped`, not queued. The clock is a parameter, so tests can
walk through a simulated day without sleeping.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import TYPE_CHECKING

from sqlalchemy.exc import IntegrityError

from cloudbox.audit.service import SYSTEM
from cloudbox.backups import service as backups
from cloudbox.backups.errors import StorageFullError
from cloudbox.db.ids import new_id
from cloudbox.db.types import utcnow
from cloudbox.jobs import locks
from cloudbox.policies import cron, drill, runner, webhooks
from cloudbox.policies import repository as repo
from cloudbox.policies.models import (
    RUN_COMPLETED,
    RUN_FAILED,
    RUN_SKIPPED,
    RUN_STARTED,
    BackupPolicy,
    PolicyRun,
)

if TYPE_CHECKING:
    from cloudbox.runtime import Runtime

log = logging.getLogger(__name__)

Clock = Callable[[], datetime]
Enqueue = Callable[[int], None]

STARTED, SKIPPED, FAILED, COMPLETED = RUN_STARTED, RUN_SKIPPED, RUN_FAILED, RUN_COMPLETED


@dataclass(frozen=True)
class Fired:
    policy_id: str
    slot_time: datetime
    status: str
    backup_id: int | None = None
    reason: str | None = None


def backup_name(policy: BackupPolicy, slot: datetime) -> str:
    local = slot.astimezone(cron.zone(policy.timezone))
    return f"{policy.name} {local:%Y-%m-%d %H:%M} {policy.timezone}"[:200]


def _enqueue_backup(runtime: Runtime) -> Enqueue:
    def enqueue(backup_id: int) -> None:
        runtime.enqueue("policy_backup", backup_id)

    return enqueue


def fire(
    runtime: Runtime,
    project_id: int,
    policy_id: str,
    now: datetime,
    enqueue: Enqueue,
) -> Fired | None:
    """Fire the latest due slot of one policy, once across every process; None when it
    is not due (any more) or another tick fired it."""
    deliveries: list[str | None] = []
    with runtime.db.transaction() as db:
        policy = db.get(BackupPolicy, (project_id, policy_id))
        if (
            policy is None
            or not policy.enabled
            or policy.next_run_at is None
            or policy.next_run_at > now
        ):
            return None
        tz = cron.zone(policy.timezone)
        slot = max(cron.latest_slot(policy.schedule, tz, now), policy.next_run_at)
        run = PolicyRun(
            project_id=project_id,
            id=new_id(),
            policy_id=policy_id,
            slot_time=slot,
            status=STARTED,
            details={},
            created_at=now,
        )
        try:
            with db.begin_nested():
                db.add(run)
                db.flush()
        except IntegrityError:
            log.info("slot %s of policy %s was fired by another worker", slot, policy_id)
            return None
        policy.next_run_at = cron.next_slot(policy.schedule, tz, max(slot, now))
        policy.last_run_at = now
        holder = locks.holder(db, project_id)
        backup_id: int | None = None
        if holder is not None:
            _skip(run, holder.kind, holder.job_id, now)
        else:
            try:
                with db.begin_nested():
                    backup = backups.create(
                        db,
                        runtime,
                        project_id,
                        name=backup_name(policy, slot),
                        description=f"Automatic backup by policy {policy.name!r} ({policy.id})",
                        type="automatic",
                        actor=SYSTEM,
                        user_id=None,
                        policy_id=policy_id,
                    )
                    backup.created_at = now
                    db.flush()
                    backup_id = backup.id
                run.backup_id = backup_id
            except locks.JobInProgress:
                current = locks.holder(db, project_id)
                _skip(
                    run, current.kind if current else "job", current.job_id if current else 0, now
                )
            except StorageFullError as exc:
                run.status, run.reason, run.finished_at = FAILED, exc.code, now
                run.message = exc.message[:500]
                deliveries.append(
                    webhooks.queue_event(
                        db,
                        policy,
                        webhooks.EVENT_BACKUP_FAILED,
                        {
                            "slot_time": slot,
                            "backup": None,
                            "error": {"code": exc.code, "message": exc.message},
                        },
                        now,
                    )
                )
            except Exception:
                # anything else would fail this slot again at every tick: record it once
                log.exception("policy %s could not start its backup", policy_id)
                run.status, run.reason, run.finished_at = FAILED, "BACKUP_FAILED", now
                run.message = "The backup could not be started; the server log has details"
        fired = Fired(policy_id, slot, run.status, backup_id, run.reason)
    webhooks.enqueue(runtime, project_id, deliveries)
    if backup_id is not None:
        try:
            enqueue(backup_id)
        except Exception:
            log.exception("could not queue the backup of policy %s", policy_id)
            backups._fail(runtime, backup_id, "BACKUP_FAILED", "The job queue is unavailable")
    return fired


def _skip(run: PolicyRun, kind: str, job_id: int, now: datetime) -> None:
    run.status, run.reason, run.finished_at = SKIPPED, "JOB_IN_PROGRESS", now
    run.message = f"A {kind} was running on the project; this slot was skipped"
    run.details = {"running": {"kind": kind, "id": job_id}}


def check_stale(runtime: Runtime, now: datetime) -> list[str]:
    """Notify once per staleness: when a watched project's newest completed backup (or
    the policy itself, if there is none) is older than the policy's threshold."""
    notified: list[str] = []
    with runtime.db.session() as db:
        watched = [
            (p.project_id, p.id, p.stale_after_hours, p.stale_notified_at, p.created_at)
            for p in repo.watched_policies(db)
        ]
    for project_id, policy_id, hours, notified_at, created_at in watched:
        assert hours is not None
        with runtime.db.session() as db:
            newest = repo.newest_completed_at(db, project_id)
        reference = newest or created_at
        if now - reference <= timedelta(hours=hours):
            continue
        if notified_at is not None and notified_at >= reference:
            continue
        with runtime.db.transaction() as db:
            policy = db.get(BackupPolicy, (project_id, policy_id))
            if policy is None or not repo.claim_stale_notice(db, policy, reference, now):
                continue
            delivery = webhooks.queue_event(
                db,
                policy,
                webhooks.EVENT_STALE,
                {
                    "newest_completed_backup_at": newest,
                    "stale_after_hours": hours,
                    "age_hours": round((now - reference).total_seconds() / 3600, 1),
                },
                now,
            )
        webhooks.enqueue(runtime, project_id, [delivery])
        notified.append(policy_id)
    return notified


def reconcile(runtime: Runtime, now: datetime) -> list[int]:
    """Finish runs whose backup failed without its job saying so (a worker that died is
    failed by the backups' recovery): they are recorded and notified like any failure."""
    with runtime.db.session() as db:
        orphans = repo.started_runs_with_failed_backup(db)
    for backup_id in orphans:
        runner.after_backup(runtime, backup_id, lambda: now)
    return orphans


def housekeeping(runtime: Runtime, now: datetime) -> None:
    """Hourly: forget old run and delivery history, remove abandoned drill projects."""
    with runtime.db.transaction() as db:
        repo.prune_history(db, now - timedelta(days=runtime.settings.policy_history_days))
    drill.clean_abandoned(runtime, now)


def tick(
    runtime: Runtime,
    now: Clock = utcnow,
    enqueue: Enqueue | None = None,
) -> list[Fired]:
    """One scheduler pass. Each policy is handled on its own: one failing never stops
    the others."""
    current = now()
    start = enqueue or _enqueue_backup(runtime)
    with runtime.db.session() as db:
        due = list(repo.due_policies(db, current))
    fired: list[Fired] = []
    for project_id, policy_id in due:
        try:
            result = fire(runtime, project_id, policy_id, current, start)
        except Exception:
            log.exception("policy %s could not fire", policy_id)
            continue
        if result is not None:
            fired.append(result)
    try:
        reconcile(runtime, current)
    except Exception:
        log.exception("reconciling policy runs failed")
    try:
        check_stale(runtime, current)
    except Exception:
        log.exception("stale-backup check failed")
    if current.minute == 0:
        try:
            housekeeping(runtime, current)
        except Exception:
            log.exception("policy housekeeping failed")
    return fired

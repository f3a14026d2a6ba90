"""Restore use cases: start (validate, lock, queue), run (the job), undo, recover.

Only the job and recovery own transactions; the request-side functions never commit.
"""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Callable
from datetime import timedelta
from typing import TYPE_CHECKING, Any

from sqlalchemy import Select, select, update
from sqlalchemy.orm import Session

from cloudbox.archive import InvalidArchive, UnsupportedVersion, VerifiedArchive
from cloudbox.audit import service as audit
from cloudbox.audit.service import SYSTEM, Actor
from cloudbox.backups import service as backups
from cloudbox.backups.errors import BackupIncomplete
from cloudbox.backups.models import Backup
from cloudbox.blobstore import StorageFull
from cloudbox.db.query import rowcount
from cloudbox.db.types import utcnow
from cloudbox.errors import AppError
from cloudbox.jobs import locks
from cloudbox.jobs.progress import Cancelled, Progress, Reporter
from cloudbox.projects.models import Project
from cloudbox.restores import restorer
from cloudbox.restores.errors import (
    InvalidArchiveError,
    NotUndoable,
    RestoreFailed,
    RestoreInProgress,
    RestoreNotFound,
    UnsupportedVersionError,
)
from cloudbox.restores.models import Restore

if TYPE_CHECKING:
    from cloudbox.runtime import Runtime

log = logging.getLogger(__name__)

PENDING, RUNNING, COMPLETED, FAILED = "pending", "running", "completed", "failed"
LOCK_KIND = "restore"


def get(db: Session, restore_id: int) -> Restore:
    row = db.get(Restore, restore_id)
    if row is None:
        raise RestoreNotFound()
    return row


def list_query(project_id: int) -> Select[Restore]:
    return select(Restore).where(Restore.target_project_id == project_id)


def refuse_writes_during_restore(db: Session, project_id: int) -> None:
    """Called by every mutating project request: while a restore holds the project, writes
    get 409 RESTORE_IN_PROGRESS instead of being acknowledged and then lost."""
    holder = locks.holder(db, project_id)
    if holder is not None and holder.kind == LOCK_KIND:
        raise RestoreInProgress(details={"restore_id": holder.job_id})


def start(
    db: Session,
    backup: Backup,
    target_project_id: int,
    *,
    options: dict[str, Any],
    actor: Actor,
    undo_of: int | None = None,
) -> Restore:
    """Validate and insert the restore row (`pending`), taking the target's job lock unless
    this is a dry run. The caller commits and then enqueues the job."""
    if backup.status != backups.STATUS_COMPLETED:
        raise BackupIncomplete(details={"backup_status": backup.status})
    dry_run = bool(options.get("dry_run"))
    row = Restore(
        backup_id=backup.id,
        # An imported archive comes from another server (or another time): its project is
        # never "this" project, so credentials arrive disabled unless asked otherwise.
        source_project_id=backup.project_id if backup.origin == "backup" else 0,
        target_project_id=target_project_id,
        status=PENDING,
        dry_run=dry_run,
        options=options,
        phase="queued",
        items_done=0,
        items_total=0,
        bytes_done=0,
        bytes_total=0,
        plan={},
        warnings=[],
        undo_of=undo_of,
        created_by_actor=backups.actor_dict(actor),
    )
    if not dry_run and locks.holder(db, target_project_id) is not None:
        raise locks.JobInProgress()
    db.add(row)
    db.flush()
    if not dry_run:
        locks.acquire(db, target_project_id, LOCK_KIND, row.id)
    return row


def undo(db: Session, original: Restore, actor: Actor) -> Restore:
    if original.status != COMPLETED or original.dry_run or original.pre_restore_backup_id is None:
        raise NotUndoable()
    backup = db.get(Backup, original.pre_restore_backup_id)
    if backup is None:
        raise NotUndoable("The pre-restore backup of this restore was deleted")
    options = {
        "sections": original.options.get("sections"),
        "dry_run": False,
        "pre_restore_backup": False,
        "keep_credentials_active": True,
    }
    return start(
        db, backup, original.target_project_id, options=options, actor=actor, undo_of=original.id
    )


# -- the job ---------------------------------------------------------------------------


def run_restore(runtime: Runtime, restore_id: int) -> None:
    try:
        _run_restore(runtime, restore_id)
    except Exception:
        # An error the job could not record itself (claiming or reading its row, or
        # recording its own failure): fail the row now instead of leaving it `pending` or
        # `running` for recovery, while a synchronous restore request waits on it.
        log.exception("restore %s failed outside its guarded body", restore_id)
        _fail(
            runtime,
            restore_id,
            "RESTORE_FAILED",
            "The restore failed; the target project is unchanged",
        )


def _run_restore(runtime: Runtime, restore_id: int) -> None:
    db = runtime.db
    with db.transaction() as session:
        claimed = rowcount(
            session.execute(
                update(Restore)
                .where(Restore.id == restore_id, Restore.status == PENDING)
                .values(
                    status=RUNNING, phase="starting", started_at=utcnow(), heartbeat_at=utcnow()
                )
            )
        )
    if not claimed:
        return
    with db.session() as session:
        row = get(session, restore_id)
        backup = session.get(Backup, row.backup_id) if row.backup_id else None
        if backup is None or backup.status != backups.STATUS_COMPLETED or not backup.checksum:
            _fail(runtime, restore_id, "RESTORE_FAILED", "The backup is no longer available")
            return
        key, checksum, size = backup.file_path, backup.checksum, backup.size or 0
        limits = backups.archive_limits_for(backup.origin)
        target, source, options, dry_run = (
            row.target_project_id,
            row.source_project_id,
            dict(row.options),
            row.dry_run,
        )

    # pass 1 reads the whole archive; pass 2 only its sections (at most the whole again)
    progress = Progress(
        phase="starting",
        bytes_total=size * (1 if dry_run else 2),
        max_bytes_per_second=runtime.settings.job_max_bytes_per_second,
    )

    def flush(values: dict[str, int | str]) -> bool:
        with db.transaction() as session:
            session.execute(
                update(Restore)
                .where(Restore.id == restore_id, Restore.status == RUNNING)
                .values(**values, heartbeat_at=utcnow())
            )
        return False

    try:
        with Reporter(progress, flush, runtime.settings.job_progress_interval_seconds) as reporter:
            ctx = restorer.RestoreContext(
                target_project_id=target,
                source_project_id=source,
                sections=restorer.effective_sections(options.get("sections")),
                keep_credentials_active=bool(options.get("keep_credentials_active")),
                key_fingerprint=runtime.secrets.fingerprint,
                progress=progress,
                check_cancelled=reporter.check_cancelled,
                limits=limits,
            )
            with db.session() as read:

                def pass_one(
                    ctx: restorer.RestoreContext,
                    plan: restorer.RestorePlan,
                    planned: Callable[[str], None],
                    show_phase: bool,
                ) -> tuple[VerifiedArchive, restorer.RestorePlan]:
                    return restorer.verify_and_stage(
                        read,
                        runtime.archives,
                        key,
                        checksum,
                        runtime.blobs,
                        ctx,
                        stage=not dry_run,
                        plan=plan,
                        planned=planned,
                        show_phase=show_phase,
                    )

                verification = restorer.Verification(pass_one, ctx)
                pre_restore_backup = options.get("pre_restore_backup", True)
                try:
                    # A pre-restore backup is taken only of a restore whose archive is
                    # proven; without one, the proof runs beside the apply (restorer.py).
                    if dry_run or pre_restore_backup:
                        verification.run()
                    else:
                        verification.start()
                    if dry_run:
                        _complete(runtime, restore_id, verification.plan, {}, None)
                        return
                    pre_backup_id = None
                    if pre_restore_backup:
                        progress.update(phase="pre-restore backup")
                        pre_backup_id = _pre_restore_backup(runtime, target, restore_id)
                    # Show the phase before the write transaction starts: on SQLite it
                    # holds the only write lock, so the reporter pauses until the commit
                    # (a flush could only wait out the busy timeout and fail).
                    progress.update(phase="apply")
                    with contextlib.suppress(Exception):
                        flush(progress.snapshot())
                    write_lock_held = (
                        reporter.paused() if db.is_sqlite else contextlib.nullcontext()
                    )
                    with write_lock_held, db.bulk_transaction() as session:
                        _lock_project_row(session, target)
                        inserted = restorer.apply(
                            session, runtime.archives, key, verification, runtime.blobs, ctx
                        )
                        plan = verification.plan
                        restorer.check_counts(session, plan, inserted, ctx)
                        _finish(session, restore_id, plan, inserted, pre_backup_id)
                finally:
                    verification.close()
                    read.rollback()
    except (InvalidArchive, UnsupportedVersion) as exc:
        code = (
            "UNSUPPORTED_BACKUP_VERSION"
            if isinstance(exc, UnsupportedVersion)
            else "INVALID_ARCHIVE"
        )
        _fail(runtime, restore_id, code, exc.reason)
    except AppError as exc:
        _fail(runtime, restore_id, exc.code, exc.message, exc.details)
    except StorageFull:
        _fail(runtime, restore_id, "STORAGE_FULL", "The blob storage ran out of space")
    except Cancelled:
        _fail(runtime, restore_id, "RESTORE_FAILED", "The restore was cancelled")
    except Exception:
        log.exception("restore %s failed", restore_id)
        _fail(
            runtime,
            restore_id,
            "RESTORE_FAILED",
            "The restore failed; the target project is unchanged",
        )


def _lock_project_row(session: Session, project_id: int) -> None:
    """Wait for in-flight writes to the target to commit, and hold new ones off until the
    restore commits (PostgreSQL; SQLite's write transaction already serialises)."""
    session.execute(select(Project.id).where(Project.id == project_id).with_for_update())


def _pre_restore_backup(runtime: Runtime, project_id: int, restore_id: int) -> int:
    backup_id = create_pre_restore_backup(runtime, project_id, restore_id)
    backups.run_backup(runtime, backup_id)
    with runtime.db.session() as session:
        done = session.get(Backup, backup_id)
        if done is None or done.status != backups.STATUS_COMPLETED:
            raise RestoreFailed(
                "Could not snapshot the target before restoring; nothing was changed"
            )
    return backup_id


def create_pre_restore_backup(runtime: Runtime, project_id: int, restore_id: int) -> int:
    """The row of the restore's own snapshot, which this job runs at once. It starts with
    a heartbeat, not as queued: if the process dies before the backup starts, recovery
    fails it after the heartbeat timeout like any interrupted job, instead of waiting
    the queue timeout (an hour by default) for a job no queue holds."""
    with runtime.db.transaction() as session:
        row = backups.create(
            session,
            runtime,
            project_id,
            name=f"pre-restore (restore #{restore_id})",
            description="Automatic snapshot taken before a restore, so it can be undone",
            type="pre-restore",
            actor=SYSTEM,
            user_id=None,
            take_lock=False,
        )
        row.heartbeat_at = utcnow()
        backup_id = row.id
        session.execute(
            update(Restore).where(Restore.id == restore_id).values(pre_restore_backup_id=backup_id)
        )
    return backup_id


def _actor(row: Restore) -> Actor:
    data = row.created_by_actor or {}
    return Actor(type=str(data.get("type", "system")), id=data.get("id"), email=data.get("email"))


def _finish(
    session: Session,
    restore_id: int,
    plan: restorer.RestorePlan,
    inserted: dict[str, int],
    pre_backup_id: int | None,
) -> None:
    row = session.get(Restore, restore_id, with_for_update=True)
    if row is None or row.status != RUNNING:
        # recovery declared this job dead meanwhile: roll the whole restore back
        raise RestoreFailed("The restore was interrupted; the target project is unchanged")
    row.status = COMPLETED
    row.phase = "completed"
    row.plan = plan.as_dict()
    row.warnings = plan.warnings
    row.completed_at = utcnow()
    row.heartbeat_at = utcnow()
    row.pre_restore_backup_id = pre_backup_id
    if not row.dry_run:
        locks.release(session, row.target_project_id, LOCK_KIND, row.id)
        details = {
            "backup_id": row.backup_id,
            "source_project_id": row.source_project_id,
            "inserted": inserted,
            "warnings": len(plan.warnings),
        }
        for project_id in {row.target_project_id, row.source_project_id}:
            if session.get(Project, project_id) is None:
                continue
            audit.record(
                session,
                project_id,
                action="restores.completed",
                resource="restores",
                resource_id=str(row.id),
                actor=_actor(row),
                details={**details, "target_project_id": row.target_project_id},
            )


def _complete(
    runtime: Runtime,
    restore_id: int,
    plan: restorer.RestorePlan,
    inserted: dict[str, int],
    pre_backup_id: int | None,
) -> None:
    with runtime.db.transaction() as session:
        _finish(session, restore_id, plan, inserted, pre_backup_id)


def _fail(
    runtime: Runtime,
    restore_id: int,
    code: str,
    message: str,
    details: dict[str, Any] | None = None,
    *,
    heartbeat_at: Any = ...,
) -> bool:
    """Mark the restore failed and release its lock; with `heartbeat_at`, only if the
    heartbeat has not moved since the caller looked (recovery)."""
    with runtime.db.transaction() as session:
        row = session.get(Restore, restore_id, with_for_update=True)
        if row is None or row.status not in (PENDING, RUNNING):
            return False
        if heartbeat_at is not ... and row.heartbeat_at != heartbeat_at:
            return False
        row.status = FAILED
        row.phase = "failed"
        row.error_code = code
        row.error_message = message[:500]
        row.completed_at = utcnow()
        if details:
            row.warnings = [*row.warnings, {"code": code, "details": details}]
        if not row.dry_run:
            locks.release(session, row.target_project_id, LOCK_KIND, row.id)
        audit.record(
            session,
            row.target_project_id,
            action="restores.failed",
            resource="restores",
            resource_id=str(row.id),
            actor=_actor(row),
            success=False,
            error_code=code,
            details={"backup_id": row.backup_id, "message": message[:200]},
        )
    return True


def recover(runtime: Runtime) -> list[int]:
    """Fail restores whose worker died; their transaction never committed, so the target
    is as it was. Releases the lock."""
    settings = runtime.settings
    now = utcnow()
    stale = now - timedelta(seconds=settings.job_heartbeat_timeout_seconds)
    queued_too_long = now - timedelta(seconds=settings.job_queue_timeout_seconds)
    recovered: list[int] = []
    with runtime.db.session() as session:
        candidates = session.execute(
            select(Restore.id, Restore.status, Restore.heartbeat_at, Restore.created_at).where(
                Restore.status.in_((PENDING, RUNNING))
            )
        ).all()
    for restore_id, status, heartbeat_at, created_at in candidates:
        if status == RUNNING and heartbeat_at is not None and heartbeat_at >= stale:
            continue
        if status == PENDING and created_at >= queued_too_long:
            continue
        message = "The restore was interrupted; the target project is unchanged"
        if _fail(runtime, restore_id, "RESTORE_INTERRUPTED", message, heartbeat_at=heartbeat_at):
            recovered.append(restore_id)
    if recovered:
        log.warning("marked interrupted restores as failed: %s", recovered)
    return recovered


def error_of(row: Restore) -> AppError:
    """The error a failed restore answers over HTTP (synchronous restore)."""
    from cloudbox.restores.errors import STATUS_OF

    status = STATUS_OF.get(row.error_code or "", 500)
    error = AppError(
        row.error_message or "The restore failed",
        code=row.error_code or "RESTORE_FAILED",
        status=status,
    )
    error.details = {"restore_id": row.id}
    return error


__all__ = [
    "InvalidArchiveError",
    "UnsupportedVersionError",
    "refuse_writes_during_restore",
]

"""Backup use cases: create (queue), run (stream the archive), cancel, delete, verify,
recover interrupted jobs. Knows nothing of HTTP; never commits — except `run_backup` and
`recover`, which are jobs and own their transactions."""

from __future__ import annotations

import hashlib
import logging
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import timedelta
from typing import TYPE_CHECKING, Any

from sqlalchemy import Select, func, select, update
from sqlalchemy.orm import Session

from cloudbox.archive import (
    BACKUP_VERSION,
    ArchiveLimits,
    ArchiveReader,
    InvalidArchive,
    UnsupportedVersion,
    VerifiedArchive,
    verify_archive,
)
from cloudbox.audit import service as audit
from cloudbox.audit.service import SYSTEM, Actor
from cloudbox.backups.archiver import plan, snapshot, write_project
from cloudbox.backups.errors import (
    BackupBusy,
    BackupNotFound,
    InvalidArchiveError,
    NotCancellable,
    StorageFullError,
    UnsupportedVersionError,
)
from cloudbox.backups.models import Backup
from cloudbox.backups.sections import SECTION_SPECS, SPECS_BY_NAME, blob_query, decode_row
from cloudbox.backups.streams import reader_over
from cloudbox.blobstore import BlobNotFound, ObjectStore, StorageFull
from cloudbox.collections.service import MAX_DATA_DEPTH
from cloudbox.config import Settings
from cloudbox.db.query import rowcount
from cloudbox.db.types import utcnow
from cloudbox.jobs import locks
from cloudbox.jobs.progress import Cancelled, Progress, Reporter
from cloudbox.projects.models import Project

if TYPE_CHECKING:
    from cloudbox.runtime import Runtime

log = logging.getLogger(__name__)

USER_TYPES = ("manual", "automatic")
STATUS_CREATING, STATUS_COMPLETED, STATUS_FAILED = "creating", "completed", "failed"
#: headroom kept free on the archive volume beyond the estimate
FREE_SPACE_RESERVE = 64 * 2**20


def archive_limits_for(origin: str) -> ArchiveLimits:
    """Archives this server wrote are trusted to be as compressible as their data was (a
    project of zeros compresses 1000:1); uploaded ones are held to the bomb limits, at
    import and every time they are read again."""
    # A document may nest MAX_DATA_DEPTH levels; its archive row wraps it once more.
    depth = MAX_DATA_DEPTH + 2
    if origin == "backup":
        return ArchiveLimits(max_ratio=1e12, max_json_depth=depth)
    return ArchiveLimits(max_json_depth=depth)


def archive_key(project_id: int, backup_id: int) -> str:
    """The storage key, in the spec's `file_path` shape."""
    return f"backups/backup-{project_id}-{backup_id}.tar.gz"


def actor_dict(actor: Actor) -> dict[str, Any]:
    return {"type": actor.type, "id": actor.id, "email": actor.email}


def actor_from(row: Backup) -> Actor:
    data = row.created_by_actor or {}
    return Actor(type=str(data.get("type", "system")), id=data.get("id"), email=data.get("email"))


def get(db: Session, backup_id: int) -> Backup:
    row = db.get(Backup, backup_id)
    if row is None:
        raise BackupNotFound()
    return row


def list_query(project_id: int) -> Select[Backup]:
    return select(Backup).where(Backup.project_id == project_id)


def estimate_bytes(db: Session, project_id: int) -> int:
    """An upper bound of the archive's size: every distinct blob uncompressed plus rows."""
    blob_bytes = sum(int(size) for _, size in db.execute(blob_query(project_id)))
    documents = db.scalar(
        select(func.count())
        .select_from(Backup.metadata.tables["documents"])
        .where(Backup.metadata.tables["documents"].c.project_id == project_id)
    )
    return blob_bytes + int(documents or 0) * 300 + 2**20


def check_storage(
    db: Session, archives: ObjectStore, project_id: int, estimate: int, quota: int
) -> None:
    free = archives.free_bytes()
    if free is not None and free < estimate + FREE_SPACE_RESERVE:
        raise StorageFullError(details={"needed_bytes": estimate, "available_bytes": free})
    if quota:
        used = int(
            db.scalar(
                select(func.coalesce(func.sum(Backup.size), 0)).where(
                    Backup.project_id == project_id, Backup.status == STATUS_COMPLETED
                )
            )
            or 0
        )
        if used + estimate > quota:
            raise StorageFullError(
                "The project's backup quota would be exceeded",
                details={"quota_bytes": quota, "used_bytes": used, "needed_bytes": estimate},
            )


def create(
    db: Session,
    runtime: Runtime,
    project_id: int,
    *,
    name: str,
    description: str,
    type: str,
    actor: Actor,
    user_id: int | None,
    policy_id: str | None = None,
    take_lock: bool = True,
) -> Backup:
    """Insert the backup row (`creating`) and take the project's job lock; the caller
    commits and then enqueues the job. A restore snapshotting its target first already
    holds the lock (`take_lock=False`)."""
    if take_lock and locks.holder(db, project_id) is not None:
        raise locks.JobInProgress()
    estimate = estimate_bytes(db, project_id)
    check_storage(db, runtime.archives, project_id, estimate, runtime.settings.backup_quota_bytes)
    row = Backup(
        project_id=project_id,
        name=name,
        description=description,
        type=type,
        origin="backup",
        status=STATUS_CREATING,
        file_path="",
        backup_version=BACKUP_VERSION,
        created_by=user_id,
        created_by_actor=actor_dict(actor),
        phase="queued",
        items_done=0,
        items_total=0,
        bytes_done=0,
        bytes_total=estimate,
        cancel_requested=False,
        sections={},
        source_project_id=project_id,
        policy_id=policy_id,
    )
    db.add(row)
    db.flush()
    row.file_path = archive_key(project_id, row.id)
    if take_lock:
        locks.acquire(db, project_id, "backup", row.id)
    db.flush()
    return row


def cancel(db: Session, row: Backup) -> Backup:
    if row.status != STATUS_CREATING:
        raise NotCancellable()
    row.cancel_requested = True
    if row.phase == "queued":
        _finish_failed(db, row, "BACKUP_CANCELLED", "The backup was cancelled")
    db.flush()
    return row


def delete(db: Session, row: Backup) -> str:
    """Delete the row; the caller commits, then removes the returned archive key."""
    if row.status == STATUS_CREATING:
        raise BackupBusy()
    key = row.file_path
    db.delete(row)
    db.flush()
    return key


def remove_archive(archives: ObjectStore, key: str) -> None:
    try:
        archives.delete(key)
    except Exception:
        log.exception("could not delete archive %s", key)


@dataclass(frozen=True)
class VerifyReport:
    ok: bool
    checked_members: int
    problems: list[dict[str, str]]
    sha256: str | None
    size: int | None


def verify_stored(archives: ObjectStore, row: Backup) -> VerifyReport:
    """Re-read the stored archive: whole-archive checksum, every member's SHA-256 and
    size, every row count, every safety rule of the reader."""
    problems: list[dict[str, str]] = []
    try:
        with reader_over(iter(archives.open(row.file_path))) as source:
            verified = verify_archive(source, archive_limits_for(row.origin))
    except BlobNotFound:
        return VerifyReport(
            False,
            0,
            [{"code": "ARCHIVE_MISSING", "message": "The archive file is missing"}],
            None,
            None,
        )
    except UnsupportedVersion as exc:
        return VerifyReport(False, 0, [{"code": exc.code, "message": exc.reason}], None, None)
    except InvalidArchive as exc:
        return VerifyReport(
            False, 0, [{"code": "INVALID_ARCHIVE", "message": exc.reason}], None, None
        )
    expected = (row.checksum or "").removeprefix("sha256:")
    if verified.sha256 != expected:
        problems.append(
            {
                "code": "CHECKSUM_MISMATCH",
                "message": "The archive's SHA-256 differs from the recorded checksum",
            }
        )
    if row.size is not None and verified.size != row.size:
        problems.append(
            {
                "code": "SIZE_MISMATCH",
                "message": "The archive's size differs from the recorded size",
            }
        )
    members = len(verified.manifest.get("members", [])) + 1
    return VerifyReport(not problems, members, problems, verified.sha256, verified.size)


# -- the job ---------------------------------------------------------------------------


def _finish_failed(db: Session, row: Backup, code: str, message: str) -> None:
    row.status = STATUS_FAILED
    row.error_code = code
    row.error_message = message[:500]
    row.completed_at = utcnow()
    row.phase = "failed"
    locks.release(db, row.project_id, "backup", row.id)
    audit.record(
        db,
        row.project_id,
        action="backups.failed",
        resource="backups",
        resource_id=str(row.id),
        actor=SYSTEM,
        success=False,
        error_code=code,
        details={"name": row.name, "message": message[:200]},
    )


def run_backup(runtime: Runtime, backup_id: int) -> None:
    """The background job: stream the project into its archive and finish the row."""
    db = runtime.db
    with db.transaction() as session:
        claimed = rowcount(
            session.execute(
                update(Backup)
                .where(
                    Backup.id == backup_id,
                    Backup.status == STATUS_CREATING,
                    Backup.cancel_requested.is_(False),
                )
                .values(phase="starting", started_at=utcnow(), heartbeat_at=utcnow())
            )
        )
    if not claimed:
        log.info("backup %s is no longer waiting; skipping", backup_id)
        return
    with db.session() as session:
        row = get(session, backup_id)
        project_id, key = row.project_id, row.file_path
        project = session.get(Project, project_id)
        project_name = project.name if project else ""
        backup_type = row.type

    progress = Progress(
        phase="starting", max_bytes_per_second=runtime.settings.job_max_bytes_per_second
    )

    def flush(values: dict[str, int | str]) -> bool:
        with db.transaction() as session:
            session.execute(
                update(Backup)
                .where(Backup.id == backup_id, Backup.status == STATUS_CREATING)
                .values(**values, heartbeat_at=utcnow())
            )
            cancel = session.scalar(select(Backup.cancel_requested).where(Backup.id == backup_id))
        return bool(cancel)

    try:
        with Reporter(progress, flush, runtime.settings.job_progress_interval_seconds) as reporter:
            now = utcnow()
            with snapshot(db) as conn:
                archive_plan = plan(conn, project_id, now)
                progress.update(
                    items_total=archive_plan.items_total, bytes_total=archive_plan.bytes_estimate
                )
                metadata = {
                    "project_id": project_id,
                    "project_name": project_name,
                    "created_at": now.isoformat().replace("+00:00", "Z"),
                    "backup_type": backup_type,
                    "backup_id": backup_id,
                }
                with runtime.archives.writer(key) as out:
                    result = write_project(
                        conn,
                        project_id,
                        out,
                        blobs=runtime.blobs,
                        metadata=metadata,
                        key_fingerprint=runtime.secrets.fingerprint,
                        now=now,
                        progress=progress,
                        check_cancelled=reporter.check_cancelled,
                        compresslevel=runtime.settings.backup_compresslevel,
                        threads=runtime.settings.backup_threads,
                    )
    except Cancelled:
        _fail(runtime, backup_id, "BACKUP_CANCELLED", "The backup was cancelled")
        return
    except StorageFull:
        _fail(runtime, backup_id, "STORAGE_FULL", "The backup storage ran out of space")
        return
    except Exception:
        log.exception("backup %s failed", backup_id)
        _fail(runtime, backup_id, "BACKUP_FAILED", "The backup failed; the server log has details")
        return
    with db.transaction() as session:
        row = get(session, backup_id)
        if row.status != STATUS_CREATING:  # recovered as interrupted meanwhile
            remove_archive(runtime.archives, key)
            return
        if row.cancel_requested:  # a cancel that arrived before completion wins
            _finish_failed(session, row, "BACKUP_CANCELLED", "The backup was cancelled")
            remove_archive(runtime.archives, key)
            return
        row.status = STATUS_COMPLETED
        row.size = result.size
        row.checksum = f"sha256:{result.sha256}"
        row.completed_at = utcnow()
        row.phase = "completed"
        row.sections = dict(result.sections)
        row.items_done = row.items_total = archive_plan.items_total
        row.bytes_done = row.bytes_total = max(progress.bytes_done, 1)
        row.heartbeat_at = utcnow()
        locks.release(session, project_id, "backup", backup_id)
        audit.record(
            session,
            project_id,
            action="backups.completed",
            resource="backups",
            resource_id=str(backup_id),
            actor=SYSTEM,
            details={"name": row.name, "size": result.size, "checksum": row.checksum},
        )


def _fail(runtime: Runtime, backup_id: int, code: str, message: str) -> None:
    with runtime.db.transaction() as session:
        row = session.get(Backup, backup_id)
        if row is not None and row.status == STATUS_CREATING:
            _finish_failed(session, row, code, message)


# -- recovery --------------------------------------------------------------------------


#: S3 reports when a multipart upload *started*, not when it was last written to, so a
#: running upload on another machine can look old: only much older ones are abandoned.
S3_PARTIAL_UPLOAD_AGE = timedelta(hours=24)


def partial_archive_age(settings: Settings) -> timedelta:
    """How old a temporary archive must be before recovery removes it. Local temp files
    are touched by every write, so a dead job's stops ageing at its last heartbeat."""
    heartbeat = timedelta(seconds=settings.job_heartbeat_timeout_seconds)
    return heartbeat if settings.storage == "local" else max(heartbeat, S3_PARTIAL_UPLOAD_AGE)


def recover(runtime: Runtime) -> list[int]:
    """Fail backups whose worker died (stale heartbeat) or that waited in the queue too
    long, release their locks and remove partial archives. Safe to run from many
    processes at once: each row is claimed by a conditional UPDATE."""
    settings = runtime.settings
    now = utcnow()
    stale = now - timedelta(seconds=settings.job_heartbeat_timeout_seconds)
    queued_too_long = now - timedelta(seconds=settings.job_queue_timeout_seconds)
    recovered: list[int] = []
    with runtime.db.session() as session:
        candidates = session.execute(
            select(Backup.id, Backup.heartbeat_at, Backup.created_at).where(
                Backup.status == STATUS_CREATING
            )
        ).all()
    for backup_id, heartbeat_at, created_at in candidates:
        if heartbeat_at is not None and heartbeat_at >= stale:
            continue
        if heartbeat_at is None and created_at >= queued_too_long:
            continue
        with runtime.db.transaction() as session:
            row = session.get(Backup, backup_id, with_for_update=True)
            # the heartbeat must not have moved since we looked: the job may have resumed
            if row is None or row.status != STATUS_CREATING or row.heartbeat_at != heartbeat_at:
                continue
            _finish_failed(
                session,
                row,
                "BACKUP_INTERRUPTED",
                "The backup was interrupted (its worker stopped); create a new one",
            )
            key = row.file_path
        remove_archive(runtime.archives, key)
        recovered.append(backup_id)
    # Every pass, not only one that failed a backup: a dead job's partial file may still
    # have been younger than the age limit when its row was failed (its last writes
    # follow its last heartbeat), and no later pass would look at it again.
    try:
        runtime.archives.purge_stale_temp(partial_archive_age(settings))
    except Exception:
        log.exception("could not purge partial archives")
    if recovered:
        log.warning("marked interrupted backups as failed: %s", recovered)
    return recovered


# -- import ----------------------------------------------------------------------------


def start_import(
    runtime: Runtime,
    project_id: int,
    *,
    name: str,
    description: str,
    actor: Actor,
    user_id: int | None,
    expected_bytes: int | None,
) -> Backup:
    """Insert the row an uploaded archive will become (status `creating`, phase
    `uploading`) in its own transaction, so the upload holds no database lock."""
    if expected_bytes is not None:
        check_storage_for(runtime, project_id, expected_bytes)
    with runtime.db.transaction() as db:
        row = Backup(
            project_id=project_id,
            name=name,
            description=description,
            type="manual",
            origin="import",
            status=STATUS_CREATING,
            file_path="",
            backup_version=BACKUP_VERSION,
            created_by=user_id,
            created_by_actor=actor_dict(actor),
            phase="uploading",
            items_done=0,
            items_total=0,
            bytes_done=0,
            bytes_total=expected_bytes or 0,
            cancel_requested=False,
            sections={},
            heartbeat_at=utcnow(),
        )
        db.add(row)
        db.flush()
        row.file_path = archive_key(project_id, row.id)
    return row


def check_storage_for(runtime: Runtime, project_id: int, nbytes: int) -> None:
    with runtime.db.session() as db:
        check_storage(db, runtime.archives, project_id, nbytes, runtime.settings.backup_quota_bytes)


def store_upload(
    archives: ObjectStore,
    key: str,
    chunks: Iterable[bytes],
    heartbeat: Callable[[int], None] | None = None,
    interval: float = 5.0,
) -> tuple[str, int]:
    """Stream the upload into the archive area; the object appears only when complete.
    `heartbeat(bytes so far)` is called every `interval` seconds, so recovery does not
    mistake a long upload for a dead job."""
    digest = hashlib.sha256()
    size = 0
    last = time.monotonic()
    with archives.writer(key) as out:
        for chunk in chunks:
            digest.update(chunk)
            size += len(chunk)
            out.write(chunk)
            if heartbeat is not None and time.monotonic() - last >= interval:
                heartbeat(size)
                last = time.monotonic()
    return digest.hexdigest(), size


def touch_import(runtime: Runtime, backup_id: int, nbytes: int) -> None:
    with runtime.db.transaction() as db:
        db.execute(
            update(Backup)
            .where(Backup.id == backup_id, Backup.status == STATUS_CREATING)
            .values(heartbeat_at=utcnow(), bytes_done=nbytes)
        )


def finish_import(
    runtime: Runtime,
    backup_id: int,
    *,
    sha256: str,
    size: int,
    expected_sha256: str | None,
    name: str | None,
    description: str | None,
) -> Backup:
    """Verify the stored upload fully; it becomes a completed backup, or is removed with
    its row and refused with INVALID_ARCHIVE. Any other failure (storage, database) also
    leaves nothing behind."""
    try:
        return _finish_import(
            runtime,
            backup_id,
            sha256=sha256,
            size=size,
            expected_sha256=expected_sha256,
            name=name,
            description=description,
        )
    except (InvalidArchiveError, UnsupportedVersionError):
        raise  # already abandoned
    except Exception:
        try:
            abandon_import(runtime, backup_id)
        except Exception:  # recovery removes it once its heartbeat is stale
            log.exception("could not remove the failed import %s", backup_id)
        raise


def _finish_import(
    runtime: Runtime,
    backup_id: int,
    *,
    sha256: str,
    size: int,
    expected_sha256: str | None,
    name: str | None,
    description: str | None,
) -> Backup:
    with runtime.db.session() as db:
        key = get(db, backup_id).file_path
    try:
        if expected_sha256 is not None and expected_sha256 != sha256:
            raise InvalidArchive(
                "the archive's SHA-256 differs from the one given with the upload", rule="checksum"
            )
        with reader_over(iter(runtime.archives.open(key))) as source:
            verified = verify_archive(source, archive_limits_for("import"))
        if verified.sha256 != sha256:
            raise InvalidArchive(
                "the stored archive changed while it was verified", rule="checksum"
            )
        with reader_over(iter(runtime.archives.open(key))) as source:
            check_rows(source, verified, archive_limits_for("import"))
    except (InvalidArchive, UnsupportedVersion) as exc:
        abandon_import(runtime, backup_id)
        if isinstance(exc, UnsupportedVersion):
            raise UnsupportedVersionError(details={"reason": exc.reason}) from None
        raise InvalidArchiveError(details={"reason": exc.reason}) from None
    with runtime.db.transaction() as db:
        row = get(db, backup_id)
        if row.status != STATUS_CREATING:  # recovery declared the upload dead meanwhile
            raise RuntimeError(f"import {backup_id} is no longer being created")
        row.status = STATUS_COMPLETED
        row.phase = "completed"
        row.size = size
        row.checksum = f"sha256:{sha256}"
        row.completed_at = row.verified_at = utcnow()
        row.sections = dict(verified.sections)
        row.backup_version = str(verified.metadata.get("backup_version", BACKUP_VERSION))
        source_project = verified.metadata.get("project_id")
        row.source_project_id = source_project if isinstance(source_project, int) else None
        row.items_done = row.items_total = sum(verified.sections.values()) + len(verified.blobs)
        row.bytes_done = row.bytes_total = size
        if name:
            row.name = name
        if description is not None:
            row.description = description
        audit.record(
            db,
            row.project_id,
            action="backups.import",
            resource="backups",
            resource_id=str(row.id),
            actor=actor_from(row),
            details={"name": row.name, "size": size, "checksum": row.checksum},
        )
        return row


#: parent keys remembered while checking references; past this, the database's foreign
#: keys (at restore, inside its transaction) are the only check
MAX_TRACKED_KEYS = 1_000_000


def _section_references() -> dict[str, list[tuple[tuple[str, ...], str, tuple[str, ...]]]]:
    """From the schema's foreign keys: section -> [(columns, parent section, parent
    columns)], `project_id` left out (a restore rewrites it)."""
    by_table = {spec.table_name: spec for spec in SECTION_SPECS}
    out: dict[str, list[tuple[tuple[str, ...], str, tuple[str, ...]]]] = {}
    for spec in SECTION_SPECS:
        for fk in spec.table.foreign_key_constraints:
            parent = by_table.get(fk.referred_table.name)
            if parent is None or parent.name == "project":
                continue
            pairs = [
                (el.parent.name, el.column.name)
                for el in fk.elements
                if el.parent.name != spec.project_column
            ]
            out.setdefault(spec.name, []).append(
                (tuple(c for c, _ in pairs), parent.name, tuple(p for _, p in pairs))
            )
    return out


def check_rows(source: Any, verified: VerifiedArchive, limits: ArchiveLimits) -> None:
    """Second pass over an uploaded archive: every row fits its section (a column the
    schema lacks, such as `project_id`, is refused) and every reference points at a row
    or blob of the archive itself, never at another project's rows."""
    references = _section_references()
    parent_columns = {p: cols for refs in references.values() for _, p, cols in refs}
    keys: dict[str, set[tuple[Any, ...]]] = {name: set() for name in parent_columns}
    tracked = 0
    untracked: set[str] = set()
    if verified.sections.get("project", 1) != 1:
        raise InvalidArchive("the project section must hold exactly one row", rule="row_schema")
    for member in ArchiveReader(source, verified, limits):
        if member.kind != "section" or member.section is None:
            continue
        spec = SPECS_BY_NAME[member.section]
        for line, row in enumerate(member.rows(), 1):
            where = f"{member.name} line {line}"
            try:
                values = decode_row(spec, row, 0)
                for columns, parent, _ in references.get(spec.name, ()):
                    key = tuple(values.get(c) for c in columns)
                    if None in key or parent in untracked or key in keys[parent]:
                        continue
                    raise InvalidArchive(
                        f"{where}: refers to a row of {parent} the archive does not hold",
                        rule="row_reference",
                    )
                if spec.name == "files" and values.get("sha256") not in verified.blobs:
                    raise InvalidArchive(
                        f"{where}: refers to a blob the archive does not hold",
                        rule="row_reference",
                    )
                if spec.name in keys:
                    if tracked >= MAX_TRACKED_KEYS:
                        untracked.add(spec.name)
                    else:
                        keys[spec.name].add(tuple(values.get(c) for c in parent_columns[spec.name]))
                        tracked += 1
            except (ValueError, TypeError) as exc:  # TypeError: an unhashable key value
                raise InvalidArchive(f"{where}: {str(exc)[:200]}", rule="row_schema") from None


def abandon_import(runtime: Runtime, backup_id: int) -> None:
    """A refused or broken upload leaves nothing behind: no archive, no row."""
    with runtime.db.transaction() as db:
        row = db.get(Backup, backup_id)
        if row is None:
            return
        key = row.file_path
        db.delete(row)
    remove_archive(runtime.archives, key)

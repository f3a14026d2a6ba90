"""References from rows to content-addressed blobs: the half of garbage collection that
runs inside the caller's transaction.

Protocol (DESIGN §2.1), shared by uploads and by restores:

1. store the bytes first (`BlobStore.put_stream`, idempotent, refreshes the blob's age);
2. inside the transaction that records the row, call :func:`acquire` *before* inserting
   the row (``files.sha256`` is a foreign key to ``blobs``);
3. commit.

:func:`acquire` upserts the ``blobs`` row (``refcount + 1``, ``last_seen_at = now``) and
only then checks that the bytes still exist. The upsert takes the row lock, so a
collector deleting that blob either finished before (the check sees the bytes missing
and the caller must roll back and retry: :class:`StorageRetry`) or must wait for our
commit and then finds ``refcount > 0`` and leaves the blob alone. See
:mod:`cloudbox.files.gc` for the other half.

Deleting a row calls :func:`release` in the same transaction; the bytes are removed later
by the collector, after the grace period, never inline.
"""

from __future__ import annotations

import logging
from typing import Any, cast

from sqlalchemy import CursorResult, and_, case, func, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from cloudbox.blobstore import BlobStore, BlobStoreError, validate_digest
from cloudbox.db.types import utcnow
from cloudbox.files.errors import StorageRetry, StorageUnavailable
from cloudbox.files.models import Blob, File

log = logging.getLogger(__name__)


def acquire(db: Session, blobs: BlobStore, sha256: str, size: int, count: int = 1) -> None:
    """Count ``count`` more references to ``sha256`` (a restore takes many at once).

    Raises :class:`StorageRetry` if its bytes are gone; the caller's transaction must then
    roll back, which undoes the upsert.
    """
    validate_digest(sha256)
    if count < 1:
        raise ValueError("count must be at least 1")
    now = utcnow()
    values = {
        "sha256": sha256,
        "size": size,
        "refcount": count,
        "created_at": now,
        "last_seen_at": now,
    }
    changes = {"refcount": Blob.refcount + count, "last_seen_at": now}
    if db.get_bind().dialect.name == "postgresql":
        pg = postgresql.insert(Blob).values(values)
        db.execute(pg.on_conflict_do_update(index_elements=[Blob.sha256], set_=changes))
    else:
        lite = sqlite.insert(Blob).values(values)
        db.execute(lite.on_conflict_do_update(index_elements=[Blob.sha256], set_=changes))
    try:
        present = blobs.exists(sha256)
    except BlobStoreError as exc:
        raise StorageUnavailable() from exc
    if not present:
        log.info("blob %s vanished before its reference was committed; asking to retry", sha256)
        raise StorageRetry(details={"retryable": True, "retry_after_seconds": 1})


def release(db: Session, sha256: str) -> None:
    """Drop one reference. The blob becomes collectable ``grace`` after this commit."""
    result = db.execute(
        update(Blob)
        .where(Blob.sha256 == sha256, Blob.refcount > 0)
        .values(refcount=Blob.refcount - 1, last_seen_at=utcnow())
        .execution_options(synchronize_session=False)
    )
    if cast("CursorResult[Any]", result).rowcount == 0:
        # Leaks at worst (the row stays); never a reason to fail the caller's delete.
        log.warning("released blob %s that had no counted reference", sha256)


def release_files(db: Session, project_id: int, bucket_id: str | None = None) -> None:
    """Drop the references held by every file of a project (or of one of its buckets),
    in one statement, before those rows are deleted in the same transaction.

    Deleting a project cascades to its files in the database; whoever deletes a project
    (or replaces its rows, as a restore does) must call this first, or the blobs of its
    files are never collected.
    """
    conditions = [File.project_id == project_id]
    if bucket_id is not None:
        conditions.append(File.bucket_id == bucket_id)
    references = (
        select(func.count())
        .select_from(File)
        .where(and_(*conditions), File.sha256 == Blob.sha256)
        .scalar_subquery()
    )
    used = select(File.sha256).where(and_(*conditions))
    db.execute(
        update(Blob)
        .where(Blob.sha256.in_(used))
        .values(
            refcount=case(
                (Blob.refcount > references, Blob.refcount - references),
                else_=0,
            ),
            last_seen_at=utcnow(),
        )
        .execution_options(synchronize_session=False)
    )

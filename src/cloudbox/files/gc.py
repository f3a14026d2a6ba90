"""Garbage collection of blobs no row references any more (DESIGN §2.1: never inline,
always after a grace period).

Two kinds of garbage, each removed one blob per transaction so that the row lock orders
the collector against concurrent uploads (see `blobrefs` for the other half):

* unreferenced: a ``blobs`` row with ``refcount = 0`` not seen for ``grace``. The
  conditional ``DELETE`` locks the row (a concurrent ``acquire`` waits, then inserts a
  fresh row and finds the bytes gone, and retries); the bytes are deleted before commit,
  so a failure to delete them rolls the row back and the next run tries again.
* orphans: bytes in the store with no row at all, older than ``grace`` — left by a crash
  between storing and committing, by a refused upload, or by a restore that failed after
  staging its blobs. The collector claims one by inserting a row (``refcount 0``), deletes
  the bytes, deletes the row and commits; an ``acquire`` racing it waits on that row.

A deliberately tiny grace never loses data either: an upload whose bytes were collected
before it committed gets 503 STORAGE_RETRY and nothing recorded. The grace only keeps
such retries rare and gives restores time to reference the blobs they staged.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import threading
from collections.abc import Callable
from contextlib import AbstractContextManager
from dataclasses import dataclass
from datetime import datetime, timedelta
from functools import partial
from typing import TYPE_CHECKING, Any, cast

import anyio.to_thread
from sqlalchemy import CursorResult, delete, select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from cloudbox.blobstore import BlobStore, StoredItem
from cloudbox.db.types import utcnow
from cloudbox.files.models import Blob

if TYPE_CHECKING:
    from cloudbox.runtime import Runtime

log = logging.getLogger(__name__)

#: A callable opening one write transaction (committed on clean exit), e.g.
#: ``Database.transaction``.
TransactionFactory = Callable[[], AbstractContextManager[Session]]

BATCH_SIZE = 500
#: Temp files of uploads in progress are only purged when older than this (or the grace
#: period, if longer): a slow upload of a huge file must not lose its temp file.
TEMP_GRACE = timedelta(days=1)
#: A server's first collection runs this long after start (or after one interval if
#: shorter), so frequent restarts do not postpone collection indefinitely.
FIRST_RUN_DELAY_SECONDS = 60.0


@dataclass
class GcReport:
    dry_run: bool = False
    unreferenced_deleted: int = 0
    orphans_deleted: int = 0
    bytes_freed: int = 0
    temp_purged: int = 0
    errors: int = 0
    stopped: bool = False

    def summary(self) -> str:
        verb = "would delete" if self.dry_run else "deleted"
        text = (
            f"{verb} {self.unreferenced_deleted} unreferenced blob(s) and "
            f"{self.orphans_deleted} orphan blob(s), {self.bytes_freed} bytes"
        )
        if not self.dry_run:
            text += f"; purged {self.temp_purged} stale temp file(s)"
        if self.errors:
            text += f"; {self.errors} error(s), see the log"
        if self.stopped:
            text += "; stopped early"
        return text


def collect_garbage(
    db_factory: TransactionFactory,
    blobs: BlobStore,
    grace: timedelta | float,
    *,
    dry_run: bool = False,
    should_stop: Callable[[], bool] | None = None,
    batch_size: int = BATCH_SIZE,
) -> GcReport:
    """Delete blobs unreferenced (or unknown) for longer than ``grace``.

    Safe to run concurrently with uploads, restores and other collectors, on any number
    of processes. ``should_stop`` is polled between blobs so a shutdown is not delayed.
    """
    grace = grace if isinstance(grace, timedelta) else timedelta(seconds=grace)
    cutoff = utcnow() - grace
    stop = should_stop or (lambda: False)
    report = GcReport(dry_run=dry_run)
    _collect_unreferenced(db_factory, blobs, cutoff, report, stop, batch_size)
    if not report.stopped:
        _collect_orphans(db_factory, blobs, cutoff, report, stop, batch_size)
    if not dry_run and not report.stopped:
        _purge_temp(blobs, max(grace, TEMP_GRACE), report)
    return report


def _rowcount(result: Any) -> int:
    return cast("CursorResult[Any]", result).rowcount


def _collect_unreferenced(
    db_factory: TransactionFactory,
    blobs: BlobStore,
    cutoff: datetime,
    report: GcReport,
    stop: Callable[[], bool],
    batch_size: int,
) -> None:
    after = ""
    while True:
        with db_factory() as db:
            candidates = db.execute(
                select(Blob.sha256, Blob.size)
                .where(Blob.refcount == 0, Blob.last_seen_at < cutoff, Blob.sha256 > after)
                .order_by(Blob.sha256)
                .limit(batch_size)
            ).all()
        if not candidates:
            return
        after = candidates[-1].sha256
        for sha256, size in candidates:
            if stop():
                report.stopped = True
                return
            if report.dry_run:
                report.unreferenced_deleted += 1
                report.bytes_freed += size
                continue
            try:
                with db_factory() as db:
                    result = db.execute(
                        delete(Blob)
                        .where(
                            Blob.sha256 == sha256,
                            Blob.refcount == 0,
                            Blob.last_seen_at < cutoff,
                        )
                        .execution_options(synchronize_session=False)
                    )
                    deleted = _rowcount(result) == 1
                    if deleted:
                        blobs.delete(sha256)  # before commit: a failure keeps the row
            except Exception:  # one bad blob must not stop the collection
                log.exception("could not collect unreferenced blob %s", sha256)
                report.errors += 1
                continue
            if deleted:
                report.unreferenced_deleted += 1
                report.bytes_freed += size


def _collect_orphans(
    db_factory: TransactionFactory,
    blobs: BlobStore,
    cutoff: datetime,
    report: GcReport,
    stop: Callable[[], bool],
    batch_size: int,
) -> None:
    batch: list[StoredItem] = []
    for item in blobs.iter_blobs():
        if item.modified_at >= cutoff:
            continue
        batch.append(item)
        if len(batch) >= batch_size:
            _collect_orphan_batch(db_factory, blobs, batch, report, stop)
            batch = []
            if report.stopped:
                return
    if batch:
        _collect_orphan_batch(db_factory, blobs, batch, report, stop)


def _collect_orphan_batch(
    db_factory: TransactionFactory,
    blobs: BlobStore,
    items: list[StoredItem],
    report: GcReport,
    stop: Callable[[], bool],
) -> None:
    with db_factory() as db:
        known = set(
            db.scalars(select(Blob.sha256).where(Blob.sha256.in_([item.key for item in items])))
        )
    for item in items:
        if item.key in known:
            continue
        if stop():
            report.stopped = True
            return
        if report.dry_run:
            report.orphans_deleted += 1
            report.bytes_freed += item.size
            continue
        try:
            with db_factory() as db:
                claimed = _claim(db, item)
                if claimed:
                    blobs.delete(item.key)
                    db.execute(
                        delete(Blob)
                        .where(Blob.sha256 == item.key, Blob.refcount == 0)
                        .execution_options(synchronize_session=False)
                    )
        except Exception:  # one bad blob must not stop the collection
            log.exception("could not collect orphan blob %s", item.key)
            report.errors += 1
            continue
        if claimed:
            report.orphans_deleted += 1
            report.bytes_freed += item.size


def _claim(db: Session, item: StoredItem) -> bool:
    """Insert a ``refcount 0`` row for an orphan; False if a row appeared meanwhile (an
    upload or restore referenced the blob after we listed it)."""
    now = utcnow()
    values = {
        "sha256": item.key,
        "size": item.size,
        "refcount": 0,
        "created_at": now,
        "last_seen_at": now,
    }
    # RETURNING rather than rowcount: an ORM-enabled INSERT reports no rowcount.
    if db.get_bind().dialect.name == "postgresql":
        pg = postgresql.insert(Blob).values(values).on_conflict_do_nothing()
        return db.scalar(pg.returning(Blob.sha256)) is not None
    lite = sqlite.insert(Blob).values(values).on_conflict_do_nothing()
    return db.scalar(lite.returning(Blob.sha256)) is not None


def _purge_temp(blobs: BlobStore, older_than: timedelta, report: GcReport) -> None:
    purge = getattr(blobs, "purge_stale_temp", None)
    if not callable(purge):
        return
    try:
        report.temp_purged += int(purge(older_than))
    except Exception:  # housekeeping only
        log.exception("could not purge stale temp files of the blob store")
        report.errors += 1


class PeriodicGc:
    """The collector as an asyncio task of `cloudbox serve`: each run happens in a worker
    thread; `stop()` asks a running collection to finish at the next blob boundary."""

    def __init__(
        self,
        db_factory: TransactionFactory,
        blobs: BlobStore,
        *,
        interval: float,
        grace: timedelta,
    ) -> None:
        self._db_factory = db_factory
        self._blobs = blobs
        self._interval = interval
        self._grace = grace
        self._stopping = threading.Event()
        self._task: asyncio.Task[None] | None = None

    def start(self) -> None:
        self._task = asyncio.get_running_loop().create_task(self._run(), name="cloudbox-gc")

    async def stop(self) -> None:
        self._stopping.set()
        task, self._task = self._task, None
        if task is not None:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task

    async def _run(self) -> None:
        delay = min(self._interval, FIRST_RUN_DELAY_SECONDS)
        while not self._stopping.is_set():
            await asyncio.sleep(delay)
            delay = self._interval
            run = partial(
                collect_garbage,
                self._db_factory,
                self._blobs,
                self._grace,
                should_stop=self._stopping.is_set,
            )
            try:
                report = await anyio.to_thread.run_sync(run)
            except Exception:  # the next run may well succeed
                log.exception("blob garbage collection failed")
                continue
            log.info("blob garbage collection: %s", report.summary())


def start_periodic_gc(runtime: Runtime) -> PeriodicGc | None:
    """Start the periodic collector unless ``CLOUDBOX_GC_INTERVAL_SECONDS`` is 0."""
    settings = runtime.settings
    if settings.gc_interval_seconds <= 0:
        return None
    gc = PeriodicGc(
        runtime.db.transaction,
        runtime.blobs,
        interval=settings.gc_interval_seconds,
        grace=timedelta(seconds=settings.gc_grace_seconds),
    )
    gc.start()
    return gc

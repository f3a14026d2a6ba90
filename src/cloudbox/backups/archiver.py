"""Writes one project into an archive from one consistent snapshot (DESIGN §2.3).

Every section is read through the same read-only transaction — a WAL snapshot on
SQLite, REPEATABLE READ on PostgreSQL — so a document or file written while the backup
runs is wholly in it or wholly out of it, and writers are never blocked. The database
builds each section's lines (`sections.json_line`); they stream through the snapshot
connection's own cursor (server-side on PostgreSQL) in batches, joined into chunks
without per-row Python. File contents stream from the blob store, which never changes a
blob under a reader (blobs are immutable).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime
from typing import Any, BinaryIO

from sqlalchemy import Connection

from cloudbox import __version__
from cloudbox.archive import SECTIONS, ArchiveResult, ArchiveWriter
from cloudbox.backups.sections import (
    BATCH_ROWS,
    SPECS_BY_NAME,
    SectionSpec,
    blob_query,
    count_sections,
    section_chunks,
)
from cloudbox.blobstore import BlobStore
from cloudbox.db.engine import Database
from cloudbox.jobs.progress import Progress

#: rough size of one JSON row, for the byte total shown before the real size is known
ESTIMATED_ROW_BYTES = 300


@contextmanager
def snapshot(db: Database) -> Iterator[Connection]:
    """A read-only transaction that sees the database as of its first read."""
    with db.engine.connect() as conn:
        if db.is_sqlite:
            with conn.begin():
                yield conn
            return
        conn = conn.execution_options(isolation_level="REPEATABLE READ")
        with conn.begin():
            conn.exec_driver_sql("SET TRANSACTION READ ONLY")
            yield conn


@dataclass(frozen=True)
class ArchivePlan:
    counts: dict[str, int]
    blob_count: int
    blob_bytes: int

    @property
    def items_total(self) -> int:
        return sum(self.counts.values()) + self.blob_count

    @property
    def bytes_estimate(self) -> int:
        return self.blob_bytes + sum(self.counts.values()) * ESTIMATED_ROW_BYTES


def plan(conn: Connection, project_id: int, now: datetime) -> ArchivePlan:
    counts = count_sections(conn, project_id, now)
    blob_count = blob_bytes = 0
    for _, size in conn.execute(blob_query(project_id)):
        blob_count += 1
        blob_bytes += int(size)
    return ArchivePlan(counts=counts, blob_count=blob_count, blob_bytes=blob_bytes)


def _stream(conn: Connection, query: Any) -> Iterator[Any]:
    result = conn.execution_options(stream_results=True, yield_per=BATCH_ROWS).execute(query)
    try:
        yield from result
    finally:
        result.close()


def write_project(
    conn: Connection,
    project_id: int,
    out: BinaryIO,
    *,
    blobs: BlobStore,
    metadata: dict[str, Any],
    key_fingerprint: str,
    now: datetime,
    progress: Progress,
    check_cancelled: Callable[[], None],
    compresslevel: int = 1,
    threads: int = 2,
) -> ArchiveResult:
    """Stream every section and every distinct blob of the project into `out`."""

    def on_bytes(total: int) -> None:
        progress.update(bytes_done=total)
        check_cancelled()

    writer = ArchiveWriter(
        out,
        metadata={**metadata, "cloudbox_version": __version__},
        key_fingerprint=key_fingerprint,
        sections=list(SECTIONS),
        compresslevel=compresslevel,
        threads=threads,
        progress=on_bytes,
        validate_rows=False,
    )
    with writer:
        for name in SECTIONS:
            spec = SPECS_BY_NAME[name]
            progress.update(phase=f"section:{name}")

            def lines(spec: SectionSpec = spec) -> Iterator[bytes]:
                for rows, chunk in section_chunks(conn, spec, project_id, now):
                    check_cancelled()
                    progress.add(items=rows)
                    yield chunk

            writer.write_section_chunks(name, lines())
        progress.update(phase="blobs")
        for sha256, size in _stream(conn, blob_query(project_id)):
            check_cancelled()
            with blobs.open(sha256) as chunks:
                writer.write_blob(sha256, int(size), chunks)
            progress.add(items=1)
        progress.update(phase="finishing")
        return writer.close()

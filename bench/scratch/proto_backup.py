"""How fast can the documents section of a backup be produced? Current code vs
candidates, on the same database, in the same process.

    .venv/bin/python -m bench.scratch.proto_backup --db sqlite:////path/cloudbox.db \
        --project 2 [--archive /tmp/x.tar.gz] [--blobs DIR --plain DIR]

Candidates (rows/s printed for each; every candidate's rows are checked to decode to the
same values as the current encoder's):

* current  - `archiver.write_project`'s path: SQLAlchemy Core rows (JSON column decoded
  into dicts, UTCDateTime into aware datetimes), `encode_rows` (a dict and json.dumps
  per row);
* rawtext  - the same query with `data` read as text and each line assembled by string
  formatting (no JSON decode/re-encode; ids escaped with json.dumps);
* dbjson   - the database builds each whole line (SQLite `json_object(...)` over
  `json(data)`; PostgreSQL `json_build_object(...)::text`), Python only joins lines;
* pgcopy   - PostgreSQL only: `COPY (SELECT json_build_object(...)) TO STDOUT`.

With --archive, the fastest candidate also feeds the real `ArchiveWriter` (isal, level 1,
2 threads) to show the section's rate with compression and the writer's spooling; with
--blobs/--plain, it writes the whole project (every section and blob) and times `tar
czf` of the plain copy right after, for a same-run ratio.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import subprocess
import time
from collections.abc import Callable, Iterator
from functools import partial
from pathlib import Path
from typing import Any, cast

from sqlalchemy import Text, text, type_coerce

import cloudbox.models  # noqa: F401
from cloudbox.archive import SECTIONS, ArchiveWriter
from cloudbox.backups.archiver import _stream, snapshot
from cloudbox.backups.sections import SPECS_BY_NAME, encode_rows
from cloudbox.db.engine import Database
from cloudbox.db.types import utcnow

DOCS = SPECS_BY_NAME["documents"]
_SQLITE_TS = (
    "CASE WHEN length({c}) <= 19 OR substr({c}, 20) = '.000000' "
    "THEN substr({c}, 1, 10) || 'T' || substr({c}, 12, 8) || 'Z' "
    "ELSE substr({c}, 1, 10) || 'T' || substr({c}, 12) || 'Z' END"
)


def current(db: Database, project_id: int) -> Iterator[bytes]:
    now = utcnow()
    with snapshot(db) as conn:
        yield from encode_rows(DOCS, _stream(conn, DOCS.rows_query(project_id, now)))


def _iso(value: Any) -> str:
    return str(value.isoformat()).replace("+00:00", "Z")


def rawtext(db: Database, project_id: int) -> Iterator[bytes]:
    data_text = (
        type_coerce(DOCS.table.c.data, Text)  # SQLite: json.dumps' stored text, valid JSON
        if db.is_sqlite
        else text("documents.data::text")
    )
    columns = [data_text if c.name == "data" else c for c in DOCS.columns()]
    query = DOCS.rows_query(project_id).with_only_columns(*columns)
    dumps = json.dumps
    with snapshot(db) as conn:
        for cid, did, data, version, created, updated in _stream(conn, query):
            yield (
                f'{{"collection_id":{dumps(cid)},"id":{dumps(did)},"data":{data},'
                f'"version":{version},"created_at":"{_iso(created)}",'
                f'"updated_at":"{_iso(updated)}"}}'
            ).encode()


def dbjson(db: Database, project_id: int) -> Iterator[bytes]:
    if db.is_sqlite:
        sql = (
            "SELECT json_object('collection_id', collection_id, 'id', id, 'data', json(data), "
            f"'version', version, 'created_at', {_SQLITE_TS.format(c='created_at')}, "
            f"'updated_at', {_SQLITE_TS.format(c='updated_at')}) "
            "FROM documents WHERE project_id = :p ORDER BY collection_id, id"
        )
    else:
        ts = 'to_char({c}, \'YYYY-MM-DD"T"HH24:MI:SS.US"Z"\')'
        sql = (
            "SELECT json_build_object('collection_id', collection_id, 'id', id, 'data', data, "
            f"'version', version, 'created_at', {ts.format(c='created_at')}, "
            f"'updated_at', {ts.format(c='updated_at')})::text "
            "FROM documents WHERE project_id = :p ORDER BY collection_id, id"
        )
    with snapshot(db) as conn:
        result = conn.execution_options(stream_results=True, yield_per=5000).execute(
            text(sql), {"p": project_id}
        )
        for (line,) in result:
            yield line.encode()


def pgcopy(db: Database, project_id: int) -> Iterator[bytes]:
    """COPY text output: one row per line; JSON has no raw control characters, so the
    only escaping COPY adds is doubling backslashes."""
    ts = 'to_char({c}, \'YYYY-MM-DD"T"HH24:MI:SS.US"Z"\')'
    sql = (
        "COPY (SELECT json_build_object('collection_id', collection_id, 'id', id, 'data', "
        f"data, 'version', version, 'created_at', {ts.format(c='created_at')}, "
        f"'updated_at', {ts.format(c='updated_at')})::text FROM documents "
        f"WHERE project_id = {int(project_id)} ORDER BY collection_id, id) TO STDOUT"
    )
    with snapshot(db) as conn:
        raw = conn.connection.dbapi_connection
        assert raw is not None
        with raw.cursor() as cur, cur.copy(sql) as copy:  # type: ignore[attr-defined]
            pending = b""
            for block in copy:
                data = pending + bytes(block)
                lines = data.split(b"\n")
                pending = lines.pop()
                for line in lines:
                    yield line.replace(b"\\\\", b"\\")
            if pending:
                yield pending.replace(b"\\\\", b"\\")


def _dbjson_sql(db: Database, project_id: int) -> str:
    if db.is_sqlite:
        return (
            "SELECT json_object('collection_id', collection_id, 'id', id, 'data', json(data), "
            f"'version', version, 'created_at', {_SQLITE_TS.format(c='created_at')}, "
            f"'updated_at', {_SQLITE_TS.format(c='updated_at')}) "
            f"FROM documents WHERE project_id = {int(project_id)} ORDER BY collection_id, id"
        )
    ts = 'to_char({c}, \'YYYY-MM-DD"T"HH24:MI:SS.US"Z"\')'
    return (
        "SELECT json_build_object('collection_id', collection_id, 'id', id, 'data', data, "
        f"'version', version, 'created_at', {ts.format(c='created_at')}, "
        f"'updated_at', {ts.format(c='updated_at')})::text "
        f"FROM documents WHERE project_id = {int(project_id)} ORDER BY collection_id, id"
    )


def dbjson_chunks(db: Database, project_id: int, batch: int = 5000) -> Iterator[bytes]:
    """Like dbjson, through the DBAPI cursor, yielding newline-joined chunks of `batch`
    rows (each chunk ends with a newline): no per-row Python work at all."""
    with snapshot(db) as conn:
        raw = conn.connection.dbapi_connection
        assert raw is not None
        if db.is_sqlite:
            cur = raw.cursor()
        else:
            cur = cast(Any, raw).cursor(name="proto_backup")
            cur.itersize = batch
        cur.execute(_dbjson_sql(db, project_id))
        while rows := cur.fetchmany(batch):
            yield ("\n".join([r[0] for r in rows]) + "\n").encode()
        cur.close()


def measure_chunks(name: str, make: Callable[[], Iterator[bytes]]) -> tuple[float, int, str]:
    start = time.perf_counter()
    rows = size = 0
    digest = hashlib.sha256()
    for chunk in make():
        n = chunk.count(b"\n")
        if rows < 2000:
            for line in chunk.split(b"\n")[: min(n, 2000 - rows)]:
                digest.update(json.dumps(json.loads(line), sort_keys=True).encode())
        rows += n
        size += len(chunk)
    seconds = time.perf_counter() - start
    print(
        f"  {name:8s} {rows:>9,} rows  {seconds:7.2f} s  {rows / seconds:>10,.0f} rows/s  "
        f"{size / 2**20:7.1f} MiB"
    )
    return seconds, rows, digest.hexdigest()


def write_section_chunks(writer: ArchiveWriter, section: str, chunks: Iterator[bytes]) -> int:
    """Prototype of a chunked `ArchiveWriter.write_section`: chunks of whole lines, checked
    per chunk (ends with a newline, no empty line, every line an object), spooled and
    copied as today. Uses the writer's internals; this is the API to add."""
    import tempfile

    from cloudbox.archive.format import CHUNK_SIZE, section_member
    from cloudbox.archive.writer import SPOOL_MAX_BYTES, MemberInfo

    w: Any = writer
    name = section_member(section)
    count = size = 0
    spool_hash = hashlib.sha256()
    with tempfile.SpooledTemporaryFile(max_size=SPOOL_MAX_BYTES) as spool:
        for chunk in chunks:
            if not chunk.endswith(b"\n") or b"\n\n" in chunk or not chunk.startswith(b"{"):
                raise ValueError("chunk is not whole JSON-object lines")
            count += chunk.count(b"\n")
            spool.write(chunk)
            spool_hash.update(chunk)
            size += len(chunk)
        w._begin_member(name, size)
        spool.seek(0)
        while piece := spool.read(CHUNK_SIZE):
            w._write(piece)
    w._end_member(size)
    w._members.append(MemberInfo(name, size, spool_hash.hexdigest(), count))
    w._next_section += 1
    return count


def through_writer_chunks(out: Path, chunks: Callable[[], Iterator[bytes]]) -> None:
    start = time.perf_counter()
    with out.open("wb") as handle:
        writer = ArchiveWriter(
            handle,
            metadata={"bench": True},
            key_fingerprint="bench",
            sections=["documents"],
            compresslevel=1,
            threads=2,
            validate_rows=False,
        )
        with writer:
            n = write_section_chunks(writer, "documents", chunks())
        result = writer.result
    seconds = time.perf_counter() - start
    assert result is not None
    print(
        f"  writer*  {n:>9,} rows  {seconds:7.2f} s  {n / seconds:>10,.0f} rows/s  "
        f"archive {result.size / 2**20:.1f} MiB (chunked section API prototype)"
    )


def measure(name: str, make: Callable[[], Iterator[bytes]]) -> tuple[float, int, str]:
    start = time.perf_counter()
    rows = size = 0
    digest = hashlib.sha256()
    for line in make():
        rows += 1
        size += len(line) + 1
        if rows <= 2000:
            digest.update(json.dumps(json.loads(line), sort_keys=True).encode())
    seconds = time.perf_counter() - start
    print(
        f"  {name:8s} {rows:>9,} rows  {seconds:7.2f} s  {rows / seconds:>10,.0f} rows/s  "
        f"{size / 2**20:7.1f} MiB"
    )
    return seconds, rows, digest.hexdigest()


def through_writer(
    db: Database, project_id: int, out: Path, rows: Callable[[], Iterator[bytes]]
) -> None:
    """The documents section only, through the real ArchiveWriter."""
    start = time.perf_counter()
    with out.open("wb") as handle:
        writer = ArchiveWriter(
            handle,
            metadata={"bench": True},
            key_fingerprint="bench",
            sections=["documents"],
            compresslevel=1,
            threads=2,
            validate_rows=False,
        )
        with writer:
            n = writer.write_section("documents", rows())
        result = writer.result
    seconds = time.perf_counter() - start
    assert result is not None
    print(
        f"  writer   {n:>9,} rows  {seconds:7.2f} s  {n / seconds:>10,.0f} rows/s  "
        f"archive {result.size / 2**20:.1f} MiB (sections spooled, isal level 1, 2 threads)"
    )


def whole_project(
    db: Database,
    project_id: int,
    out: Path,
    blob_root: Path,
    plain: Path,
    docs: Callable[[], Iterator[bytes]],
    chunked: bool = False,
) -> None:
    """Every section (documents through the fast path, the rest as today) and every blob,
    then tar czf of the plain copy: a same-run ratio for the prototype."""
    from cloudbox.backups.sections import blob_query

    now = utcnow()
    start = time.perf_counter()
    with snapshot(db) as conn, out.open("wb") as handle:
        writer = ArchiveWriter(
            handle,
            metadata={"bench": True},
            key_fingerprint="bench",
            sections=list(SECTIONS),
            compresslevel=1,
            threads=2,
            validate_rows=False,
        )
        with writer:
            for name in SECTIONS:
                spec = SPECS_BY_NAME[name]
                if name == "documents" and chunked:
                    write_section_chunks(writer, name, dbjson_chunks(db, project_id))
                elif name == "documents":
                    writer.write_section(name, docs())
                else:
                    writer.write_section(
                        name, encode_rows(spec, _stream(conn, spec.rows_query(project_id, now)))
                    )
            for sha, size in _stream(conn, blob_query(project_id)):
                path = blob_root / sha[:2] / sha[2:4] / sha
                with path.open("rb") as blob:
                    chunks: Iterator[bytes] = iter(partial(blob.read, 1 << 20), b"")
                    writer.write_blob(sha, int(size), chunks)
        result = writer.result
    proto = time.perf_counter() - start
    assert result is not None
    tar_out = out.with_suffix(".baseline.tar.gz")
    start = time.perf_counter()
    subprocess.run(
        ["tar", "czf", str(tar_out), "-C", str(plain), "files", "documents.ndjson"],
        check=True,
        env={k: v for k, v in os.environ.items() if k != "GZIP"},
    )
    tar = time.perf_counter() - start
    print(
        f"  project  prototype {proto:.2f} s ({result.size / 2**20:.1f} MiB) vs tar czf "
        f"{tar:.2f} s ({tar_out.stat().st_size / 2**20:.1f} MiB): {tar / proto:.2f}x faster, "
        f"size {result.size / tar_out.stat().st_size:.3f}x"
    )
    tar_out.unlink()


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--db", required=True)
    parser.add_argument("--project", type=int, required=True)
    parser.add_argument("--archive", type=Path)
    parser.add_argument("--blobs", type=Path)
    parser.add_argument("--plain", type=Path)
    parser.add_argument("--full-project", type=int, help="project with files, for --blobs")
    parser.add_argument("--only", nargs="*")
    args = parser.parse_args(argv)
    url = args.db
    if url.startswith("postgresql://"):
        url = "postgresql+psycopg://" + url.split("://", 1)[1]
    db = Database(url)
    factories: dict[str, Callable[[Database, int], Iterator[bytes]]] = {
        "current": current,
        "rawtext": rawtext,
        "dbjson": dbjson,
    }
    if not db.is_sqlite:
        factories["pgcopy"] = pgcopy
    candidates = {name: (lambda f=f: f(db, args.project)) for name, f in factories.items()}
    print(f"documents section of project {args.project} ({'SQLite' if db.is_sqlite else 'PG'})")
    digests = {}
    best: tuple[float, str] | None = None
    for name, make in candidates.items():
        if args.only and name not in args.only:
            continue
        seconds, _, digest = measure(name, make)
        digests[name] = digest
        if name != "current" and (best is None or seconds < best[0]):
            best = (seconds, name)
    if len(set(digests.values())) > 1:
        print(f"  !! candidates decode to different rows: {digests}")
    else:
        print("  all candidates decode to the same rows (first 2,000 compared)")
    if not args.only or "chunks" in args.only:
        seconds, _, digest = measure_chunks("chunks", lambda: dbjson_chunks(db, args.project))
        if digest != digests.get("current", digest):
            print("  !! chunks decode to different rows")
    if best and args.archive:
        through_writer(db, args.project, args.archive, candidates[best[1]])
        through_writer_chunks(args.archive, lambda: dbjson_chunks(db, args.project))
    if best and args.blobs and args.plain and args.archive:
        print("  whole project, chunked documents section:")
        whole_project(
            db,
            args.full_project or args.project,
            args.archive,
            args.blobs,
            args.plain,
            lambda: iter(()),
            chunked=True,
        )
        print(f"  whole project, {best[1]} documents rows:")
        whole_project(
            db,
            args.full_project or args.project,
            args.archive,
            args.blobs,
            args.plain,
            lambda: factories[best[1]](db, args.full_project or args.project),
        )
    db.dispose()


if __name__ == "__main__":
    main()

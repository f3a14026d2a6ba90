"""Where does a restore's time go, and how fast could its documents go in? Current code
paths vs candidates on one archive, into a fresh migrated database, in one process.

    .venv/bin/python -m bench.scratch.proto_restore --archive backup.tar.gz \
        [--pg-admin-url postgresql+psycopg://postgres@127.0.0.1:5432/postgres]

Archive passes (no database), each a full read of the archive as the restorer does it:

* sha256   - hashing the compressed file only (what checking the recorded checksum needs);
* inflate  - decompressing it (isal), nothing else;
* verify   - `verify_archive` with strict row parsing (the restorer's pass 1);
* verify-structure - `verify_archive(check_rows=False)` (digests, sizes, order, no JSON);
* reader   - `ArchiveReader` with `member.rows()` (strict parse, as passes 2 and 3 read).

Documents insert (rows/s into a fresh project, committed):

* current  - `ArchiveReader` rows -> `decode_row` -> SQLAlchemy Core executemany in
  batches of 1,000 (the restorer's `apply` loop for documents);
* dbapi    - raw lines -> `json.loads` -> tuples (data re-serialised as the app stores it,
  timestamps in the stored form) -> DBAPI executemany in batches of 10,000;
* sqljson  - SQLite only: raw lines bound as one parameter, SQLite's `json_extract` takes
  the row apart in C;
* copy     - PostgreSQL only: raw lines -> `json.loads` -> `COPY ... FROM STDIN`.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import tempfile
import time
import uuid
from collections.abc import Callable, Iterator
from datetime import datetime
from pathlib import Path
from typing import Any, cast

from isal import igzip
from sqlalchemy import Engine, create_engine, delete, insert, text

import cloudbox.models  # noqa: F401
from cloudbox.archive import ArchiveLimits, ArchiveReader, VerifiedArchive, verify_archive
from cloudbox.backups.sections import SPECS_BY_NAME, decode_row
from cloudbox.db.base import Base
from cloudbox.db.migrate import upgrade_database

LIMITS = ArchiveLimits(max_ratio=1e12, max_json_depth=66)
DOCS = SPECS_BY_NAME["documents"]
COLUMNS = "project_id, collection_id, id, data, version, created_at, updated_at"


def timed(label: str, fn: Callable[[], Any], rows: int | None = None, size: int = 0) -> float:
    start = time.perf_counter()
    fn()
    seconds = time.perf_counter() - start
    extra = f"{rows / seconds:>10,.0f} rows/s" if rows else ""
    if size:
        extra += f"  {size / seconds / 2**20:7.1f} MiB/s of archive"
    print(f"  {label:18s} {seconds:7.2f} s  {extra}")
    return seconds


def sha256_file(path: Path) -> None:
    h = hashlib.sha256()
    with path.open("rb") as f:
        while chunk := f.read(1 << 20):
            h.update(chunk)


def inflate(path: Path) -> None:
    with igzip.open(path, "rb") as f:  # type: ignore[no-untyped-call]
        while f.read(1 << 20):
            pass


def reader_pass(path: Path, verified: VerifiedArchive) -> None:
    with path.open("rb") as f:
        for member in ArchiveReader(f, verified, LIMITS):
            if member.kind == "section":
                for _ in member.rows():
                    pass


def raw_document_lines(path: Path, verified: VerifiedArchive) -> Iterator[bytes]:
    """The documents section's lines, unparsed (digests still checked by the reader)."""
    with path.open("rb") as f:
        for member in ArchiveReader(f, verified, LIMITS):
            if member.kind == "section" and member.section == "documents":
                yield from member._line_iter()
                return


def _stored_ts(value: str) -> datetime | str:
    """ISO 'Z' text -> what the column stores (SQLite text in SQLAlchemy's form)."""
    moment = datetime.fromisoformat(value.replace("Z", "+00:00")).replace(tzinfo=None)
    return moment


# -- target database -----------------------------------------------------------------


def fresh_database(pg_admin: str | None) -> tuple[str, Callable[[], None]]:
    if pg_admin is None:
        path = Path(tempfile.mkdtemp(prefix="proto-restore-")) / "target.db"
        url = f"sqlite:///{path}"
        upgrade_database(url)
        return url, lambda: path.unlink(missing_ok=True)
    name = f"proto_restore_{uuid.uuid4().hex[:8]}"
    admin = create_engine(pg_admin, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    url = pg_admin.rsplit("/", 1)[0] + f"/{name}"
    upgrade_database(url)

    def drop() -> None:
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()

    return url, drop


def prepare(engine: Engine, path: Path, verified: VerifiedArchive) -> int:
    """A project and the archive's collections in the target; returns the project id."""
    projects = Base.metadata.tables["projects"]
    collections = SPECS_BY_NAME["collections"]
    with engine.begin() as conn:
        project_id = conn.execute(
            insert(projects).values(name="target", description="", settings={})
            .returning(projects.c.id)
        ).scalar_one()  # fmt: skip
        with path.open("rb") as f:
            for member in ArchiveReader(f, verified, LIMITS):
                if member.kind == "section" and member.section == "collections":
                    values = [decode_row(collections, r, project_id) for r in member.rows()]
                    conn.execute(insert(collections.table), values)
    return int(project_id)


def clear(engine: Engine, project_id: int) -> None:
    with engine.begin() as conn:
        conn.execute(delete(DOCS.table).where(DOCS.table.c.project_id == project_id))


def load_current(engine: Engine, path: Path, verified: VerifiedArchive, project_id: int) -> None:
    with engine.begin() as conn, path.open("rb") as f:
        for member in ArchiveReader(f, verified, LIMITS):
            if member.kind != "section" or member.section != "documents":
                continue
            batch: list[dict[str, Any]] = []
            for row in member.rows():
                batch.append(decode_row(DOCS, row, project_id))
                if len(batch) >= 1000:
                    conn.execute(DOCS.table.insert(), batch)
                    batch = []
            if batch:
                conn.execute(DOCS.table.insert(), batch)


def _tuples(lines: Iterator[bytes], project_id: int, sqlite: bool) -> Iterator[tuple[Any, ...]]:
    loads, dumps = json.loads, json.dumps
    for line in lines:
        row = loads(line)
        created, updated = row["created_at"], row["updated_at"]
        if sqlite:  # SQLAlchemy's stored form: 'YYYY-MM-DD HH:MM:SS.ffffff'
            created = _sqlite_ts(created)
            updated = _sqlite_ts(updated)
        else:
            created = _stored_ts(created)
            updated = _stored_ts(updated)
        yield (
            project_id,
            row["collection_id"],
            row["id"],
            dumps(row["data"]),
            row["version"],
            created,
            updated,
        )


def _sqlite_ts(value: str) -> str:
    # '2024-01-01T00:00:00Z' or '2024-01-01T00:00:00.123456Z'
    if len(value) == 20:
        return f"{value[:10]} {value[11:19]}.000000"
    return f"{value[:10]} {value[11:26]}"


def load_dbapi(engine: Engine, lines: Iterator[bytes], project_id: int) -> None:
    sqlite = engine.dialect.name == "sqlite"
    mark = "?" if sqlite else "%s"
    sql = f"INSERT INTO documents ({COLUMNS}) VALUES ({', '.join([mark] * 7)})"
    raw = engine.raw_connection()
    try:
        cur = raw.cursor()
        if sqlite:
            cur.execute("BEGIN IMMEDIATE")
        batch: list[tuple[Any, ...]] = []
        for values in _tuples(lines, project_id, sqlite):
            batch.append(values)
            if len(batch) >= 10_000:
                cur.executemany(sql, batch)
                batch.clear()
        if batch:
            cur.executemany(sql, batch)
        if sqlite:
            cur.execute("COMMIT")
        else:
            raw.commit()
    finally:
        raw.close()


def load_sqljson(engine: Engine, lines: Iterator[bytes], project_id: int) -> None:
    ts = (
        "CASE WHEN length({v}) = 20 THEN substr({v}, 1, 10) || ' ' || substr({v}, 12, 8) "
        "|| '.000000' ELSE substr({v}, 1, 10) || ' ' || substr({v}, 12, 15) END"
    )
    sql = (
        f"INSERT INTO documents ({COLUMNS}) SELECT {int(project_id)}, "
        "json_extract(j, '$.collection_id'), json_extract(j, '$.id'), "
        "json_extract(j, '$.data'), json_extract(j, '$.version'), "
        f"{ts.format(v='j_c')}, {ts.format(v='j_u')} FROM (SELECT ? AS j, "
        "json_extract(?1, '$.created_at') AS j_c, json_extract(?1, '$.updated_at') AS j_u)"
    )
    raw = engine.raw_connection()
    try:
        cur = raw.cursor()
        cur.execute("BEGIN IMMEDIATE")
        batch: list[tuple[str]] = []
        for line in lines:
            batch.append((line.decode(),))
            if len(batch) >= 10_000:
                cur.executemany(sql, batch)
                batch.clear()
        if batch:
            cur.executemany(sql, batch)
        cur.execute("COMMIT")
    finally:
        raw.close()


def load_copy(engine: Engine, lines: Iterator[bytes], project_id: int) -> None:
    raw = engine.raw_connection()
    try:
        cur = raw.cursor()
        with cast(Any, cur).copy(f"COPY documents ({COLUMNS}) FROM STDIN") as copy:
            for values in _tuples(lines, project_id, sqlite=False):
                copy.write_row(values)
        raw.commit()
    finally:
        raw.close()


def check_loaded(engine: Engine, project_id: int, expected: int) -> None:
    with engine.connect() as conn:
        n = conn.scalar(
            text("SELECT count(*) FROM documents WHERE project_id = :p"), {"p": project_id}
        )
        sample = conn.execute(
            text("SELECT data, created_at FROM documents WHERE project_id = :p LIMIT 1"),
            {"p": project_id},
        ).one()
    if n != expected:
        raise SystemExit(f"loaded {n} documents, expected {expected}")
    data = sample[0] if isinstance(sample[0], dict) else json.loads(sample[0])
    assert isinstance(data, dict) and data, sample


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--archive", type=Path, required=True)
    parser.add_argument("--pg-admin-url", default=None)
    parser.add_argument("--skip-passes", action="store_true")
    args = parser.parse_args(argv)
    path: Path = args.archive
    size = path.stat().st_size
    with path.open("rb") as f:
        verified = verify_archive(f, LIMITS)
    docs = verified.sections.get("documents", 0)
    print(f"archive {path} ({size / 2**20:.1f} MiB, {docs:,} documents)")
    if not args.skip_passes:
        print("passes over the archive:")
        timed("sha256", lambda: sha256_file(path), size=size)
        timed("inflate", lambda: inflate(path), size=size)

        def verify_strict() -> None:
            with path.open("rb") as f:
                verify_archive(f, LIMITS)

        def verify_structure() -> None:
            with path.open("rb") as f:
                verify_archive(f, LIMITS, check_rows=False)

        timed("verify", verify_strict, rows=docs, size=size)
        timed("verify-structure", verify_structure, size=size)
        timed("reader (rows)", lambda: reader_pass(path, verified), rows=docs, size=size)
    url, drop = fresh_database(args.pg_admin_url)
    engine = create_engine(url)
    try:
        sqlite = engine.dialect.name == "sqlite"
        print(f"documents into a fresh {'SQLite' if sqlite else 'PostgreSQL'} project:")
        project_id = prepare(engine, path, verified)
        loaders: dict[str, Callable[[], None]] = {
            "current": lambda: load_current(engine, path, verified, project_id),
            "dbapi": lambda: load_dbapi(engine, raw_document_lines(path, verified), project_id),
        }
        if sqlite:
            loaders["sqljson"] = lambda: load_sqljson(
                engine, raw_document_lines(path, verified), project_id
            )
        else:
            loaders["copy"] = lambda: load_copy(
                engine, raw_document_lines(path, verified), project_id
            )
        for name, load in loaders.items():
            clear(engine, project_id)
            timed(name, load, rows=docs)
            check_loaded(engine, project_id, docs)
    finally:
        engine.dispose()
        drop()


if __name__ == "__main__":
    main()

"""Documents per second of the restore's row path, variants side by side in one process.

    .venv/bin/python -m bench.scratch.restore_rows --rows 30000
    .venv/bin/python -m bench.scratch.restore_rows --rows 30000 --postgres

SQLite (in memory, the documents table with its primary key and index, no foreign keys):
parsing each line and converting every value (`SectionLoader._values`) against cutting it
at the writer's layout (`SectionLoader._cut`), then `executemany` of the cut rows.
PostgreSQL (a scratch database from the migrations): `COPY` against `executemany`, and
`COPY` once the `documents → projects` foreign key is dropped, once both foreign keys are,
and once the secondary index is too; each with the CPU this process spent (the rest is the
backend's).
"""

from __future__ import annotations

import argparse
import json
import sqlite3
import time

import cloudbox.models  # noqa: F401
from bench.dataset import COLLECTIONS, DatasetSpec, _iso, documents
from bench.scratch.pg_fixture import add_project, create_database, drop
from cloudbox.backups.sections import SPECS_BY_NAME
from cloudbox.db.engine import Database
from cloudbox.restores.bulk import SectionLoader

DOCS = SPECS_BY_NAME["documents"]
ADMIN = "postgresql+psycopg://postgres@127.0.0.1:5432/postgres"


def lines(count: int) -> list[bytes]:
    out: list[bytes] = []
    for row in documents(DatasetSpec.for_scale(0.1)):
        if len(out) >= count:
            break
        record = {
            "collection_id": row.collection,
            "id": row.id,
            "data": row.data,
            "version": 1,
            "created_at": _iso(row.created_at),
            "updated_at": _iso(row.updated_at),
        }
        out.append(json.dumps(record, ensure_ascii=False, separators=(",", ":")).encode())
    return out


class _Dialect:
    paramstyle = "qmark"


class _Bind:
    dialect = _Dialect()


class _NoSession:
    """Enough of a session for `SectionLoader` to build its SQLite statement."""

    def get_bind(self) -> _Bind:
        return _Bind()


def sqlite_variants(rows: list[bytes]) -> None:
    loader = SectionLoader(_NoSession(), DOCS, 7)  # type: ignore[arg-type]
    n = len(rows)
    started = time.perf_counter()
    parsed = [loader._values(json.loads(line)) for line in rows]
    parse_s = time.perf_counter() - started
    started = time.perf_counter()
    maybe_cut = [loader._cut(line) for line in rows]
    cut_s = time.perf_counter() - started
    cut = [values for values in maybe_cut if values is not None]
    if len(cut) != n or len(parsed) != n:
        raise SystemExit("a line did not cut")
    db = sqlite3.connect(":memory:")
    db.execute(
        "CREATE TABLE documents (project_id INT, collection_id TEXT, id TEXT, data JSON, "
        "version INT, created_at DATETIME, updated_at DATETIME, "
        "PRIMARY KEY (project_id, collection_id, id))"
    )
    db.execute("CREATE INDEX ix ON documents (project_id, collection_id, created_at, id)")
    started = time.perf_counter()
    db.executemany(loader._sql, cut)
    db.commit()
    insert_s = time.perf_counter() - started
    print(
        f"sqlite: parse+convert {n / parse_s:,.0f}/s, cut {n / cut_s:,.0f}/s "
        f"({parse_s / cut_s:.1f}x), executemany {n / insert_s:,.0f}/s"
    )


def _target(db: Database) -> int:
    """A project whose collection ids are the names the lines carry."""
    with db.engine.begin() as conn:
        return add_project(conn, {name: name for name in COLLECTIONS})


def _load(db: Database, rows: list[bytes], copy: bool) -> str:
    """Documents/s of loading `rows` into a new project, and the CPU this process spent."""
    pid = _target(db)
    cpu = time.process_time()
    started = time.perf_counter()
    with db.transaction() as session:
        loader = SectionLoader(session, DOCS, pid)
        if not copy:
            loader._copy_sql = None
        for start in range(0, len(rows), 2000):
            loader.insert_lines(rows[start : start + 2000])
    seconds = time.perf_counter() - started
    return f"{len(rows) / seconds:,.0f}/s (this process's CPU {time.process_time() - cpu:.2f} s)"


def _drop_foreign_keys(db: Database, referenced: str | None) -> None:
    """Drop the documents table's foreign keys (to `referenced` only, when given)."""
    only = "" if referenced is None else f" AND confrelid = '{referenced}'::regclass"
    with db.engine.begin() as conn:
        for (fk,) in conn.exec_driver_sql(
            "SELECT conname FROM pg_constraint WHERE conrelid = 'documents'::regclass "
            "AND contype = 'f'" + only
        ).fetchall():
            conn.exec_driver_sql(f'ALTER TABLE documents DROP CONSTRAINT "{fk}"')


def postgres_variants(rows: list[bytes], admin_url: str) -> None:
    """COPY against executemany, then COPY as constraints go: what the backend spends."""
    name, url = create_database(admin_url, prefix="bench_rows")
    try:
        db = Database(url)
        results: dict[str, str] = {
            "copy": _load(db, rows, copy=True),
            "executemany": _load(db, rows, copy=False),
        }
        _drop_foreign_keys(db, "projects")
        results["copy without documents→projects FK"] = _load(db, rows, copy=True)
        _drop_foreign_keys(db, None)
        results["copy without either FK"] = _load(db, rows, copy=True)
        with db.engine.begin() as conn:
            conn.exec_driver_sql("DROP INDEX ix_documents_collection_created")
        results["copy without FKs and the secondary index"] = _load(db, rows, copy=True)
        db.dispose()
        print("postgresql: " + ", ".join(f"{k} {v}" for k, v in results.items()))
    finally:
        drop(name, admin_url)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rows", type=int, default=30_000)
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--postgres", action="store_true")
    parser.add_argument("--pg-admin-url", default=ADMIN)
    args = parser.parse_args(argv)
    rows = lines(args.rows)
    for _ in range(args.rounds):
        sqlite_variants(rows)
        if args.postgres:
            postgres_variants(rows, args.pg_admin_url)


if __name__ == "__main__":
    main()

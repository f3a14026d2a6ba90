"""How fast a million documents go into a SQLite `documents` table that already holds a
million (another project's), by insert order, page cache and statement shape.

    .venv/bin/python -m bench.scratch.sqlite_insert_order --scale 1 --dir /tmp/ins

Builds (once, kept in --dir) a database from the migrations holding a source project with
the bench documents, and the same documents as archive lines in archive order
(collection, created_at, id). Each variant copies the base database, then inserts the
lines into a new project in one transaction through `SectionLoader`, committed; the
figure is documents per second from the first insert to the commit.
"""

from __future__ import annotations

import argparse
import json
import queue
import re
import shutil
import sqlite3
import sys
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import cloudbox.models  # noqa: F401
from bench.dataset import COLLECTIONS, DatasetSpec, _iso, documents, insert_documents
from bench.scratch.pg_fixture import add_project
from bench.scratch.restore_rows import _NoSession
from cloudbox.backups.sections import SPECS_BY_NAME
from cloudbox.db.engine import Database
from cloudbox.db.migrate import upgrade_database
from cloudbox.restores.bulk import _DOCUMENT_LINE, SectionLoader

DOCS = SPECS_BY_NAME["documents"]
IDS = {name: f"col-{name}" for name in COLLECTIONS}
BATCH = 2000


def build(directory: Path, scale: float) -> tuple[Path, Path]:
    base = directory / "base.db"
    lines = directory / "lines.ndjson"
    if base.exists() and lines.exists():
        return base, lines
    directory.mkdir(parents=True, exist_ok=True)
    url = f"sqlite:///{base}"
    upgrade_database(url)
    db = Database(url)
    with db.engine.begin() as conn:
        source = add_project(conn, IDS)
        add_project(conn, IDS)  # the target: source + 1
    db.dispose()
    insert_documents(url, source, IDS, DatasetSpec.for_scale(scale))
    records = []
    for row in documents(DatasetSpec.for_scale(scale)):
        records.append((IDS[row.collection], _iso(row.created_at), row.id, row))
    records.sort(key=lambda r: r[:3])
    with lines.open("wb") as out:
        for cid, _, _, row in records:
            out.write(
                (
                    f'{{"collection_id":"{cid}","id":"{row.id}","data":{json.dumps(row.data)},'
                    f'"version":1,"created_at":"{_iso(row.created_at)}",'
                    f'"updated_at":"{_iso(row.updated_at)}"}}\n'
                ).encode()
            )
    return base, lines


def batches(path: Path) -> Iterator[list[bytes]]:
    batch: list[bytes] = []
    with path.open("rb") as source:
        for line in source:
            batch.append(line.rstrip(b"\n"))
            if len(batch) >= BATCH:
                yield batch
                batch = []
    if batch:
        yield batch


Variant = Callable[[Any, SectionLoader, Path], None]


def cut(loader: SectionLoader, batch: list[bytes]) -> list[tuple[Any, ...]]:
    return [values for values in map(loader._cut, batch) if values is not None]


def without_json_check(sql: str) -> str:
    """The insert statement with `data` taken as given (no `json_valid`)."""
    return sql.replace("CASE WHEN json_valid(?4) THEN ?4 END", "?4")


def plain_table(raw: Any, loader: SectionLoader, name: str, *, temp: bool = False) -> str:
    """A table of the documents' columns with no key, index or constraint; returns the
    loader's insert statement aimed at it."""
    raw.execute(
        f"CREATE {'TEMP ' if temp else ''}TABLE {name} (project_id INT, collection_id TEXT, "
        "id TEXT, data TEXT, version INT, created_at TEXT, updated_at TEXT)"
    )
    return loader._sql.replace("INSERT INTO documents", f"INSERT INTO {name}")


def current(raw: Any, loader: SectionLoader, lines: Path) -> None:
    for batch in batches(lines):
        raw.executemany(loader._sql, cut(loader, batch))


def window_sorted(window: int) -> Variant:
    def run(raw: Any, loader: SectionLoader, lines: Path) -> None:
        pending: list[tuple[Any, ...]] = []
        for batch in batches(lines):
            pending.extend(cut(loader, batch))
            if len(pending) >= window:
                pending.sort(key=lambda v: (v[1], v[2]))
                raw.executemany(loader._sql, pending)
                pending = []
        pending.sort(key=lambda v: (v[1], v[2]))
        raw.executemany(loader._sql, pending)

    return run


def staged(window: int) -> Variant:
    """Cut rows into a TEMP table, then each window into documents in key order."""

    def run(raw: Any, loader: SectionLoader, lines: Path) -> None:
        stage_sql = plain_table(raw, loader, "stage", temp=True)
        move = "INSERT INTO documents SELECT * FROM temp.stage ORDER BY collection_id, id"
        count = 0
        for batch in batches(lines):
            raw.executemany(stage_sql, cut(loader, batch))
            count += len(batch)
            if count >= window:
                raw.execute(move)
                raw.execute("DELETE FROM temp.stage")
                count = 0
        raw.execute(move)
        raw.execute("DROP TABLE temp.stage")

    return run


def drop_index(raw: Any, loader: SectionLoader, lines: Path) -> None:
    raw.execute("DROP INDEX ix_documents_collection_created")
    current(raw, loader, lines)
    raw.execute(
        "CREATE INDEX ix_documents_collection_created ON documents "
        "(project_id, collection_id, created_at, id)"
    )


def bare_table(check: bool) -> Variant:
    """Into a table with no key, index or constraint: what the rows alone cost."""

    def run(raw: Any, loader: SectionLoader, lines: Path) -> None:
        sql = plain_table(raw, loader, "bare")
        if not check:
            sql = without_json_check(sql)
        for batch in batches(lines):
            raw.executemany(sql, cut(loader, batch))
        raw.execute("INSERT INTO documents SELECT * FROM bare WHERE 0")

    return run


def no_json_check(raw: Any, loader: SectionLoader, lines: Path) -> None:
    sql = without_json_check(loader._sql)
    for batch in batches(lines):
        raw.executemany(sql, cut(loader, batch))


def cut_only(raw: Any, loader: SectionLoader, lines: Path) -> None:
    for batch in batches(lines):
        for line in batch:
            loader._cut(line)


_LINE_BYTES = re.compile(_DOCUMENT_LINE.pattern.encode(), re.DOTALL)
#: one statement per batch: the columns from a JSON array (one element per row), `data`
#: sliced out of one blob of the batch's lines, so SQLite's step holds no GIL per row
_JSON_EACH_SQL = (
    "INSERT INTO documents (project_id, collection_id, id, data, version, created_at, "
    "updated_at) SELECT ?1, value->>0, value->>1, "
    "CASE WHEN json_valid(CAST(substr(?3, value->>2, value->>3) AS TEXT)) "
    "THEN CAST(substr(?3, value->>2, value->>3) AS TEXT) END, "
    "value->>4, value->>5, value->>6 FROM json_each(?2)"
)


def _packed(batch: list[bytes]) -> tuple[str, bytes]:
    """The batch as (JSON array of each row's columns and `data` span, joined lines)."""
    rows: list[bytes] = []
    position = 1  # substr() counts from 1
    for line in batch:
        match = _LINE_BYTES.fullmatch(line)
        if match is None:
            raise SystemExit("a line did not cut")
        cid, did, _, version, d1, t1, f1, d2, t2, f2 = match.groups()
        start, end = match.span(3)
        rows.append(
            b'["%s","%s",%d,%d,%s,"%s %s.%s","%s %s.%s"]'
            % (
                cid,
                did,
                position + start,
                end - start,
                version,
                d1,
                t1,
                (f1 or b"").ljust(6, b"0"),
                d2,
                t2,
                (f2 or b"").ljust(6, b"0"),
            )
        )
        position += len(line) + 1
    return (b"[" + b",".join(rows) + b"]").decode(), b"\n".join(batch)


def json_each_single(raw: Any, loader: SectionLoader, lines: Path) -> None:
    for batch in batches(lines):
        raw.execute(_JSON_EACH_SQL, (loader._target, *_packed(batch)))


def _pipelined(
    produce: Callable[[list[bytes]], Any], insert: Callable[[Any], None]
) -> Callable[[Path], None]:
    """Batches prepared by `produce` in a thread, consumed by `insert` here."""

    def run(lines: Path) -> None:
        handed: queue.Queue[Any] = queue.Queue(maxsize=3)

        def producer() -> None:
            for batch in batches(lines):
                handed.put(produce(batch))
            handed.put(None)

        thread = threading.Thread(target=producer)
        thread.start()
        try:
            while (item := handed.get()) is not None:
                insert(item)
        finally:
            thread.join()

    return run


def json_each_pipeline(raw: Any, loader: SectionLoader, lines: Path) -> None:
    insert = lambda packed: raw.execute(_JSON_EACH_SQL, (loader._target, *packed))  # noqa: E731
    _pipelined(_packed, insert)(lines)


def executemany_pipeline(interval: float) -> Variant:
    """Lines cut in a thread while this one inserts, with the given GIL switch interval."""

    def run(raw: Any, loader: SectionLoader, lines: Path) -> None:
        old = sys.getswitchinterval()
        sys.setswitchinterval(interval)
        try:
            produce = lambda batch: cut(loader, batch)  # noqa: E731
            _pipelined(produce, lambda rows: raw.executemany(loader._sql, rows))(lines)
        finally:
            sys.setswitchinterval(old)

    return run


def run_variant(
    name: str, variant: Variant, base: Path, lines: Path, work: Path, pragmas: list[str]
) -> None:
    db_path = work / "variant.db"
    for suffix in ("", "-wal", "-shm"):
        Path(f"{db_path}{suffix}").unlink(missing_ok=True)
    shutil.copyfile(base, db_path)
    raw = sqlite3.connect(db_path, isolation_level=None)
    raw.execute("PRAGMA journal_mode=WAL")
    raw.execute("PRAGMA synchronous=NORMAL")
    raw.execute("PRAGMA foreign_keys=ON")
    raw.execute("PRAGMA wal_autocheckpoint=0")
    raw.execute("PRAGMA cache_size=-16384")
    for pragma in pragmas:
        raw.execute(pragma)
    target = raw.execute("SELECT max(id) FROM projects").fetchone()[0]
    raw.execute("BEGIN IMMEDIATE")
    loader = SectionLoader(_NoSession(), DOCS, target)  # type: ignore[arg-type]
    started = time.perf_counter()
    variant(raw, loader, lines)
    raw.execute("COMMIT")
    seconds = time.perf_counter() - started
    query = "SELECT count(*) FROM documents WHERE project_id = ?"
    count = raw.execute(query, (target,)).fetchone()[0]
    raw.close()
    print(f"{name:40s} {count:>9,} rows {seconds:7.2f} s {count / seconds:>10,.0f}/s", flush=True)


VARIANTS: dict[str, tuple[Variant, list[str]]] = {
    "current": (current, []),
    "cut only": (cut_only, []),
    "fk off": (current, ["PRAGMA foreign_keys=OFF"]),
    "cache 64 MiB": (current, ["PRAGMA cache_size=-65536"]),
    "window sort 50k": (window_sorted(50_000), []),
    "window sort 20k": (window_sorted(20_000), []),
    "window sort 5k": (window_sorted(5_000), []),
    "staged 100k": (staged(100_000), []),
    "staged all": (staged(10**9), []),
    "drop + create index": (drop_index, []),
    "bare table": (bare_table(True), []),
    "bare table, no json check": (bare_table(False), []),
    "no json check": (no_json_check, []),
    "json_each single": (json_each_single, []),
    "json_each pipeline": (json_each_pipeline, []),
    "executemany pipeline 5 ms": (executemany_pipeline(0.005), []),
    "executemany pipeline 0.5 ms": (executemany_pipeline(0.0005), []),
    "executemany pipeline 50 us": (executemany_pipeline(0.00005), []),
}


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--scale", type=float, default=1.0)
    parser.add_argument("--dir", type=Path, default=Path("/tmp/ins"))
    parser.add_argument("--only", nargs="*")
    args = parser.parse_args()
    base, lines = build(args.dir, args.scale)
    for name, (variant, pragmas) in VARIANTS.items():
        if args.only and name not in args.only:
            continue
        run_variant(name, variant, base, lines, args.dir, pragmas)


if __name__ == "__main__":
    main()

"""The documents section read by two connections over alternate key ranges, against one.

    .venv/bin/python -m bench.scratch.parallel_reads --sqlite /tmp/ins/base.db --project 1
    .venv/bin/python -m bench.scratch.parallel_reads \\
        --postgres postgresql+psycopg://postgres@127.0.0.1/db --project 1

The SQLite database is the one `bench.scratch.sqlite_insert_order --dir /tmp/ins` builds;
the PostgreSQL one, the URL `bench.scratch.pg_fixture create` prints.

Each variant runs `write_project` (a real archive, to a temporary file) with the section's
reader swapped: "one" is the code as it is; "rows" splits the section into ranges of
`--range` rows of the `(collection_id, created_at, id)` order and lets the calling
thread read the even ranges while a second connection reads the odd ones in a thread
(chunks handed over in order, a few MiB queued); "grouped" (SQLite) does the same with one
`group_concat` row per range, so each range is one SQLite step without the GIL.

Not a snapshot: the second connection starts its own read transaction, which is what a
product version would have to fix (PostgreSQL: `pg_export_snapshot`, used here; SQLite:
start every reader while a write lock is held). The database must not change meanwhile.
"""

from __future__ import annotations

import argparse
import itertools
import os
import queue
import sqlite3
import threading
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, contextmanager
from datetime import datetime
from operator import itemgetter
from typing import Any

import cloudbox.models  # noqa: F401
from bench.scratch.bench_backup import after
from cloudbox.backups import archiver, sections
from cloudbox.backups.sections import SectionSpec, _fix_timestamps
from cloudbox.db.engine import Database

KEY = ("collection_id", "created_at", "id")
Reader = Callable[[Any, str, list[Any]], Iterator[tuple[int, bytes]]]


def _sql(conn: Any, spec: SectionSpec, project_id: int, now: datetime | None) -> tuple[str, str]:
    """The section's statement split into its head (up to the WHERE) and its ORDER BY."""
    query = spec.rows_query(project_id, now)
    sql = str(query.compile(dialect=conn.dialect, compile_kwargs={"literal_binds": True}))
    head, order = sql.split(" ORDER BY ")
    return head, order


def _bounds(raw: Any, project_id: int, step: int, mark: str) -> list[tuple[Any, ...]]:
    """Every `step`-th key of the project's documents, walking the covering index."""
    keys: list[tuple[Any, ...]] = []
    columns = ", ".join(KEY)
    base = f"SELECT {columns} FROM documents WHERE project_id = {mark}"
    after_key = f" AND ({columns}) > ({mark}, {mark}, {mark})"
    tail = f" ORDER BY {columns} LIMIT 1 OFFSET {mark}"
    last: tuple[Any, ...] | None = None
    while True:
        if last is None:
            row = raw.execute(base + tail, (project_id, step - 1)).fetchone()
        else:
            row = raw.execute(base + after_key + tail, (project_id, *last, step - 1)).fetchone()
        if row is None:
            return keys
        keys.append(tuple(row))
        last = tuple(row)


def _ranges(
    head: str, order: str, keys: list[tuple[Any, ...]], mark: str
) -> list[tuple[str, list[Any]]]:
    columns = ", ".join(f"documents.{name}" for name in KEY)
    edges: list[tuple[Any, ...] | None] = [None, *keys, None]
    ranges = []
    for low, high in itertools.pairwise(edges):
        where, params = [], []
        if low is not None:
            where.append(f"({columns}) > ({mark}, {mark}, {mark})")
            params += list(low)
        if high is not None:
            where.append(f"({columns}) <= ({mark}, {mark}, {mark})")
            params += list(high)
        ranges.append((head + "".join(" AND " + w for w in where) + " ORDER BY " + order, params))
    return ranges


def _lines(cursor: Any, batch_rows: int = 2000) -> Iterator[tuple[int, bytes]]:
    first = itemgetter(0)
    while rows := cursor.fetchmany(batch_rows):
        yield len(rows), _fix_timestamps(("\n".join(map(first, rows)) + "\n").encode())


def _rows(raw: Any, sql: str, params: list[Any]) -> Iterator[tuple[int, bytes]]:
    cursor = raw.execute(sql, params)
    try:
        yield from _lines(cursor)
    finally:
        cursor.close()


def _grouped(raw: Any, sql: str, params: list[Any]) -> Iterator[tuple[int, bytes]]:
    select, rest = sql.split(" \nFROM ", 1)
    line = select[len("SELECT ") :].rsplit(" AS ", 1)[0]
    text, count = raw.execute(
        f"SELECT group_concat(line, char(10)), count(*) FROM (SELECT {line} AS line \nFROM {rest})",
        params,
    ).fetchone()
    if count:
        yield count, _fix_timestamps((text + "\n").encode())


def _interleaved(
    ranges: list[tuple[str, list[Any]]], mine: Any, other: Any, read: Reader
) -> Iterator[tuple[int, bytes]]:
    """Even ranges read here, odd ones by `other` in a thread, yielded in order."""
    handed: queue.Queue[tuple[int, bytes] | None] = queue.Queue(maxsize=4)

    def second() -> None:
        for sql, params in ranges[1::2]:
            for item in read(other, sql, params):
                handed.put(item)
            handed.put(None)

    thread = threading.Thread(target=second, daemon=True)
    thread.start()
    for number, (sql, params) in enumerate(ranges[0::2]):
        yield from read(mine, sql, params)
        if 2 * number + 1 < len(ranges):
            while (item := handed.get()) is not None:
                yield item
    thread.join()


def _reader(
    open_other: Callable[[Any], AbstractContextManager[Any]], step: int, mark: str, read: Reader
) -> Callable[..., Iterator[tuple[int, bytes]]]:
    """`section_chunks` with the documents read by two connections; `open_other` gives the
    second one, given the first (the snapshot's)."""
    current = sections.section_chunks

    def chunks(
        conn: Any, spec: SectionSpec, project_id: int, now: datetime | None = None, **kw: Any
    ) -> Iterator[tuple[int, bytes]]:
        if spec.name != "documents":
            yield from current(conn, spec, project_id, now, **kw)
            return
        raw = conn.connection.driver_connection
        with open_other(raw) as other:
            head, order = _sql(conn, spec, project_id, now)
            ranges = _ranges(head, order, _bounds(raw, project_id, step, mark), mark)
            yield from _interleaved(ranges, raw, other, read)

    return chunks


def sqlite_reader(path: str, step: int, read: Reader) -> Callable[..., Iterator[tuple[int, bytes]]]:
    @contextmanager
    def open_other(_: Any) -> Iterator[sqlite3.Connection]:
        other = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
        try:
            other.execute("BEGIN")
            other.execute("SELECT count(*) FROM sqlite_master").fetchone()
            yield other
        finally:
            other.close()

    return _reader(open_other, step, "?", read)


def postgres_reader(url: str, step: int) -> Callable[..., Iterator[tuple[int, bytes]]]:
    import psycopg

    names = iter(range(10**9))

    @contextmanager
    def open_other(raw: Any) -> Iterator[Any]:
        snapshot = raw.execute("SELECT pg_export_snapshot()").fetchone()[0]
        with psycopg.connect(url.replace("+psycopg", "")) as other:
            other.execute("BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY")
            other.execute(f"SET TRANSACTION SNAPSHOT '{snapshot}'")
            yield other

    def read(raw: Any, sql: str, params: list[Any]) -> Iterator[tuple[int, bytes]]:
        with raw.cursor(name=f"range_{next(names)}") as cursor:
            cursor.execute(sql, params)
            yield from _lines(cursor)

    return _reader(open_other, step, "%s", read)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    where = parser.add_mutually_exclusive_group(required=True)
    where.add_argument("--sqlite", help="path of a SQLite database")
    where.add_argument("--postgres", help="a postgresql+psycopg:// URL")
    parser.add_argument("--project", type=int, default=1)
    parser.add_argument("--range", type=int, default=None, help="rows per range")
    parser.add_argument("--rounds", type=int, default=2)
    args = parser.parse_args(argv)
    if args.sqlite:
        url = f"sqlite:///{args.sqlite}"
        step = args.range or 2000
        variants = {
            "rows": sqlite_reader(args.sqlite, step, _rows),
            "grouped": sqlite_reader(args.sqlite, step, _grouped),
        }
    else:
        url = args.postgres
        step = args.range or 20000
        variants = {"rows": postgres_reader(url, step)}
    db = Database(url)
    current = sections.section_chunks
    for _ in range(args.rounds):
        for name, reader in {"one": current, **variants}.items():
            archiver.section_chunks = reader  # type: ignore[attr-defined]
            cpu = os.times()
            try:
                rows, seconds, _ = after(db, args.project)
            finally:
                archiver.section_chunks = current  # type: ignore[attr-defined]
            used = os.times()
            cpu_s = used.user - cpu.user + used.system - cpu.system
            rate = rows / seconds
            print(f"{name:8s} {rows:>9,} rows {seconds:6.2f} s {rate:>9,.0f}/s cpu {cpu_s:5.2f} s")
    db.dispose()


if __name__ == "__main__":
    main()

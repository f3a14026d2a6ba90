"""Inserts a section's archive rows in bulk: parameter tuples through one DBAPI
`executemany` per batch.

The restore used to bind every row through SQLAlchemy's per-value processors (JSON
serialiser, `UTCDateTime`), which cost more than the database's own insert. Rows here are
converted once by small per-column functions that do the same work the column types
would (JSON text, naive-UTC timestamps in the dialect's storage form) and check what those
types would have refused, so a forged archive still fails the restore instead of storing
values the application cannot read back. A row that does not carry exactly the section's
columns takes the general path (`decode_row` and SQLAlchemy), which fills defaults.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

import psycopg
from sqlalchemy import JSON, Boolean, Integer, String
from sqlalchemy.exc import DBAPIError
from sqlalchemy.orm import Session

from cloudbox.backups.sections import SectionSpec, decode_row
from cloudbox.db.types import UTCDateTime
from cloudbox.restores.errors import InvalidArchiveError

Converter = Callable[[Any], Any]

#: the form `UTCDateTime` values take in archives: converted by slicing, no parsing
_ARCHIVE_TIMESTAMP = re.compile(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(?:\.\d{1,6})?Z", re.ASCII)


def _invalid(reason: str) -> InvalidArchiveError:
    return InvalidArchiveError(details={"reason": reason[:300]})


def db_timestamp(value: Any, where: str) -> str:
    """An archived timestamp as the naive-UTC text both databases store and compare.

    SQLAlchemy writes SQLite `DATETIME` as `YYYY-MM-DD HH:MM:SS.ffffff` (always six
    digits: timestamps are compared as text there); PostgreSQL parses the same text.
    """
    if type(value) is str and _ARCHIVE_TIMESTAMP.fullmatch(value):
        fraction = value[20:-1]
        return f"{value[:10]} {value[11:19]}.{fraction:0<6}"
    if not isinstance(value, str):
        raise _invalid(f"{where} must be a timestamp string")
    try:
        parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        raise _invalid(f"{where} is not an ISO-8601 timestamp") from None
    if parsed.tzinfo is None:
        raise _invalid(f"{where} has no time zone")
    return parsed.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S.%f")


def parse_line(line: bytes, where: str) -> dict[str, Any]:
    """One archive row by the C parser (the archive's recorded digest proved the line)."""
    try:
        row = json.loads(line)
    except ValueError:
        row = None
    if type(row) is not dict:
        raise _invalid(f"{where}: a line is not a JSON object")
    return row


def _checked(kind: type, label: str, where: str) -> Converter:
    def check(value: Any) -> Any:
        if value is not None and (
            not isinstance(value, kind) or (kind is int and isinstance(value, bool))
        ):
            raise _invalid(f"{where} must be {label}")
        return value

    return check


def _converter(spec: SectionSpec, name: str) -> Converter | None:
    """None for no conversion; converters other than JSON's pass None through."""
    column = spec.table.c[name]
    where = f"{spec.name}.{name}"
    if isinstance(column.type, UTCDateTime):
        return lambda value: None if value is None else db_timestamp(value, where)
    if isinstance(column.type, JSON):
        # like the column type (`none_as_null` off): None is stored as JSON null
        return json.dumps
    if isinstance(column.type, Boolean):
        return _checked(bool, "true or false", where)
    if isinstance(column.type, Integer):
        return _checked(int, "an integer", where)
    if isinstance(column.type, String):
        return _checked(str, "a string", where)
    return None


_DOCUMENT_LAYOUT = ("collection_id", "id", "data", "version", "created_at", "updated_at")
_LINE_TIMESTAMP = r'"([0-9]{4}-[0-9]{2}-[0-9]{2})T([0-9]{2}:[0-9]{2}:[0-9]{2})(?:\.([0-9]{1,6}))?Z"'
#: A documents line exactly as the writer lays it out. Ids without escapes (a backslash
#: or quote fails the match and the line is parsed instead); `data` is everything up to
#: the tail: greedy, and the tail holds no `,"version":`, so it ends where the tail
#: begins. JSON integers only (no leading zeros, at most 18 digits).
_DOCUMENT_LINE = re.compile(
    r'\{"collection_id":"([^"\\]*)","id":"([^"\\]*)","data":(.*),'
    r'"version":(-?(?:0|[1-9][0-9]{0,17})),'
    r'"created_at":' + _LINE_TIMESTAMP + r',"updated_at":' + _LINE_TIMESTAMP + r"\}",
    re.DOTALL,
)


class SectionLoader:
    """Inserts one section's rows into the target project."""

    def __init__(self, session: Session, spec: SectionSpec, target: int) -> None:
        self._session = session
        self._spec = spec
        self._target = target
        self._names = [c.name for c in spec.columns()]
        self._keys = frozenset(self._names)
        self._converters = [(name, _converter(spec, name)) for name in self._names]
        columns = ", ".join([spec.project_column, *self._names])
        sqlite = session.get_bind().dialect.paramstyle == "qmark"
        self._sql = (
            self._sqlite_insert(spec, columns) if sqlite else self._postgresql_insert(spec, columns)
        )
        self._copy_sql = None if sqlite else f"COPY {spec.table_name} ({columns}) FROM STDIN"
        # a migration that changes the documents' columns turns the cut off, not wrong
        self._layout = _DOCUMENT_LAYOUT if tuple(self._names) == _DOCUMENT_LAYOUT else None

    def _sqlite_insert(self, spec: SectionSpec, columns: str) -> str:
        """SQLite stores JSON as text without looking at it, so the statement checks it:
        `json(?)` (the minified text) for JSON columns; the `verbatim_json` ones keep the
        text as given when `json_valid` accepts it and become NULL otherwise, which their
        NOT NULL constraint refuses (`insert_lines` reports the line). An
        `INSERT … SELECT … WHERE json_valid(…)` instead cost a third of the insert rate."""
        marks = ["?1"]  # project column
        for number, name in enumerate(self._names, start=2):
            column = spec.table.c[name]
            if not isinstance(column.type, JSON):
                marks.append(f"?{number}")
            elif name in spec.verbatim_json:
                if column.nullable:
                    raise ValueError(f"{spec.name}.{name}: verbatim JSON needs NOT NULL")
                marks.append(f"CASE WHEN json_valid(?{number}) THEN ?{number} END")
            else:
                marks.append(f"json(?{number})")
        return f"INSERT INTO {spec.table_name} ({columns}) VALUES ({', '.join(marks)})"

    def _postgresql_insert(self, spec: SectionSpec, columns: str) -> str:
        marks = ", ".join(["%s"] * (len(self._names) + 1))
        return f"INSERT INTO {spec.table_name} ({columns}) VALUES ({marks})"

    @property
    def reads_lines(self) -> bool:
        """Whether :meth:`insert_lines` can take raw lines (no per-row transform needed)."""
        return self._layout is not None

    def insert_lines(self, lines: list[bytes]) -> int:
        """Insert raw archive lines (documents); returns how many."""
        fast: list[tuple[Any, ...]] = []
        parsed: list[dict[str, Any]] = []
        for line in lines:
            values = self._cut(line)
            if values is not None:
                fast.append(values)
                continue
            parsed.append(parse_line(line, self._spec.name))
        if fast:
            try:
                self._write(fast)
            except (DBAPIError, psycopg.Error):
                self._explain(lines)
                raise
        if parsed:
            self.insert(parsed)
        return len(lines)

    def _explain(self, lines: list[bytes]) -> None:
        """The database refused a batch of cut lines: if a line is at fault (say, keys
        around `data` that the cut took for part of it), report that line as the
        archive's error (422) rather than the database's."""
        for line in lines:
            self._decode(parse_line(line, self._spec.name))

    def _cut(self, line: bytes) -> tuple[Any, ...] | None:
        """A documents line taken apart at the writer's layout, or None if it differs
        (the caller then parses it). One regular expression, no JSON parsing: `data` is
        passed on as text for the database to check (see `_DOCUMENT_LINE`)."""
        try:
            match = _DOCUMENT_LINE.fullmatch(line.decode())
        except UnicodeDecodeError:
            return None  # parse_line reports it
        if match is None:
            return None
        collection_id, doc_id, data, version, d1, t1, f1, d2, t2, f2 = match.groups()
        return (
            self._target,
            collection_id,
            doc_id,
            data,
            int(version),
            f"{d1} {t1}.{f1 or '':0<6}",
            f"{d2} {t2}.{f2 or '':0<6}",
        )

    def insert(self, rows: list[dict[str, Any]]) -> int:
        """Insert `rows` (archive rows, already transformed); returns how many."""
        fast: list[tuple[Any, ...]] = []
        other: list[dict[str, Any]] = []
        keys = self._keys
        for row in rows:
            if row.keys() == keys:
                fast.append(self._values(row))
            else:
                other.append(row)
        if fast:
            self._write(fast)
        if other:
            self._session.execute(self._spec.table.insert(), [self._decode(r) for r in other])
        return len(rows)

    def _write(self, rows: list[tuple[Any, ...]]) -> None:
        """One executemany on SQLite; on PostgreSQL one COPY, in the same transaction
        (several times faster than even pipelined INSERTs, and the values are already
        text in the form the columns' input functions read)."""
        connection = self._session.connection()
        if self._copy_sql is None:
            connection.exec_driver_sql(self._sql, rows)
            return
        raw: Any = connection.connection.driver_connection
        with raw.cursor() as cursor, cursor.copy(self._copy_sql) as copy:
            for row in rows:
                copy.write_row(row)

    def _values(self, row: dict[str, Any]) -> tuple[Any, ...]:
        values = [self._target]
        for name, convert in self._converters:
            value = row[name]
            values.append(value if convert is None else convert(value))
        return tuple(values)

    def _decode(self, row: dict[str, Any]) -> dict[str, Any]:
        try:
            return decode_row(self._spec, row, self._target)
        except ValueError as exc:
            raise _invalid(str(exc)) from None

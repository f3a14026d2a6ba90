"""Which table each archive section holds, and how rows become JSON lines and back.

The mapping is the only place that knows both the archive's section names (DESIGN §3)
and the schema. Rows are exported column by column (minus `project_id`, which a restore
rewrites), so a column added by a migration travels without touching the archiver.

The database builds each archive line itself (`json_line`): JSON columns are already JSON
text there, so decoding them into Python objects only to encode them again cost most of
a backup's CPU. Python joins the lines into chunks and never looks at a row.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from operator import itemgetter
from typing import Any

from sqlalchemy import (
    JSON,
    Boolean,
    Column,
    ColumnElement,
    Connection,
    Integer,
    Select,
    String,
    Table,
    Text,
    func,
    select,
)
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.sql.compiler import SQLCompiler
from sqlalchemy.sql.functions import FunctionElement

import cloudbox.models  # noqa: F401  (registers every table)
from cloudbox.db.base import Base
from cloudbox.db.types import UTCDateTime, utcnow

AUDIT_RETENTION = timedelta(days=90)
#: rows fetched per round trip; ~1 MiB of documents, so memory stays bounded
BATCH_ROWS = 2000


@dataclass(frozen=True)
class SectionSpec:
    name: str
    table_name: str
    #: the rows of the project live in this column (the project row itself: `id`)
    project_column: str = "project_id"
    #: columns never exported (derived or server-local state)
    exclude: frozenset[str] = frozenset()
    #: only rows younger than this are exported (audit logs: the last three months)
    max_age: timedelta | None = None
    #: row order of the section (default: the primary key). A total order, because the
    #: restore drill compares a re-export of the restored rows byte for byte with the
    #: archive; for big sections one an index yields in roughly insertion order, since
    #: walking the primary key visits the table's pages at random (4-5x slower).
    order: tuple[str, ...] = ()
    #: JSON columns exported as the text the database holds, unnormalised (SQLite). The
    #: restore stores their text as it reads it (`restores/bulk.py`), so a re-export of
    #: restored rows gives the same bytes; normalising a million documents with `json()`
    #: cost a third of a backup's time. Every write path stores valid JSON there (the
    #: column type's serialiser; the restore checks with `json_valid`).
    verbatim_json: frozenset[str] = frozenset()

    @property
    def table(self) -> Table:
        return Base.metadata.tables[self.table_name]

    def columns(self) -> list[Column[Any]]:
        skip = self.exclude | {self.project_column}
        return [c for c in self.table.columns if c.name not in skip]

    def _where(self, project_id: int, now: datetime | None) -> list[ColumnElement[bool]]:
        table = self.table
        where = [table.c[self.project_column] == project_id]
        if self.max_age is not None:
            where.append(table.c.created_at >= (now or utcnow()) - self.max_age)
        return where

    def rows_query(self, project_id: int, now: datetime | None = None) -> Select[Any]:
        """One column: each row's archive line as text (see `json_line`), in `order`."""
        table = self.table
        order = self.order or tuple(
            c.name for c in table.primary_key.columns if c.name != self.project_column
        )
        return (
            select(json_line(*self.columns(), verbatim=self.verbatim_json))
            .where(*self._where(project_id, now))
            .order_by(*[table.c[name] for name in order])
        )

    def count_query(self, project_id: int, now: datetime | None = None) -> Select[Any]:
        return select(func.count()).select_from(self.table).where(*self._where(project_id, now))


SECTION_SPECS: tuple[SectionSpec, ...] = (
    SectionSpec("project", "projects", project_column="id", exclude=frozenset({"created_by"})),
    SectionSpec("auth_settings", "app_auth_settings"),
    SectionSpec("users", "app_users"),
    SectionSpec("collections", "collections"),
    # ix_documents_collection_created: documents are mostly created in insertion order
    SectionSpec(
        "documents",
        "documents",
        order=("collection_id", "created_at", "id"),
        verbatim_json=frozenset({"data"}),
    ),
    SectionSpec("storage_buckets", "storage_buckets"),
    SectionSpec("files", "files"),
    SectionSpec("functions", "functions"),
    SectionSpec("function_domains", "function_domains"),
    SectionSpec("ssh_keys", "ssh_keys"),
    SectionSpec("github_repositories", "github_repositories"),
    SectionSpec("web_servers", "web_servers"),
    SectionSpec("deployments", "deployments"),
    SectionSpec("api_keys", "api_keys", exclude=frozenset({"last_used_at"})),
    SectionSpec("cors_configs", "cors_configs"),
    # ix_audit_logs_project_created, which also serves the max_age range
    SectionSpec("audit_logs", "audit_logs", max_age=AUDIT_RETENTION, order=("created_at", "id")),
)
SPECS_BY_NAME = {spec.name: spec for spec in SECTION_SPECS}


# -- lines built by the database ------------------------------------------------------


class json_line(FunctionElement[str]):
    """A row of the given columns as one archive line: a JSON object on one line whose
    keys are the column names, in order.

    Values keep the meaning today's decoders give them: JSON columns are inserted as the
    JSON text the database holds, in its canonical form (SQLite's `json()` minified text,
    PostgreSQL's `jsonb` output) or, for the `verbatim` columns on SQLite, as stored;
    strings are JSON-quoted by the database, booleans are `true`/`false`, and timestamps
    (naive UTC) are written as `datetime.isoformat()` of the aware value with `Z`:
    `2026-11-26T06:53:21.123456Z`, or without the fraction when it is zero. A SQLite
    timestamp not in the 26-character text form SQLAlchemy stores is passed out raw
    between the bytes 0x01 and 0x02 and converted in Python (`_fix_timestamps`): JSON
    text never holds a raw control character.
    """

    type = Text()
    name = "json_line"
    inherit_cache = True

    def __init__(self, *columns: Any, verbatim: frozenset[str] = frozenset()) -> None:
        super().__init__(*columns)
        self.verbatim = verbatim


def _sql_text(value: str) -> str:
    return "'" + value.replace("'", "''") + "'"


def _key(column: Any) -> str:
    name = str(column.name)
    if not re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*", name):  # keeps the SQL literals plain
        raise ValueError(f"column name {name!r} cannot be an archive key")
    return json.dumps(name)


def _kind(column: Any) -> str:
    kind = column.type
    if isinstance(kind, UTCDateTime):
        return "timestamp"
    if isinstance(kind, JSON):
        return "json"
    if isinstance(kind, Boolean):
        return "bool"
    if isinstance(kind, Integer):
        return "int"
    if isinstance(kind, String):
        return "str"
    raise TypeError(f"no archive encoding for column {column.name} of type {kind!r}")


_BOOL = "CASE WHEN {c} IS NULL THEN 'null' WHEN {c} THEN 'true' ELSE 'false' END"
_NULLABLE = "CASE WHEN {c} IS NULL THEN 'null' ELSE {value} END"
#: SQLite templates per kind; `{c}` is the column. Each SQL function call per row shows
#: in a million-row section, so NOT NULL columns skip the NULL test (`_sqlite_value`).
_SQLITE_VALUE = {
    "str": "json_quote({c})",
    "int": "{c}",
    # json(): SQLite's minified form of the stored text. The export must not depend on
    # how the text was spaced (json.dumps' default, or the restore's json(?) insert),
    # or the restore drill's byte comparison fails; it also refuses malformed text.
    "json": "coalesce(json({c}), 'null')",
    "verbatim": "coalesce({c}, 'null')",
    "bool": _BOOL,
    # SQLAlchemy stores 'YYYY-MM-DD HH:MM:SS.ffffff' (26 characters, always six digits)
    "timestamp": (
        "CASE WHEN length({c}) = 26 AND substr({c}, 11, 1) = ' ' "
        "THEN '\"' || replace(replace({c}, ' ', 'T'), '.000000', '') || 'Z\"' "
        "ELSE char(1) || {c} || char(2) END"
    ),
}
_POSTGRESQL_VALUE = {
    "str": "coalesce(to_json({c})::text, 'null')",
    "int": "coalesce({c}::text, 'null')",
    "json": "coalesce({c}::text, 'null')",
    "bool": _BOOL,
    "timestamp": (
        "CASE WHEN {c} IS NULL THEN 'null' ELSE '\"' || "
        "replace(to_char({c}, 'YYYY-MM-DD\"T\"HH24:MI:SS.US'), '.000000', '') || 'Z\"' END"
    ),
}


def _sqlite_value(column: Any, sql: str, verbatim: frozenset[str]) -> str:
    kind = _kind(column)
    if kind == "json" and column.name in verbatim:
        kind = "verbatim"
    value = _SQLITE_VALUE[kind].format(c=sql)
    if not column.nullable:
        return value
    if kind == "int":
        return f"coalesce({value}, 'null')"
    if kind == "timestamp":
        return _NULLABLE.format(c=sql, value=value)
    return value  # json_quote(NULL) is already null; the rest handle NULL themselves


@compiles(json_line, "sqlite")
def _json_line_sqlite(element: json_line, compiler: SQLCompiler, **kw: Any) -> str:
    # printf: one allocation per line, where || copies the growing line per column
    template: list[str] = []
    values: list[str] = []
    for column in element.clauses:
        template.append(("," if template else "{") + _key(column) + ":%s")
        sql = compiler.process(column, **kw)
        values.append(_sqlite_value(column, sql, element.verbatim))
    return f"printf({_sql_text(''.join(template) + '}')}, {', '.join(values)})"


@compiles(json_line, "postgresql")
def _json_line_postgresql(element: json_line, compiler: SQLCompiler, **kw: Any) -> str:
    parts: list[str] = []
    for column in element.clauses:
        parts.append(_sql_text(("," if parts else "{") + _key(column) + ":"))
        parts.append(_POSTGRESQL_VALUE[_kind(column)].format(c=compiler.process(column, **kw)))
    parts.append("'}'")
    return "(" + " || ".join(parts) + ")"


_RAW_TIMESTAMP_RE = re.compile(rb"\x01([^\x01\x02]*)\x02")


def _iso_timestamp(match: re.Match[bytes]) -> bytes:
    raw = match.group(1).decode()
    try:
        # what UTCDateTime.process_result_value makes of a stored string
        value = datetime.fromisoformat(raw).replace(tzinfo=UTC)
    except ValueError:
        raise ValueError(f"unreadable timestamp {raw!r} in the database") from None
    return json.dumps(value.isoformat().replace("+00:00", "Z")).encode()


def _fix_timestamps(lines: bytes) -> bytes:
    if b"\x01" in lines:
        return _RAW_TIMESTAMP_RE.sub(_iso_timestamp, lines)
    return lines


def encode_rows(spec: SectionSpec, rows: Iterable[Any]) -> Iterator[bytes]:
    """Each row of `spec.rows_query` as its archive line (bytes, no newline).

    The per-row form of `section_chunks`, for callers that compare a section with an
    archive row by row; both produce the same bytes.
    """
    for (line,) in rows:
        yield _fix_timestamps(line.encode())


def section_chunks(
    conn: Connection,
    spec: SectionSpec,
    project_id: int,
    now: datetime | None = None,
    *,
    batch_rows: int = BATCH_ROWS,
) -> Iterator[tuple[int, bytes]]:
    """The section's lines in newline-terminated chunks, with the rows in each chunk.

    Read through `conn`'s own DBAPI connection, so inside its transaction (a backup's
    snapshot), with plain `fetchmany`: a SQLAlchemy row per line would cost more than the
    line. On PostgreSQL a named (server-side) cursor keeps memory to one batch.
    """
    query = spec.rows_query(project_id, now)
    # Literal binds: the only parameters are the project id and a timestamp, rendered
    # by their SQLAlchemy types, and the statement then runs on the raw cursor as is.
    sql = str(query.compile(dialect=conn.dialect, compile_kwargs={"literal_binds": True}))
    raw: Any = conn.connection.driver_connection
    if conn.dialect.name == "postgresql":
        cursor = raw.cursor(name=f"cloudbox_backup_{spec.name}")
    else:
        cursor = raw.cursor()
    first = itemgetter(0)
    try:
        cursor.execute(sql)
        while rows := cursor.fetchmany(batch_rows):
            text = "\n".join(map(first, rows))
            yield len(rows), _fix_timestamps((text + "\n").encode())
    finally:
        cursor.close()


def decode_row(spec: SectionSpec, data: dict[str, Any], project_id: int) -> dict[str, Any]:
    """The column values to insert for one archived row, with `project_id` rewritten.

    Unknown keys are an error (the archive is from a newer schema or forged); missing
    nullable columns take their defaults.
    """
    columns = {c.name: c for c in spec.columns()}
    unknown = set(data) - set(columns)
    if unknown:
        raise ValueError(f"unknown columns {sorted(unknown)[:5]} in section {spec.name}")
    values: dict[str, Any] = {spec.project_column: project_id}
    for name, value in data.items():
        column = columns[name]
        if value is not None and isinstance(column.type, UTCDateTime):
            if not isinstance(value, str):
                raise ValueError(f"{spec.name}.{name} must be a timestamp string")
            value = datetime.fromisoformat(value.replace("Z", "+00:00"))
        values[name] = value
    return values


def blob_query(project_id: int) -> Select[Any]:
    """The distinct contents the project's files point at, in a stable order."""
    files = Base.metadata.tables["files"]
    return (
        select(files.c.sha256, func.max(files.c.size))
        .where(files.c.project_id == project_id)
        .group_by(files.c.sha256)
        .order_by(files.c.sha256)
    )


def count_sections(conn: Connection, project_id: int, now: datetime) -> dict[str, int]:
    return {
        spec.name: int(conn.scalar(spec.count_query(project_id, now)) or 0)
        for spec in SECTION_SPECS
    }

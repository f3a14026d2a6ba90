"""Which table each archive section holds, and how rows become JSON lines and back.

The mapping is the only place that knows both the archive's section names (DESIGN §3)
and the schema. Rows are exported column by column (minus `project_id`, which a restore
rewrites), so a column added by a migration travels without touching the archiver.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Column, Connection, Select, Table, func, select

import cloudbox.models  # noqa: F401  (registers every table)
from cloudbox.db.base import Base
from cloudbox.db.types import UTCDateTime, utcnow

AUDIT_RETENTION = timedelta(days=90)


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

    @property
    def table(self) -> Table:
        return Base.metadata.tables[self.table_name]

    def columns(self) -> list[Column[Any]]:
        skip = self.exclude | {self.project_column}
        return [c for c in self.table.columns if c.name not in skip]

    def rows_query(self, project_id: int, now: datetime | None = None) -> Select[Any]:
        table = self.table
        query = select(*self.columns()).where(table.c[self.project_column] == project_id)
        if self.max_age is not None:
            query = query.where(table.c.created_at >= (now or utcnow()) - self.max_age)
        return query.order_by(
            *[table.c[c.name] for c in table.primary_key.columns if c.name != self.project_column]
        )

    def count_query(self, project_id: int, now: datetime | None = None) -> Select[Any]:
        return select(func.count()).select_from(
            self.rows_query(project_id, now).order_by(None).subquery()
        )


SECTION_SPECS: tuple[SectionSpec, ...] = (
    SectionSpec("project", "projects", project_column="id", exclude=frozenset({"created_by"})),
    SectionSpec("auth_settings", "app_auth_settings"),
    SectionSpec("users", "app_users"),
    SectionSpec("collections", "collections"),
    SectionSpec("documents", "documents"),
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
    SectionSpec("audit_logs", "audit_logs", max_age=AUDIT_RETENTION),
)
SPECS_BY_NAME = {spec.name: spec for spec in SECTION_SPECS}


def _encode_value(value: Any) -> Any:
    if isinstance(value, datetime):
        return value.isoformat().replace("+00:00", "Z")
    return value


def encode_rows(spec: SectionSpec, rows: Iterable[Any]) -> Iterator[bytes]:
    """One compact JSON object per row, keys in column order."""
    names = [c.name for c in spec.columns()]
    dumps = json.JSONEncoder(ensure_ascii=False, separators=(",", ":"), allow_nan=False).encode
    for row in rows:
        yield dumps(
            {name: _encode_value(value) for name, value in zip(names, row, strict=True)}
        ).encode()


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

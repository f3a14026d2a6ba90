from __future__ import annotations

from datetime import datetime
from typing import Any, Literal, Protocol

from pydantic import BaseModel, ConfigDict, Field

from cloudbox.backups.models import Backup
from cloudbox.jobs.progress import percent_of


class BackupCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")
    name: str = Field(min_length=1, max_length=200)
    description: str = Field(default="", max_length=2000)
    type: Literal["manual", "automatic"] = "manual"


class ProgressOut(BaseModel):
    phase: str
    percent: float
    items_done: int
    items_total: int
    bytes_done: int
    bytes_total: int


class JobRow(Protocol):
    """What backup and restore rows share: durable job progress."""

    status: str
    phase: str
    items_done: int
    items_total: int
    bytes_done: int
    bytes_total: int
    error_code: str | None
    error_message: str | None


def progress_of(row: JobRow) -> ProgressOut:
    values: dict[str, int | str] = {
        "items_done": row.items_done,
        "items_total": row.items_total,
        "bytes_done": row.bytes_done,
        "bytes_total": row.bytes_total,
    }
    percent = 100.0 if row.status == "completed" else percent_of(values)
    return ProgressOut(
        phase=row.phase,
        percent=percent,
        items_done=row.items_done,
        items_total=row.items_total,
        bytes_done=row.bytes_done,
        bytes_total=row.bytes_total,
    )


def error_of(row: JobRow) -> ErrorOut | None:
    if not row.error_code:
        return None
    return ErrorOut(code=row.error_code, message=row.error_message or "")


class ErrorOut(BaseModel):
    code: str
    message: str


class ActorOut(BaseModel):
    type: str
    id: str | None = None
    email: str | None = None


class DrillOut(BaseModel):
    """The restore drill's result (automatic backups, docs/automatic-backups.md)."""

    ok: bool
    checked_at: datetime
    problems: list[str] = []


class BackupOut(BaseModel):
    """The spec's Backup Object plus progress, error, version and creator."""

    id: int
    name: str
    description: str
    type: str
    status: Literal["creating", "completed", "failed"]
    size: int | None
    file_path: str
    checksum: str | None
    created_at: datetime
    completed_at: datetime | None
    project_id: int
    progress: ProgressOut
    error: ErrorOut | None
    backup_version: str
    created_by: ActorOut
    origin: str
    sections: dict[str, int]
    verified_at: datetime | None
    policy_id: str | None
    drill: DrillOut | None = None

    @classmethod
    def of(cls, row: Backup) -> BackupOut:
        return cls(
            id=row.id,
            name=row.name,
            description=row.description,
            type=row.type,
            status=row.status,
            size=row.size,
            file_path=row.file_path,
            checksum=row.checksum,
            created_at=row.created_at,
            completed_at=row.completed_at,
            project_id=row.project_id,
            progress=progress_of(row),
            error=error_of(row),
            backup_version=row.backup_version,
            created_by=ActorOut(**(row.created_by_actor or {"type": "system"})),
            origin=row.origin,
            sections={k: int(v) for k, v in (row.sections or {}).items()},
            verified_at=row.verified_at,
            policy_id=row.policy_id,
            drill=DrillOut.model_validate(row.drill) if row.drill else None,
        )


class VerifyOut(BaseModel):
    ok: bool
    checked_members: int
    problems: list[dict[str, Any]]
    checksum: str | None
    size: int | None

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from cloudbox.archive import SECTIONS
from cloudbox.backups.schemas import ActorOut, ErrorOut, ProgressOut, error_of, progress_of
from cloudbox.restores.models import Restore

SectionName = Literal[
    "project",
    "auth_settings",
    "users",
    "collections",
    "documents",
    "storage_buckets",
    "files",
    "functions",
    "function_domains",
    "ssh_keys",
    "github_repositories",
    "web_servers",
    "deployments",
    "api_keys",
    "cors_configs",
    "audit_logs",
]
assert set(SectionName.__args__) == set(SECTIONS)  # type: ignore[attr-defined]


class RestoreRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")
    target_project_id: int | None = Field(default=None, ge=1, le=2**31 - 1)
    wait: bool = True
    dry_run: bool = False
    sections: list[SectionName] | None = Field(default=None, min_length=1, max_length=len(SECTIONS))
    pre_restore_backup: bool = True
    keep_credentials_active: bool = False


class RestoreOut(BaseModel):
    id: int
    backup_id: int | None
    source_project_id: int
    target_project_id: int
    status: Literal["pending", "running", "completed", "failed"]
    dry_run: bool
    options: dict[str, Any]
    progress: ProgressOut
    plan: dict[str, Any]
    warnings: list[dict[str, Any]]
    pre_restore_backup_id: int | None
    undo_of: int | None
    error: ErrorOut | None
    created_by: ActorOut
    created_at: datetime
    started_at: datetime | None
    completed_at: datetime | None

    @classmethod
    def of(cls, row: Restore) -> RestoreOut:
        return cls(
            id=row.id,
            backup_id=row.backup_id,
            source_project_id=row.source_project_id,
            target_project_id=row.target_project_id,
            status=row.status,
            dry_run=row.dry_run,
            options=row.options or {},
            progress=progress_of(row),
            plan=row.plan or {},
            warnings=row.warnings or [],
            pre_restore_backup_id=row.pre_restore_backup_id,
            undo_of=row.undo_of,
            error=error_of(row),
            created_by=ActorOut(**(row.created_by_actor or {"type": "system"})),
            created_at=row.created_at,
            started_at=row.started_at,
            completed_at=row.completed_at,
        )


class RestoreResponse(BaseModel):
    """The spec's restore response, plus the restore object."""

    message: str
    target_project_id: int
    restore: RestoreOut

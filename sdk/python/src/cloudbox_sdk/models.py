"""Typed models of the CloudBox API (pydantic v2).

Field names are the wire names (snake_case). Unknown fields a newer server adds are
kept (``extra="allow"``) rather than refused, so an old SDK keeps working.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any, Literal, TypeVar

from pydantic import BaseModel, ConfigDict, Field

__all__ = [
    "Actor",
    "ApiKey",
    "ApiKeyCreated",
    "AppSession",
    "AppUser",
    "AuthSession",
    "Backup",
    "BackupEvent",
    "BackupStatus",
    "BackupType",
    "Bucket",
    "Collection",
    "Document",
    "DownloadResult",
    "JobError",
    "Member",
    "Page",
    "Progress",
    "Project",
    "Restore",
    "RestoreResult",
    "RestoreStatus",
    "Role",
    "StoredFile",
    "User",
    "VerifyProblem",
    "VerifyResult",
]

T = TypeVar("T")

BackupStatus = Literal["creating", "completed", "failed"]
BackupType = Literal["manual", "automatic"]
RestoreStatus = Literal["pending", "running", "completed", "failed"]
Role = Literal["viewer", "developer", "admin", "owner"]


class Page(list[T]):
    """A list answer: a plain list of items, plus ``total`` from ``X-Total-Count``."""

    total: int | None

    def __init__(self, items: list[T] | None = None, total: int | None = None) -> None:
        super().__init__(items or [])
        self.total = total


class _Model(BaseModel):
    model_config = ConfigDict(extra="allow")


# -- platform -------------------------------------------------------------------------


class User(_Model):
    id: int
    email: str
    name: str
    is_platform_admin: bool = False
    created_at: datetime | None = None


class AuthSession(_Model):
    """Answer of register and login: a platform token (``cbt_...``) and its user."""

    token: str
    expires_at: datetime
    user: User


class Project(_Model):
    id: int
    name: str
    description: str = ""
    settings: dict[str, Any] = {}
    role: Role | None = None
    created_by: int | None = None
    created_at: datetime | None = None
    updated_at: datetime | None = None


class Member(_Model):
    user_id: int
    email: str
    name: str
    role: Role
    created_at: datetime | None = None


class ApiKey(_Model):
    id: str
    project_id: int
    name: str
    key_prefix: str
    scopes: list[str]
    is_active: bool = True
    expires_at: datetime | None = None
    last_used_at: datetime | None = None
    created_at: datetime | None = None


class ApiKeyCreated(ApiKey):
    """A new key; ``key`` (``cbk_...``) is shown only in this answer."""

    key: str


# -- data --------------------------------------------------------------------------------


class Collection(_Model):
    id: str
    name: str
    description: str = ""
    #: the collection's JSON Schema (``schema`` on the wire; the name would shadow
    #: a ``BaseModel`` attribute)
    json_schema: dict[str, Any] | None = Field(default=None, alias="schema")
    indexes: list[str] = []
    document_count: int | None = None
    created_at: datetime | None = None
    updated_at: datetime | None = None

    model_config = ConfigDict(extra="allow", populate_by_name=True)


class Document(_Model):
    id: str
    collection: str
    data: dict[str, Any]
    version: int = 1
    created_at: datetime | None = None
    updated_at: datetime | None = None


class Bucket(_Model):
    id: str
    name: str
    description: str = ""
    is_public: bool = False
    max_file_size: int | None = None
    allowed_types: list[str] = []
    created_at: datetime | None = None
    updated_at: datetime | None = None


class StoredFile(_Model):
    """A file in a bucket (metadata; the content is fetched with ``files.download``)."""

    id: str
    name: str
    folder_path: str = ""
    mime_type: str = "application/octet-stream"
    size: int
    checksum: str
    created_at: datetime | None = None
    updated_at: datetime | None = None


class AppUser(_Model):
    """An end user of a project (not a platform user)."""

    id: str
    email: str
    name: str | None = None
    username: str | None = None
    is_active: bool = True
    is_email_verified: bool = False
    profile: dict[str, Any] = {}
    created_at: datetime | None = None
    updated_at: datetime | None = None
    last_login_at: datetime | None = None


class AppSession(_Model):
    """Answer of an app user's sign-up or sign-in; ``token`` (``cbu_...``) is ``None``
    when the project requires a verified email first."""

    token: str | None
    expires_at: datetime | None = None
    user: AppUser


# -- backups and restores -------------------------------------------------------------------


class Progress(_Model):
    phase: str = "queued"
    percent: float = 0.0
    items_done: int = 0
    items_total: int = 0
    bytes_done: int = 0
    bytes_total: int = 0


class JobError(_Model):
    code: str
    message: str


class Actor(_Model):
    type: str
    id: str | None = None
    email: str | None = None


class Backup(_Model):
    """The spec's backup object, plus progress, error, version and creator."""

    id: int
    name: str
    description: str = ""
    type: str = "manual"
    status: BackupStatus
    size: int | None = None
    file_path: str = ""
    checksum: str | None = None
    created_at: datetime
    completed_at: datetime | None = None
    project_id: int
    progress: Progress = Progress()
    error: JobError | None = None
    backup_version: str | None = None
    created_by: Actor | None = None
    origin: str | None = None
    sections: dict[str, int] = {}
    verified_at: datetime | None = None
    policy_id: str | None = None

    @property
    def is_done(self) -> bool:
        """True once the backup is ``completed`` or ``failed``."""
        return self.status != "creating"

    @property
    def sha256(self) -> str | None:
        """The hex SHA-256 of the archive (``checksum`` without ``sha256:``)."""
        return self.checksum.removeprefix("sha256:") if self.checksum else None


class VerifyProblem(_Model):
    code: str = ""
    message: str = ""


class VerifyResult(_Model):
    ok: bool
    checked_members: int
    problems: list[VerifyProblem] = []
    checksum: str | None = None
    size: int | None = None


class Restore(_Model):
    id: int
    backup_id: int | None = None
    source_project_id: int
    target_project_id: int
    status: RestoreStatus
    dry_run: bool = False
    options: dict[str, Any] = {}
    progress: Progress = Progress()
    plan: dict[str, Any] = {}
    warnings: list[dict[str, Any]] = []
    pre_restore_backup_id: int | None = None
    undo_of: int | None = None
    error: JobError | None = None
    created_by: Actor | None = None
    created_at: datetime
    started_at: datetime | None = None
    completed_at: datetime | None = None

    @property
    def is_done(self) -> bool:
        return self.status in ("completed", "failed")


class RestoreResult(_Model):
    """The spec's restore response (``message``, ``target_project_id``) plus the restore."""

    message: str
    target_project_id: int
    restore: Restore


@dataclass(frozen=True)
class BackupEvent:
    """One server-sent event of ``GET /api/backups/{id}/events``.

    ``event`` is ``"progress"`` (``data`` holds ``id``, ``status`` and the progress
    fields) or ``"status"`` (``data`` is the final backup object; the stream ends).
    """

    event: str
    data: dict[str, Any]
    id: str | None = None

    @property
    def progress(self) -> Progress | None:
        if self.event == "progress":
            return Progress.model_validate(self.data)
        if self.event == "status" and isinstance(self.data.get("progress"), dict):
            return Progress.model_validate(self.data["progress"])
        return None

    @property
    def backup(self) -> Backup | None:
        """The final backup object of a ``status`` event."""
        return Backup.model_validate(self.data) if self.event == "status" else None

    @property
    def status(self) -> str | None:
        value = self.data.get("status")
        return value if isinstance(value, str) else None


@dataclass(frozen=True)
class DownloadResult:
    """What ``backups.download`` wrote: the path (``None`` for a file object), the size
    and the verified SHA-256 (hex)."""

    path: Path | None
    size: int
    sha256: str
    filename: str | None = field(default=None)

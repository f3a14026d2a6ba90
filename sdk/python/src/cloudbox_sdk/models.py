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
    "BackupDrill",
    "BackupEvent",
    "BackupPolicy",
    "BackupStatus",
    "BackupType",
    "BackupUsage",
    "Bucket",
    "Collection",
    "Document",
    "DownloadResult",
    "JobError",
    "Member",
    "Page",
    "PolicyRun",
    "PolicyRunStatus",
    "PolicyWebhook",
    "Progress",
    "Project",
    "ProjectBackupUsage",
    "Restore",
    "RestoreResult",
    "RestoreStatus",
    "RetentionItem",
    "RetentionPreview",
    "RetentionRule",
    "Role",
    "ServerBackupUsage",
    "StoredFile",
    "TypeUsage",
    "User",
    "VerifyProblem",
    "VerifyResult",
]

T = TypeVar("T")

BackupStatus = Literal["creating", "completed", "failed"]
BackupType = Literal["manual", "automatic"]
RestoreStatus = Literal["pending", "running", "completed", "failed"]
PolicyRunStatus = Literal["started", "completed", "skipped", "failed"]
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


class BackupDrill(_Model):
    """The restore drill's result on an automatic backup: the backup was restored into a
    throwaway project and compared with the archive; ``problems`` says what differed."""

    ok: bool
    checked_at: datetime
    problems: list[str] = []


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
    #: the backup policy that made this (automatic) backup
    policy_id: str | None = None
    #: the restore drill's result, when the policy asked for one
    drill: BackupDrill | None = None

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


# -- backup policies and storage usage ---------------------------------------------------------


class RetentionRule(_Model):
    """Which of a policy's automatic backups retention keeps; ``None`` = rule not used.
    Days, weeks and months are those of the policy's time zone."""

    keep_last: int | None = None
    keep_daily: int | None = None
    keep_weekly: int | None = None
    keep_monthly: int | None = None
    max_age_days: int | None = None


class PolicyWebhook(_Model):
    """Where a policy's failure events go; the URL and the secret are write-only, only
    the URL's origin is shown."""

    origin: str
    has_secret: bool


class BackupPolicy(_Model):
    """A project's automatic backups: a 5-field cron ``schedule`` read in ``timezone``,
    a retention rule, checks after each backup and a failure webhook."""

    id: str
    project_id: int
    name: str
    schedule: str
    timezone: str = "UTC"
    enabled: bool = True
    retention: RetentionRule = RetentionRule()
    verify_after_backup: bool = True
    restore_drill: bool = False
    webhook: PolicyWebhook | None = None
    stale_after_hours: int | None = None
    #: the next slot (UTC); ``None`` while disabled
    next_run_at: datetime | None = None
    last_run_at: datetime | None = None
    created_at: datetime | None = None
    updated_at: datetime | None = None


class PolicyRun(_Model):
    """One fired slot of a policy: ``started`` (running), ``completed``, ``skipped`` or
    ``failed``, with a ``reason`` code; ``details`` holds what retention deleted."""

    id: str
    policy_id: str
    slot_time: datetime
    status: str
    reason: str | None = None
    message: str | None = None
    backup_id: int | None = None
    details: dict[str, Any] = {}
    created_at: datetime | None = None
    finished_at: datetime | None = None


class RetentionItem(_Model):
    """A backup in a retention dry run, and why it is kept or deleted."""

    backup_id: int
    name: str
    created_at: datetime
    size: int | None = None
    reasons: list[str] = []


class RetentionPreview(_Model):
    """What retention would do now (nothing is deleted): the rule evaluated (saved
    values, or the overrides given), the backups it keeps and those it deletes."""

    policy_id: str
    evaluated_at: datetime
    retention: RetentionRule
    keep: list[RetentionItem] = []
    delete: list[RetentionItem] = []
    delete_bytes: int = 0


class TypeUsage(_Model):
    count: int
    total_bytes: int


class BackupUsage(_Model):
    """A project's backup storage: its completed backups (those holding an archive),
    how many, their archives' bytes, per type, and the per-project quota (``None`` when
    unlimited)."""

    count: int
    total_bytes: int
    by_type: dict[str, TypeUsage] = {}
    oldest: datetime | None = None
    newest: datetime | None = None
    newest_verified_at: datetime | None = None
    quota_bytes: int | None = None


class ProjectBackupUsage(BackupUsage):
    project_id: int
    project_name: str


class ServerBackupUsage(BackupUsage):
    """The whole server's backup storage (platform admins): the totals, the free space
    of the archive storage (``None`` when unknown) and one page of ``projects``, biggest
    first; ``projects_total`` is the number of projects with backups."""

    storage_free_bytes: int | None = None
    projects: list[ProjectBackupUsage] = []
    projects_total: int | None = None


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

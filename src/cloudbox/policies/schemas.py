from __future__ import annotations

from datetime import datetime
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, SecretStr

from cloudbox.policies.models import BackupPolicy, PolicyRun

#: keep counts up to this; max_age_days up to a century
MAX_KEEP = 10_000


class RetentionIn(BaseModel):
    """Any subset; a field left out (or null) does not apply. On PATCH, only the fields
    given change."""

    model_config = ConfigDict(extra="forbid")
    keep_last: int | None = Field(default=None, ge=1, le=MAX_KEEP)
    keep_daily: int | None = Field(default=None, ge=1, le=MAX_KEEP)
    keep_weekly: int | None = Field(default=None, ge=1, le=MAX_KEEP)
    keep_monthly: int | None = Field(default=None, ge=1, le=MAX_KEEP)
    max_age_days: int | None = Field(default=None, ge=1, le=36_500)


class RetentionOut(BaseModel):
    keep_last: int | None
    keep_daily: int | None
    keep_weekly: int | None
    keep_monthly: int | None
    max_age_days: int | None


class PolicyCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")
    name: str = Field(min_length=1, max_length=150)
    schedule: str = Field(
        min_length=9, max_length=100, description="5-field cron: minute hour dom month dow"
    )
    timezone: str = Field(default="UTC", min_length=1, max_length=64)
    enabled: bool = True
    retention: RetentionIn = Field(default_factory=RetentionIn)
    verify_after_backup: bool = True
    restore_drill: bool = False
    webhook_url: str | None = Field(default=None, min_length=8, max_length=2000)
    webhook_secret: SecretStr | None = Field(default=None, min_length=16, max_length=200)
    stale_after_hours: int | None = Field(default=None, ge=1, le=24 * 366)


class PolicyUpdate(BaseModel):
    model_config = ConfigDict(extra="forbid")
    name: str | None = Field(default=None, min_length=1, max_length=150)
    schedule: str | None = Field(default=None, min_length=9, max_length=100)
    timezone: str | None = Field(default=None, min_length=1, max_length=64)
    enabled: bool | None = None
    retention: RetentionIn | None = None
    verify_after_backup: bool | None = None
    restore_drill: bool | None = None
    webhook_url: str | None = Field(default=None, min_length=8, max_length=2000)
    webhook_secret: SecretStr | None = Field(default=None, min_length=16, max_length=200)
    stale_after_hours: int | None = Field(default=None, ge=1, le=24 * 366)


class WebhookOut(BaseModel):
    """The URL itself and the secret are write-only: the URL may carry a token."""

    origin: str
    has_secret: bool


class PolicyOut(BaseModel):
    id: str
    project_id: int
    name: str
    schedule: str
    timezone: str
    enabled: bool
    retention: RetentionOut
    verify_after_backup: bool
    restore_drill: bool
    webhook: WebhookOut | None
    stale_after_hours: int | None
    next_run_at: datetime | None
    last_run_at: datetime | None
    created_at: datetime
    updated_at: datetime

    @classmethod
    def of(cls, row: BackupPolicy) -> PolicyOut:
        return cls(
            id=row.id,
            project_id=row.project_id,
            name=row.name,
            schedule=row.schedule,
            timezone=row.timezone,
            enabled=row.enabled,
            retention=RetentionOut(
                keep_last=row.keep_last,
                keep_daily=row.keep_daily,
                keep_weekly=row.keep_weekly,
                keep_monthly=row.keep_monthly,
                max_age_days=row.max_age_days,
            ),
            verify_after_backup=row.verify_after_backup,
            restore_drill=row.restore_drill,
            webhook=WebhookOut(
                origin=row.webhook_origin or "", has_secret=bool(row.webhook_secret_encrypted)
            )
            if row.webhook_url_encrypted
            else None,
            stale_after_hours=row.stale_after_hours,
            next_run_at=row.next_run_at if row.enabled else None,
            last_run_at=row.last_run_at,
            created_at=row.created_at,
            updated_at=row.updated_at,
        )


class RunOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)
    id: str
    policy_id: str
    slot_time: datetime
    status: str
    reason: str | None
    message: str | None
    backup_id: int | None
    details: dict[str, Any]
    created_at: datetime
    finished_at: datetime | None

    @classmethod
    def of(cls, row: PolicyRun) -> RunOut:
        return cls.model_validate(row)


class RetentionItem(BaseModel):
    backup_id: int
    name: str
    created_at: datetime
    size: int | None
    reasons: list[str]


class RetentionPreview(BaseModel):
    policy_id: str
    evaluated_at: datetime
    retention: RetentionOut
    keep: list[RetentionItem]
    delete: list[RetentionItem]
    delete_bytes: int


class TypeUsage(BaseModel):
    count: int
    total_bytes: int


class UsageOut(BaseModel):
    """Completed backups (those holding an archive): how many, their archives' bytes."""

    count: int
    total_bytes: int
    by_type: dict[str, TypeUsage]
    oldest: datetime | None
    newest: datetime | None
    newest_verified_at: datetime | None
    quota_bytes: int | None


class ProjectUsageOut(UsageOut):
    project_id: int
    project_name: str


class ServerUsageOut(UsageOut):
    """Every project's backups; `projects` is paged (limit/offset, X-Total-Count),
    biggest first. `quota_bytes` is the per-project quota."""

    storage_free_bytes: int | None
    projects: list[ProjectUsageOut]

"""Backup policies and their server-local bookkeeping.

None of these tables is an archive section: a policy is how this server operates the
project's backups, not data of the project, so a restore neither brings nor removes one
(docs/automatic-backups.md, "What a restore does to policies").
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import (
    Boolean,
    ForeignKey,
    ForeignKeyConstraint,
    Index,
    Integer,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column

from cloudbox.db.base import Base
from cloudbox.db.types import JSONType, UTCDateTime, utcnow

#: states of a policy run (one fired slot)
RUN_STARTED, RUN_SKIPPED, RUN_FAILED, RUN_COMPLETED = "started", "skipped", "failed", "completed"


class BackupPolicy(Base):
    """A schedule, a retention rule and the checks and notifications around it.

    `next_run_at` is the next cron slot (UTC) the scheduler waits for; the tick fires a
    policy once `next_run_at <= now`, always for the latest slot due, so slots missed
    while no worker ran collapse into one run.
    """

    __tablename__ = "backup_policies"
    __table_args__ = (
        Index("ix_backup_policies_id", "id", unique=True),
        Index("ix_backup_policies_due", "enabled", "next_run_at"),
    )

    project_id: Mapped[int] = mapped_column(
        ForeignKey("projects.id", ondelete="CASCADE"), primary_key=True
    )
    id: Mapped[str] = mapped_column(String(40), primary_key=True)
    name: Mapped[str] = mapped_column(String(150))
    schedule: Mapped[str] = mapped_column(String(100))
    timezone: Mapped[str] = mapped_column(String(64))
    enabled: Mapped[bool] = mapped_column(Boolean, default=True)
    keep_last: Mapped[int | None] = mapped_column(Integer, nullable=True)
    keep_daily: Mapped[int | None] = mapped_column(Integer, nullable=True)
    keep_weekly: Mapped[int | None] = mapped_column(Integer, nullable=True)
    keep_monthly: Mapped[int | None] = mapped_column(Integer, nullable=True)
    max_age_days: Mapped[int | None] = mapped_column(Integer, nullable=True)
    verify_after_backup: Mapped[bool] = mapped_column(Boolean, default=True)
    restore_drill: Mapped[bool] = mapped_column(Boolean, default=False)
    #: the URL (it may carry a token) and the HMAC secret, both encrypted (DESIGN §2.6)
    webhook_url_encrypted: Mapped[str | None] = mapped_column(Text, nullable=True)
    webhook_secret_encrypted: Mapped[str | None] = mapped_column(Text, nullable=True)
    #: shown instead of the URL: scheme, host and port only
    webhook_origin: Mapped[str | None] = mapped_column(String(300), nullable=True)
    stale_after_hours: Mapped[int | None] = mapped_column(Integer, nullable=True)
    next_run_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    last_run_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    stale_notified_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    created_by: Mapped[int | None] = mapped_column(Integer, nullable=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)


class PolicyRun(Base):
    """One fired slot of a policy. The unique `(policy_id, slot_time)` is what makes a
    slot fire once however many workers tick: the insert that wins fires, the others
    skip."""

    __tablename__ = "policy_runs"
    __table_args__ = (
        ForeignKeyConstraint(
            ["project_id", "policy_id"],
            ["backup_policies.project_id", "backup_policies.id"],
            ondelete="CASCADE",
        ),
        UniqueConstraint("policy_id", "slot_time"),
        Index("ix_policy_runs_backup", "backup_id"),
        Index("ix_policy_runs_created", "created_at"),
    )

    project_id: Mapped[int] = mapped_column(
        ForeignKey("projects.id", ondelete="CASCADE"), primary_key=True
    )
    id: Mapped[str] = mapped_column(String(40), primary_key=True)
    policy_id: Mapped[str] = mapped_column(String(40))
    slot_time: Mapped[datetime] = mapped_column(UTCDateTime)
    #: started (backup queued), skipped, failed, completed
    status: Mapped[str] = mapped_column(String(20))
    reason: Mapped[str | None] = mapped_column(String(60), nullable=True)
    message: Mapped[str | None] = mapped_column(String(500), nullable=True)
    backup_id: Mapped[int | None] = mapped_column(Integer, nullable=True)
    details: Mapped[dict[str, Any]] = mapped_column(JSONType, default=dict)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    finished_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)


class WebhookDelivery(Base):
    """One event for one policy's webhook, with its delivery attempts."""

    __tablename__ = "webhook_deliveries"
    __table_args__ = (
        ForeignKeyConstraint(
            ["project_id", "policy_id"],
            ["backup_policies.project_id", "backup_policies.id"],
            ondelete="CASCADE",
        ),
        Index("ix_webhook_deliveries_created", "created_at"),
    )

    project_id: Mapped[int] = mapped_column(
        ForeignKey("projects.id", ondelete="CASCADE"), primary_key=True
    )
    id: Mapped[str] = mapped_column(String(40), primary_key=True)
    policy_id: Mapped[str] = mapped_column(String(40))
    event: Mapped[str] = mapped_column(String(40))
    payload: Mapped[dict[str, Any]] = mapped_column(JSONType)
    #: pending, delivered, failed
    status: Mapped[str] = mapped_column(String(20))
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    response_status: Mapped[int | None] = mapped_column(Integer, nullable=True)
    last_error: Mapped[str | None] = mapped_column(String(300), nullable=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    last_attempt_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    delivered_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)


class DrillProject(Base):
    """A throwaway project a restore drill restores into; listed so one left behind by a
    crashed drill is deleted later."""

    __tablename__ = "drill_projects"

    project_id: Mapped[int] = mapped_column(
        ForeignKey("projects.id", ondelete="CASCADE"), primary_key=True
    )
    backup_id: Mapped[int] = mapped_column(Integer)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

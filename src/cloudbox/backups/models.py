from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import BigInteger, Boolean, ForeignKey, Index, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from cloudbox.db.base import Base
from cloudbox.db.types import JSONType, UTCDateTime, utcnow


class Backup(Base):
    """One backup of one project. The row is the job's durable state: status, phase,
    progress, heartbeat and, on failure, an error code and a safe message."""

    __tablename__ = "backups"
    __table_args__ = (
        Index("ix_backups_project_created", "project_id", "created_at"),
        Index("ix_backups_status_heartbeat", "status", "heartbeat_at"),
        {"sqlite_autoincrement": True},
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    project_id: Mapped[int] = mapped_column(ForeignKey("projects.id", ondelete="CASCADE"))
    name: Mapped[str] = mapped_column(String(200))
    description: Mapped[str] = mapped_column(Text, default="")
    type: Mapped[str] = mapped_column(String(20))
    origin: Mapped[str] = mapped_column(String(20), default="backup")
    status: Mapped[str] = mapped_column(String(20))
    size: Mapped[int | None] = mapped_column(BigInteger, nullable=True)
    file_path: Mapped[str] = mapped_column(String(300))
    checksum: Mapped[str | None] = mapped_column(String(80), nullable=True)
    backup_version: Mapped[str] = mapped_column(String(10))
    created_by: Mapped[int | None] = mapped_column(Integer, nullable=True)
    created_by_actor: Mapped[dict[str, Any]] = mapped_column(JSONType, default=dict)
    phase: Mapped[str] = mapped_column(String(30), default="queued")
    items_done: Mapped[int] = mapped_column(BigInteger, default=0)
    items_total: Mapped[int] = mapped_column(BigInteger, default=0)
    bytes_done: Mapped[int] = mapped_column(BigInteger, default=0)
    bytes_total: Mapped[int] = mapped_column(BigInteger, default=0)
    cancel_requested: Mapped[bool] = mapped_column(Boolean, default=False)
    error_code: Mapped[str | None] = mapped_column(String(60), nullable=True)
    error_message: Mapped[str | None] = mapped_column(String(500), nullable=True)
    sections: Mapped[dict[str, Any]] = mapped_column(JSONType, default=dict)
    source_project_id: Mapped[int | None] = mapped_column(Integer, nullable=True)
    policy_id: Mapped[str | None] = mapped_column(String(40), nullable=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    started_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    heartbeat_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    completed_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    verified_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    #: the restore drill's result (cloudbox.policies.drill): {ok, checked_at, problems}
    drill: Mapped[dict[str, Any] | None] = mapped_column(JSONType, nullable=True)

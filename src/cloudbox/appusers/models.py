"""A project's own end users, their sessions, the project's auth settings and the sign-in
failure counters.

Users, sessions and settings are project-scoped rows keyed `(project_id, id)` so a restore
only rewrites `project_id` (DESIGN §2.5). Sign-in failure counters are the exception: see
`AppLoginFailure`.
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
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column

from cloudbox.db.base import Base
from cloudbox.db.types import JSONType, UTCDateTime, utcnow


class AppUser(Base):
    """An end user of a project's app (not a platform user: they never see the console).

    `email` and `username` are stored lower-cased so uniqueness per project is
    case-insensitive on both engines without functional indexes.
    """

    __tablename__ = "app_users"
    __table_args__ = (
        UniqueConstraint("project_id", "email"),
        UniqueConstraint("project_id", "username"),
    )

    project_id: Mapped[int] = mapped_column(
        ForeignKey("projects.id", ondelete="CASCADE"), primary_key=True
    )
    id: Mapped[str] = mapped_column(String(40), primary_key=True)
    email: Mapped[str] = mapped_column(String(254))
    username: Mapped[str | None] = mapped_column(String(64), nullable=True)
    name: Mapped[str | None] = mapped_column(String(200), nullable=True)
    password_hash: Mapped[str] = mapped_column(String(200))
    is_active: Mapped[bool] = mapped_column(Boolean, default=True)
    is_email_verified: Mapped[bool] = mapped_column(Boolean, default=False)
    profile: Mapped[dict[str, Any]] = mapped_column(JSONType, default=dict)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)
    last_login_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)


class AppSession(Base):
    """A bearer token issued to an app user; only its SHA-256 digest is stored.

    The digest is unique per project rather than globally, so a copy of the row restored
    into another project cannot collide with the original.
    """

    __tablename__ = "app_sessions"
    __table_args__ = (
        ForeignKeyConstraint(
            ["project_id", "user_id"],
            ["app_users.project_id", "app_users.id"],
            ondelete="CASCADE",
        ),
        UniqueConstraint("project_id", "token_hash"),
        Index("ix_app_sessions_project_user", "project_id", "user_id"),
    )

    project_id: Mapped[int] = mapped_column(
        ForeignKey("projects.id", ondelete="CASCADE"), primary_key=True
    )
    id: Mapped[str] = mapped_column(String(40), primary_key=True)
    user_id: Mapped[str] = mapped_column(String(40))
    token_hash: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime)
    revoked_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)


class AppAuthSettings(Base):
    """One row per project (id "default"); absent means every setting has its default."""

    __tablename__ = "app_auth_settings"

    project_id: Mapped[int] = mapped_column(
        ForeignKey("projects.id", ondelete="CASCADE"), primary_key=True
    )
    id: Mapped[str] = mapped_column(String(40), primary_key=True, default="default")
    allow_signup: Mapped[bool] = mapped_column(Boolean, default=True)
    password_min_length: Mapped[int] = mapped_column(Integer, default=8)
    session_ttl_seconds: Mapped[int] = mapped_column(Integer, default=86400)
    require_email_verification: Mapped[bool] = mapped_column(Boolean, default=False)
    allowed_email_domains: Mapped[list[str]] = mapped_column(JSONType, default=list)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)


class AppLoginFailure(Base):
    """Failed sign-ins per (project, email), whether or not the project or the account
    exists.

    Deliberately NOT a foreign key to `projects`: attempts against a project id that does
    not exist must lock exactly like attempts against a real one, otherwise the lockout
    would tell an attacker which project ids exist. Transient security state, not project
    data: it is not part of backups and is never restored.
    """

    __tablename__ = "app_login_failures"

    project_id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    email: Mapped[str] = mapped_column(String(254), primary_key=True)
    failures: Mapped[int] = mapped_column(Integer, default=0)
    window_started_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    locked_until: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)

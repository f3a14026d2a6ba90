"""Functions and the custom domains that route HTTP traffic to them.

Secrets are stored one ciphertext per secret in `secrets_encrypted` (a JSON object
name -> `SecretBox` ciphertext, purpose `functions.secrets`): the names stay readable
without the master key (they are returned as `secret_names`), and `secrets_patch` can set
or drop one secret without decrypting the others. A backup carries the ciphertexts as
they are (DESIGN §2.6).

`function_domains.domain` is unique across the whole server (not per project): it is one
of the global names a restore into another project may collide on (DESIGN §2.5).
"""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum

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


class FunctionRuntime(StrEnum):
    """The runtimes a function may declare. Extending the list needs no migration (the
    column is a plain string); removing one must keep existing rows readable."""

    nodejs20 = "nodejs20"
    nodejs22 = "nodejs22"
    python311 = "python3.11"
    python312 = "python3.12"
    deno1 = "deno1"
    go122 = "go1.22"


RUNTIMES: tuple[str, ...] = tuple(r.value for r in FunctionRuntime)


class FunctionStatus(StrEnum):
    draft = "draft"
    active = "active"
    disabled = "disabled"


STATUSES: tuple[str, ...] = tuple(s.value for s in FunctionStatus)


class Function(Base):
    __tablename__ = "functions"
    __table_args__ = (UniqueConstraint("project_id", "name"),)

    project_id: Mapped[int] = mapped_column(
        ForeignKey("projects.id", ondelete="CASCADE"), primary_key=True
    )
    id: Mapped[str] = mapped_column(String(40), primary_key=True)
    name: Mapped[str] = mapped_column(String(64))
    description: Mapped[str] = mapped_column(Text, default="")
    runtime: Mapped[str] = mapped_column(String(32))
    entry_point: Mapped[str] = mapped_column(String(200))
    code: Mapped[str] = mapped_column(Text, default="")
    timeout: Mapped[int] = mapped_column(Integer, default=30)
    memory: Mapped[int] = mapped_column(Integer, default=256)
    environment: Mapped[dict[str, str]] = mapped_column(JSONType, default=dict)
    secrets_encrypted: Mapped[dict[str, str]] = mapped_column(JSONType, default=dict)
    status: Mapped[str] = mapped_column(String(20), default=FunctionStatus.draft.value)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)


class FunctionDomain(Base):
    __tablename__ = "function_domains"
    __table_args__ = (
        # NO ACTION (not CASCADE): the API refuses to delete a function that still has
        # domains (FUNCTION_IN_USE), and the database enforces the same rule should a
        # domain be attached concurrently. Deleting the project removes both in one
        # statement, which NO ACTION allows.
        ForeignKeyConstraint(
            ["project_id", "function_id"], ["functions.project_id", "functions.id"]
        ),
        Index("ix_function_domains_function", "project_id", "function_id"),
    )

    project_id: Mapped[int] = mapped_column(
        ForeignKey("projects.id", ondelete="CASCADE"), primary_key=True
    )
    id: Mapped[str] = mapped_column(String(40), primary_key=True)
    domain: Mapped[str] = mapped_column(String(253), unique=True)
    function_id: Mapped[str] = mapped_column(String(40))
    is_verified: Mapped[bool] = mapped_column(Boolean, default=False)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)

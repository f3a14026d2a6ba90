"""Delivery configuration rows.

References between these rows are composite foreign keys `(project_id, x_id) ->
(project_id, id)`, so the database itself refuses a reference into another project, and a
restore that rewrites `project_id` keeps every reference valid (DESIGN §2.5). Deletes
never cascade along these references (NO ACTION): the service refuses deleting a row that
is still in use, and the database backs it up.
"""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Any

from sqlalchemy import (
    Boolean,
    CheckConstraint,
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


class ServerType(StrEnum):
    vps = "vps"
    dedicated = "dedicated"
    cloud = "cloud"


class DeploymentStatus(StrEnum):
    pending = "pending"
    building = "building"
    deployed = "deployed"
    failed = "failed"


def _in(column: str, values: type[StrEnum]) -> str:
    return f"{column} IN ({', '.join(repr(v.value) for v in values)})"


class SshKey(Base):
    __tablename__ = "ssh_keys"
    __table_args__ = (UniqueConstraint("project_id", "name"),)

    project_id: Mapped[int] = mapped_column(
        ForeignKey("projects.id", ondelete="CASCADE"), primary_key=True
    )
    id: Mapped[str] = mapped_column(String(40), primary_key=True)
    name: Mapped[str] = mapped_column(String(200))
    description: Mapped[str] = mapped_column(Text, default="")
    key_type: Mapped[str] = mapped_column(String(40))
    public_key: Mapped[str] = mapped_column(Text)
    fingerprint: Mapped[str] = mapped_column(String(100))
    #: AES-GCM ciphertext (purpose "ssh_keys.private_key") of the key in OpenSSH format.
    private_key_encrypted: Mapped[str] = mapped_column(Text)
    is_active: Mapped[bool] = mapped_column(Boolean, default=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)


class GithubRepository(Base):
    __tablename__ = "github_repositories"
    __table_args__ = (
        ForeignKeyConstraint(
            ["project_id", "ssh_key_id"],
            ["ssh_keys.project_id", "ssh_keys.id"],
            name="fk_github_repositories_ssh_key_id_ssh_keys",
        ),
        Index("ix_github_repositories_ssh_key", "project_id", "ssh_key_id"),
    )

    project_id: Mapped[int] = mapped_column(
        ForeignKey("projects.id", ondelete="CASCADE"), primary_key=True
    )
    id: Mapped[str] = mapped_column(String(40), primary_key=True)
    name: Mapped[str] = mapped_column(String(200))
    full_name: Mapped[str] = mapped_column(String(200))
    clone_url: Mapped[str] = mapped_column(String(500))
    branch: Mapped[str] = mapped_column(String(255), default="main")
    is_private: Mapped[bool] = mapped_column(Boolean, default=False)
    ssh_key_id: Mapped[str | None] = mapped_column(String(40), nullable=True)
    #: AES-GCM ciphertexts (purposes "github_repositories.webhook_secret" / ".access_token").
    webhook_secret_encrypted: Mapped[str | None] = mapped_column(Text, nullable=True)
    access_token_encrypted: Mapped[str | None] = mapped_column(Text, nullable=True)
    build_command: Mapped[str] = mapped_column(Text, default="")
    start_command: Mapped[str] = mapped_column(Text, default="")
    environment: Mapped[dict[str, Any]] = mapped_column(JSONType, default=dict)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)

    @property
    def has_webhook_secret(self) -> bool:
        return self.webhook_secret_encrypted is not None

    @property
    def has_access_token(self) -> bool:
        return self.access_token_encrypted is not None


class WebServer(Base):
    __tablename__ = "web_servers"
    __table_args__ = (
        ForeignKeyConstraint(
            ["project_id", "ssh_key_id"],
            ["ssh_keys.project_id", "ssh_keys.id"],
            name="fk_web_servers_ssh_key_id_ssh_keys",
        ),
        Index("ix_web_servers_ssh_key", "project_id", "ssh_key_id"),
        CheckConstraint("port >= 1 AND port <= 65535", name="port_range"),
        CheckConstraint(_in("server_type", ServerType), name="server_type"),
    )

    project_id: Mapped[int] = mapped_column(
        ForeignKey("projects.id", ondelete="CASCADE"), primary_key=True
    )
    id: Mapped[str] = mapped_column(String(40), primary_key=True)
    name: Mapped[str] = mapped_column(String(200))
    hostname: Mapped[str] = mapped_column(String(253))
    port: Mapped[int] = mapped_column(Integer, default=22)
    username: Mapped[str] = mapped_column(String(32))
    ssh_key_id: Mapped[str | None] = mapped_column(String(40), nullable=True)
    server_type: Mapped[str] = mapped_column(String(20), default="vps")
    deploy_path: Mapped[str] = mapped_column(String(1024))
    is_active: Mapped[bool] = mapped_column(Boolean, default=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)


class Deployment(Base):
    __tablename__ = "deployments"
    __table_args__ = (
        ForeignKeyConstraint(
            ["project_id", "github_repository_id"],
            ["github_repositories.project_id", "github_repositories.id"],
            name="fk_deployments_github_repository_id_github_repositories",
        ),
        ForeignKeyConstraint(
            ["project_id", "web_server_id"],
            ["web_servers.project_id", "web_servers.id"],
            name="fk_deployments_web_server_id_web_servers",
        ),
        Index("ix_deployments_github_repository", "project_id", "github_repository_id"),
        Index("ix_deployments_web_server", "project_id", "web_server_id"),
        CheckConstraint(_in("status", DeploymentStatus), name="status"),
    )

    project_id: Mapped[int] = mapped_column(
        ForeignKey("projects.id", ondelete="CASCADE"), primary_key=True
    )
    id: Mapped[str] = mapped_column(String(40), primary_key=True)
    name: Mapped[str] = mapped_column(String(200))
    description: Mapped[str] = mapped_column(Text, default="")
    domain: Mapped[str | None] = mapped_column(String(253), nullable=True)
    github_repository_id: Mapped[str] = mapped_column(String(40))
    web_server_id: Mapped[str] = mapped_column(String(40))
    branch: Mapped[str] = mapped_column(String(255))
    environment: Mapped[dict[str, Any]] = mapped_column(JSONType, default=dict)
    build_command: Mapped[str] = mapped_column(Text, default="")
    start_command: Mapped[str] = mapped_column(Text, default="")
    status: Mapped[str] = mapped_column(String(20), default="pending")
    version: Mapped[str | None] = mapped_column(String(100), nullable=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)

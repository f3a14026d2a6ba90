"""Writing and reading the audit log. There is no delete: the log is append-only."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Select, select
from sqlalchemy.orm import Session

from cloudbox.audit.models import AuditLog
from cloudbox.db.ids import new_id


@dataclass(frozen=True)
class Actor:
    type: str
    id: str | None = None
    email: str | None = None
    ip: str | None = None
    user_agent: str | None = None


SYSTEM = Actor(type="system")


def record(
    db: Session,
    project_id: int,
    *,
    action: str,
    resource: str,
    actor: Actor,
    resource_id: str | None = None,
    success: bool = True,
    error_code: str | None = None,
    details: dict[str, Any] | None = None,
) -> AuditLog:
    entry = AuditLog(
        project_id=project_id,
        id=new_id(),
        action=action[:100],
        resource=resource[:100],
        resource_id=resource_id[:200] if resource_id else None,
        actor_type=actor.type,
        actor_id=actor.id,
        actor_email=actor.email,
        ip=actor.ip,
        user_agent=actor.user_agent[:500] if actor.user_agent else None,
        success=success,
        error_code=error_code,
        details=details or {},
        imported=False,
    )
    db.add(entry)
    db.flush()
    return entry


def query(
    project_id: int,
    *,
    action: str | None = None,
    resource: str | None = None,
    since: datetime | None = None,
    until: datetime | None = None,
    success: bool | None = None,
) -> Select[AuditLog]:
    stmt = select(AuditLog).where(AuditLog.project_id == project_id)
    if action:
        stmt = stmt.where(AuditLog.action == action)
    if resource:
        stmt = stmt.where(AuditLog.resource == resource)
    if since:
        stmt = stmt.where(AuditLog.created_at >= since)
    if until:
        stmt = stmt.where(AuditLog.created_at < until)
    if success is not None:
        stmt = stmt.where(AuditLog.success.is_(success))
    return stmt

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query, Response
from pydantic import AwareDatetime

from cloudbox.api.deps import Admin, DbDep
from cloudbox.api.pagination import PageDep, paged
from cloudbox.audit import service
from cloudbox.audit.models import AuditLog
from cloudbox.audit.schemas import AuditLogOut

router = APIRouter(prefix="/api/projects/{project_id}/audit-logs", tags=["audit"])
_ORDER = {"created_at": AuditLog.created_at, "action": AuditLog.action}


@router.get("", response_model=list[AuditLogOut])
def list_audit_logs(
    access: Admin,
    db: DbDep,
    response: Response,
    page: PageDep,
    action: Annotated[str | None, Query(max_length=100)] = None,
    resource: Annotated[str | None, Query(max_length=100)] = None,
    since: AwareDatetime | None = None,
    until: AwareDatetime | None = None,
    success: bool | None = None,
) -> list[AuditLog]:
    query = service.query(
        access.project_id,
        action=action,
        resource=resource,
        since=since,
        until=until,
        success=success,
    )
    default = (AuditLog.created_at.desc(), AuditLog.id.desc())
    stmt = paged(db, response, query, page, _ORDER, default[0]).order_by(AuditLog.id.desc())
    return list(db.scalars(stmt))

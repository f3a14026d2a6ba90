from __future__ import annotations

from datetime import datetime
from typing import Any

from pydantic import BaseModel, ConfigDict


class AuditLogOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)
    id: str
    project_id: int
    action: str
    resource: str
    resource_id: str | None
    actor_type: str
    actor_id: str | None
    actor_email: str | None
    ip: str | None
    user_agent: str | None
    success: bool
    error_code: str | None
    details: dict[str, Any]
    imported: bool
    created_at: datetime

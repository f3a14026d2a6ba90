"""SQL for API keys."""

from __future__ import annotations

from sqlalchemy import Select, select
from sqlalchemy.orm import Session

from cloudbox.apikeys.models import ApiKey


def find_by_hash(db: Session, key_hash: str) -> ApiKey | None:
    return db.scalar(select(ApiKey).where(ApiKey.key_hash == key_hash))


def get(db: Session, project_id: int, key_id: str) -> ApiKey | None:
    return db.get(ApiKey, (project_id, key_id))


def of_project(project_id: int) -> Select[ApiKey]:
    return select(ApiKey).where(ApiKey.project_id == project_id)

"""Project API keys. The key is shown once at creation and stored as its SHA-256 digest."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import Select
from sqlalchemy.orm import Session

from cloudbox.apikeys import repository as repo
from cloudbox.apikeys.errors import ApiKeyNotFound
from cloudbox.apikeys.models import ApiKey
from cloudbox.auth.errors import InvalidToken
from cloudbox.auth.principal import Principal
from cloudbox.db.ids import new_id
from cloudbox.db.types import utcnow
from cloudbox.projects.roles import expand_scopes
from cloudbox.security.tokens import API_KEY_PREFIX, digest_secret, new_secret


@dataclass(frozen=True)
class CreatedKey:
    row: ApiKey
    key: str


def create(
    db: Session,
    project_id: int,
    *,
    name: str,
    scopes: list[str],
    expires_at: datetime | None,
    created_by: int | None,
) -> CreatedKey:
    key = new_secret(API_KEY_PREFIX)
    row = ApiKey(
        project_id=project_id,
        id=new_id(),
        name=name,
        key_hash=digest_secret(key),
        key_prefix=key[:12],
        scopes=sorted(set(scopes)),
        is_active=True,
        expires_at=expires_at,
        created_by=created_by,
    )
    db.add(row)
    db.flush()
    return CreatedKey(row=row, key=key)


def list_keys(project_id: int) -> Select[ApiKey]:
    return repo.of_project(project_id)


def delete(db: Session, project_id: int, key_id: str) -> None:
    row = repo.get(db, project_id, key_id)
    if row is None:
        raise ApiKeyNotFound()
    db.delete(row)
    db.flush()


def authenticate(db: Session, key: str) -> Principal:
    row = repo.find_by_hash(db, digest_secret(key))
    if row is None or not row.is_active:
        raise InvalidToken("The API key is invalid, disabled or expired")
    if row.expires_at is not None and row.expires_at <= utcnow():
        raise InvalidToken("The API key is invalid, disabled or expired")
    return Principal(
        kind="api_key",
        api_key_id=row.id,
        api_key_project_id=row.project_id,
        scopes=expand_scopes(row.scopes),
    )


def project_of_key(db: Session, key: str) -> int | None:
    row = repo.find_by_hash(db, digest_secret(key))
    return row.project_id if row is not None and row.is_active else None

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Path, Request, Response, status

from cloudbox.api.deps import Admin, DbDep
from cloudbox.api.pagination import PageDep, paged
from cloudbox.apikeys import service
from cloudbox.apikeys.models import ApiKey
from cloudbox.apikeys.schemas import ApiKeyCreate, ApiKeyCreated, ApiKeyOut
from cloudbox.db.types import utcnow
from cloudbox.errors import InvalidInput

router = APIRouter(prefix="/api/projects/{project_id}/api-keys", tags=["api keys"])
KeyId = Annotated[str, Path(min_length=1, max_length=40, pattern=r"^[0-9a-z]+$")]
_ORDER = {"created_at": ApiKey.created_at, "name": ApiKey.name, "expires_at": ApiKey.expires_at}


@router.get("", response_model=list[ApiKeyOut])
def list_keys(access: Admin, db: DbDep, response: Response, page: PageDep) -> list[ApiKey]:
    query = service.list_keys(access.project_id)
    return list(db.scalars(paged(db, response, query, page, _ORDER, ApiKey.created_at.asc())))


@router.post("", status_code=status.HTTP_201_CREATED, response_model=ApiKeyCreated)
def create_key(body: ApiKeyCreate, access: Admin, db: DbDep, request: Request) -> ApiKeyCreated:
    if body.expires_at is not None and body.expires_at <= utcnow():
        raise InvalidInput("expires_at must be in the future", details={"field": "expires_at"})
    created = service.create(
        db,
        access.project_id,
        name=body.name,
        scopes=[s.value for s in body.scopes],
        expires_at=body.expires_at,
        created_by=access.principal.user_id,
    )
    db.commit()
    request.state.audit_resource_id = created.row.id
    return ApiKeyCreated(**ApiKeyOut.model_validate(created.row).model_dump(), key=created.key)


@router.delete("/{key_id}", status_code=status.HTTP_204_NO_CONTENT)
def delete_key(key_id: KeyId, access: Admin, db: DbDep) -> None:
    service.delete(db, access.project_id, key_id)
    db.commit()

"""HTTP routes of functions and function domains.

Viewers read; developers write both (secrets included: they are write-only, so writing
them reveals nothing). Secret values never appear in a response, the create response
included: only their names, as `secret_names`.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Path, Query, Request, Response, status

from cloudbox.api.deps import DbDep, Developer, RuntimeDep, Viewer
from cloudbox.api.pagination import PageDep, paged
from cloudbox.functions import service
from cloudbox.functions.models import Function, FunctionDomain
from cloudbox.functions.schemas import (
    ID_PATTERN,
    FunctionCreate,
    FunctionDomainCreate,
    FunctionDomainOut,
    FunctionDomainUpdate,
    FunctionOut,
    FunctionUpdate,
)

router = APIRouter(prefix="/api/projects/{project_id}")

FunctionId = Annotated[str, Path(min_length=1, max_length=40, pattern=ID_PATTERN)]
DomainId = Annotated[str, Path(min_length=1, max_length=40, pattern=ID_PATTERN)]

_FUNCTION_ORDER = {
    "created_at": Function.created_at,
    "updated_at": Function.updated_at,
    "name": Function.name,
    "runtime": Function.runtime,
    "status": Function.status,
}
_DOMAIN_ORDER = {
    "created_at": FunctionDomain.created_at,
    "updated_at": FunctionDomain.updated_at,
    "domain": FunctionDomain.domain,
    "function_id": FunctionDomain.function_id,
    "is_verified": FunctionDomain.is_verified,
}


@router.get("/functions", response_model=list[FunctionOut], tags=["functions"])
def list_functions(
    access: Viewer, db: DbDep, response: Response, page: PageDep
) -> list[FunctionOut]:
    query = paged(
        db,
        response,
        service.list_functions(access.project_id),
        page,
        _FUNCTION_ORDER,
        Function.created_at.asc(),
    )
    return [FunctionOut.of(row) for row in db.scalars(query)]


@router.post(
    "/functions",
    status_code=status.HTTP_201_CREATED,
    response_model=FunctionOut,
    tags=["functions"],
)
def create_function(
    access: Developer, body: FunctionCreate, db: DbDep, runtime: RuntimeDep, request: Request
) -> FunctionOut:
    row = service.create_function(
        db,
        runtime.secrets,
        access.project_id,
        name=body.name,
        description=body.description,
        runtime=body.runtime.value,
        entry_point=body.entry_point,
        code=body.code,
        timeout=body.timeout,
        memory=body.memory,
        environment=body.environment,
        secrets=body.secrets,
        status=body.status.value,
    )
    db.commit()
    request.state.audit_resource_id = row.id
    return FunctionOut.of(row)


@router.get("/functions/{function_id}", response_model=FunctionOut, tags=["functions"])
def get_function(function_id: FunctionId, access: Viewer, db: DbDep) -> FunctionOut:
    return FunctionOut.of(service.get_function(db, access.project_id, function_id))


@router.patch("/functions/{function_id}", response_model=FunctionOut, tags=["functions"])
def update_function(
    function_id: FunctionId,
    access: Developer,
    body: FunctionUpdate,
    db: DbDep,
    runtime: RuntimeDep,
) -> FunctionOut:
    changes = body.model_dump(mode="json", exclude_unset=True)
    changes.pop("secrets", None)
    changes.pop("secrets_patch", None)
    row = service.update_function(
        db,
        runtime.secrets,
        access.project_id,
        function_id,
        changes,
        secrets=body.secrets,
        secrets_patch=body.secrets_patch,
    )
    db.commit()
    return FunctionOut.of(row)


@router.delete(
    "/functions/{function_id}", status_code=status.HTTP_204_NO_CONTENT, tags=["functions"]
)
def delete_function(function_id: FunctionId, access: Developer, db: DbDep) -> None:
    service.delete_function(db, access.project_id, function_id)
    db.commit()


@router.get("/function-domains", response_model=list[FunctionDomainOut], tags=["functions"])
def list_domains(
    access: Viewer,
    db: DbDep,
    response: Response,
    page: PageDep,
    function_id: Annotated[
        str | None,
        Query(max_length=40, pattern=ID_PATTERN, description="Only the domains of this function"),
    ] = None,
) -> list[FunctionDomain]:
    query = paged(
        db,
        response,
        service.list_domains(access.project_id, function_id),
        page,
        _DOMAIN_ORDER,
        FunctionDomain.created_at.asc(),
    )
    return list(db.scalars(query))


@router.post(
    "/function-domains",
    status_code=status.HTTP_201_CREATED,
    response_model=FunctionDomainOut,
    tags=["functions"],
)
def create_domain(
    access: Developer, body: FunctionDomainCreate, db: DbDep, request: Request
) -> FunctionDomain:
    row = service.create_domain(
        db, access.project_id, domain=body.domain, function_id=body.function_id
    )
    db.commit()
    request.state.audit_resource_id = row.id
    return row


@router.get("/function-domains/{domain_id}", response_model=FunctionDomainOut, tags=["functions"])
def get_domain(domain_id: DomainId, access: Viewer, db: DbDep) -> FunctionDomain:
    return service.get_domain(db, access.project_id, domain_id)


@router.patch("/function-domains/{domain_id}", response_model=FunctionDomainOut, tags=["functions"])
def update_domain(
    domain_id: DomainId, access: Developer, body: FunctionDomainUpdate, db: DbDep
) -> FunctionDomain:
    row = service.update_domain(
        db, access.project_id, domain_id, domain=body.domain, function_id=body.function_id
    )
    db.commit()
    return row


@router.delete(
    "/function-domains/{domain_id}",
    status_code=status.HTTP_204_NO_CONTENT,
    tags=["functions"],
)
def delete_domain(domain_id: DomainId, access: Developer, db: DbDep) -> None:
    service.delete_domain(db, access.project_id, domain_id)
    db.commit()

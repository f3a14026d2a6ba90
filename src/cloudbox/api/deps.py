"""Request-scoped dependencies: the runtime, a database session, who is asking, and the
project access check that every project route goes through.

The request owns the transaction: routes call `db.commit()` once their service calls
succeeded; anything else is rolled back when the session closes.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Annotated

from fastapi import Depends, Path, Request
from sqlalchemy.orm import Session

from cloudbox.apikeys import service as apikeys
from cloudbox.audit.service import Actor
from cloudbox.auth import service as auth
from cloudbox.auth.errors import InvalidToken
from cloudbox.auth.principal import Principal
from cloudbox.errors import AppError, Forbidden, ProjectNotFound, Unauthorized
from cloudbox.projects import service as projects
from cloudbox.projects.roles import Role, Scope
from cloudbox.projects.service import ProjectAccess
from cloudbox.restores import service as restores
from cloudbox.runtime import Runtime
from cloudbox.security.tokens import API_KEY_PREFIX, SESSION_TOKEN_PREFIX

MUTATING = frozenset({"POST", "PUT", "PATCH", "DELETE"})
ProjectId = Annotated[int, Path(ge=1, le=2**31 - 1, description="Project id")]


def get_runtime(request: Request) -> Runtime:
    runtime: Runtime = request.app.state.runtime
    return runtime


def get_db(request: Request) -> Iterator[Session]:
    runtime = get_runtime(request)
    with runtime.db.session(write=request.method in MUTATING) as session:
        try:
            yield session
        finally:
            session.rollback()


RuntimeDep = Annotated[Runtime, Depends(get_runtime)]
DbDep = Annotated[Session, Depends(get_db)]


def bearer_or_key(request: Request) -> str | None:
    key = request.headers.get("x-api-key")
    if key:
        return key.strip()
    header = request.headers.get("authorization", "")
    scheme, _, value = header.partition(" ")
    if scheme.lower() == "bearer" and value.strip():
        return value.strip()
    return None


def get_principal(request: Request, db: DbDep) -> Principal:
    credential = bearer_or_key(request)
    if credential is None:
        raise Unauthorized()
    if credential.startswith(API_KEY_PREFIX):
        principal = apikeys.authenticate(db, credential)
    elif credential.startswith(SESSION_TOKEN_PREFIX):
        principal = auth.authenticate_token(db, credential)
    else:
        raise InvalidToken()
    request.state.principal = principal
    return principal


PrincipalDep = Annotated[Principal, Depends(get_principal)]


def actor_of(request: Request, principal: Principal | None) -> Actor:
    return Actor(
        type=principal.actor_type if principal else "anonymous",
        id=principal.actor_id if principal else None,
        email=principal.email if principal else None,
        ip=request.client.host if request.client else None,
        user_agent=request.headers.get("user-agent"),
    )


@dataclass(frozen=True)
class AuditTarget:
    """Set on `request.state.audit` once a request is known to act on a project, so the
    audit middleware records it, refused or not."""

    project_id: int
    actor: Actor


def mark_audit(request: Request, project_id: int, principal: Principal | None) -> None:
    request.state.audit = AuditTarget(project_id=project_id, actor=actor_of(request, principal))


def project_access(
    min_role: Role = Role.viewer, scope: Scope | None = None, *, guard_restore: bool = True
) -> Callable[..., ProjectAccess]:
    """Dependency factory: the caller must reach `min_role` (API keys: `scope`) on the
    project named in the path. Mutating requests are refused with RESTORE_IN_PROGRESS
    while a restore holds the project (`guard_restore`)."""

    def dependency(
        project_id: ProjectId, request: Request, db: DbDep, principal: PrincipalDep
    ) -> ProjectAccess:
        try:
            access = projects.authorize(db, principal, project_id, min_role, scope)
        except Forbidden:
            mark_audit(request, project_id, principal)
            raise
        mark_audit(request, project_id, principal)
        if guard_restore and request.method in MUTATING:
            restores.refuse_writes_during_restore(db, project_id)
        request.state.project_access = access
        return access

    return dependency


def authorize_resource(
    request: Request,
    db: Session,
    principal: Principal,
    project_id: int,
    min_role: Role,
    *,
    not_found: type[AppError],
    resource: str,
    resource_id: str,
) -> ProjectAccess:
    """For routes that name a project's resource by its own id (`/api/backups/{id}`,
    `/api/restores/{id}`, `/api/backup-policies/{id}`): the caller needs `min_role` (keys:
    the `backups` scope) on the owning project. Someone who is not a member gets the
    resource's own not-found error, exactly as for an id that does not exist; members'
    requests, refused or not, are audited on that project."""

    def audited() -> None:
        mark_audit(request, project_id, principal)
        request.state.audit_resource = resource
        request.state.audit_resource_id = resource_id

    try:
        access = projects.authorize(db, principal, project_id, min_role, Scope.backups)
    except ProjectNotFound:
        raise not_found() from None
    except Forbidden:
        audited()
        raise
    audited()
    return access


Viewer = Annotated[ProjectAccess, Depends(project_access(Role.viewer))]
Developer = Annotated[ProjectAccess, Depends(project_access(Role.developer))]
Admin = Annotated[ProjectAccess, Depends(project_access(Role.admin))]
Owner = Annotated[ProjectAccess, Depends(project_access(Role.owner))]

"""HTTP for a project's end users.

Two audiences share this router:
- the project's team manages users (`users`, admin only: it is personal data, so even
  reads need ADMIN) and the auth settings (`auth-settings`: any member reads, admin
  writes), through the usual project dependencies;
- the project's own app users sign up and sign in under `auth/`. Those routes are public:
  they take no platform credential and must not use the Viewer/Developer dependencies.
  They answer a project that does not exist exactly like a project whose sign-up is
  closed or whose credentials are wrong, and they set the audit target themselves, only
  for projects that exist.
"""

from __future__ import annotations

from enum import Enum
from typing import Annotated

from fastapi import APIRouter, Depends, Path, Request, Response, status

from cloudbox.api.deps import Admin, AuditTarget, DbDep, ProjectId, RuntimeDep, Viewer
from cloudbox.api.pagination import PageDep, paged
from cloudbox.appusers import service
from cloudbox.appusers.errors import InvalidCredentials
from cloudbox.appusers.models import AppUser
from cloudbox.appusers.schemas import (
    AppUserCreate,
    AppUserOut,
    AppUserUpdate,
    AuthSettingsIn,
    AuthSettingsOut,
    LoginRequest,
    LoginResponse,
    RegisterRequest,
    RegisterResponse,
)
from cloudbox.appusers.service import AppIdentity
from cloudbox.audit.service import Actor
from cloudbox.errors import Unauthorized
from cloudbox.restores import service as restores

router = APIRouter(prefix="/api/projects/{project_id}")
UserId = Annotated[str, Path(min_length=1, max_length=40, pattern=r"^[0-9a-z]+$")]
_ORDER = {
    "created_at": AppUser.created_at,
    "updated_at": AppUser.updated_at,
    "last_login_at": AppUser.last_login_at,
    "email": AppUser.email,
    "username": AppUser.username,
    "name": AppUser.name,
}
_TEAM: list[str | Enum] = ["app users"]
_PUBLIC: list[str | Enum] = ["app user auth"]


# --- admin management ---------------------------------------------------------------


@router.get("/users", response_model=list[AppUserOut], tags=_TEAM)
def list_users(access: Admin, db: DbDep, response: Response, page: PageDep) -> list[AppUser]:
    query = service.list_users(access.project_id)
    stmt = paged(db, response, query, page, _ORDER, AppUser.created_at.asc())
    return list(db.scalars(stmt.order_by(AppUser.id.asc())))


@router.post("/users", status_code=status.HTTP_201_CREATED, response_model=AppUserOut, tags=_TEAM)
def create_user(access: Admin, body: AppUserCreate, db: DbDep, request: Request) -> AppUser:
    user = service.create_user(db, access.project_id, **body.model_dump())
    db.commit()
    request.state.audit_resource_id = user.id
    return user


@router.get("/users/{user_id}", response_model=AppUserOut, tags=_TEAM)
def get_user(access: Admin, user_id: UserId, db: DbDep) -> AppUser:
    return service.get_user(db, access.project_id, user_id)


@router.patch("/users/{user_id}", response_model=AppUserOut, tags=_TEAM)
def update_user(access: Admin, user_id: UserId, body: AppUserUpdate, db: DbDep) -> AppUser:
    changes = {name: getattr(body, name) for name in body.model_fields_set}
    user = service.update_user(db, access.project_id, user_id, changes)
    db.commit()
    return user


@router.delete("/users/{user_id}", status_code=status.HTTP_204_NO_CONTENT, tags=_TEAM)
def delete_user(access: Admin, user_id: UserId, db: DbDep) -> None:
    service.delete_user(db, access.project_id, user_id)
    db.commit()


# --- auth settings ------------------------------------------------------------------


@router.get("/auth-settings", response_model=AuthSettingsOut, tags=_TEAM)
def get_auth_settings(access: Viewer, db: DbDep) -> AuthSettingsOut:
    return AuthSettingsOut(**service.get_settings(db, access.project_id).as_dict())


@router.put("/auth-settings", response_model=AuthSettingsOut, tags=_TEAM)
def put_auth_settings(access: Admin, body: AuthSettingsIn, db: DbDep) -> AuthSettingsOut:
    settings = service.put_settings(db, access.project_id, body.model_dump())
    db.commit()
    return AuthSettingsOut(**settings.as_dict())


# --- public: sign-up, sign-in, sessions ---------------------------------------------


def _audit(
    request: Request, project_id: int, action: str, user_id: str | None, email: str | None
) -> None:
    """Name the app user as the actor. Callers only do this for projects that exist."""
    request.state.audit = AuditTarget(
        project_id=project_id,
        actor=Actor(
            type="app_user",
            id=user_id,
            email=email,
            ip=request.client.host if request.client else None,
            user_agent=request.headers.get("user-agent"),
        ),
    )
    request.state.audit_action = action
    if user_id is not None:
        request.state.audit_resource_id = user_id


def _bearer(request: Request) -> str | None:
    scheme, _, value = request.headers.get("authorization", "").partition(" ")
    return value.strip() if scheme.lower() == "bearer" and value.strip() else None


def _authenticate(request: Request, db: DbDep, project_id: int) -> AppIdentity:
    token = _bearer(request)
    if token is None:
        raise Unauthorized()
    return service.authenticate(db, project_id, token)


def app_identity(project_id: ProjectId, request: Request, db: DbDep) -> AppIdentity:
    """The app user of a `cbu_` bearer token, valid on its own project only."""
    return _authenticate(request, db, project_id)


AppUserDep = Annotated[AppIdentity, Depends(app_identity)]


@router.post(
    "/auth/register",
    status_code=status.HTTP_201_CREATED,
    response_model=RegisterResponse,
    tags=_PUBLIC,
)
def register(
    project_id: ProjectId, body: RegisterRequest, request: Request, db: DbDep
) -> RegisterResponse:
    if service.project_exists(db, project_id):
        email = service.canonical_email(body.email)
        _audit(request, project_id, "app_user.register", None, email)
        restores.refuse_writes_during_restore(db, project_id)
    registered = service.register(
        db,
        project_id,
        email=body.email,
        password=body.password,
        name=body.name,
        username=body.username,
    )
    db.commit()
    user = registered.user
    _audit(request, project_id, "app_user.register", user.id, user.email)
    return RegisterResponse(
        token=registered.token,
        expires_at=registered.expires_at,
        user=AppUserOut.model_validate(user),
    )


@router.post("/auth/login", response_model=LoginResponse, tags=_PUBLIC)
def login(
    project_id: ProjectId, body: LoginRequest, request: Request, db: DbDep, runtime: RuntimeDep
) -> LoginResponse:
    if service.project_exists(db, project_id):
        email = service.canonical_email(body.email)
        _audit(request, project_id, "app_user.login", None, email)
        # a session issued now would be ended by the restore's commit
        restores.refuse_writes_during_restore(db, project_id)
    try:
        issued = service.login(db, project_id, email=body.email, password=body.password)
    except InvalidCredentials:
        db.rollback()
        service.record_login_failure(db, runtime.auth_policy, project_id, body.email)
        db.commit()
        raise
    db.commit()
    _audit(request, project_id, "app_user.login", issued.user.id, issued.user.email)
    return LoginResponse(
        token=issued.token,
        expires_at=issued.expires_at,
        user=AppUserOut.model_validate(issued.user),
    )


@router.get("/auth/me", response_model=AppUserOut, tags=_PUBLIC)
def me(identity: AppUserDep) -> AppUser:
    return identity.user


@router.post("/auth/logout", status_code=status.HTTP_204_NO_CONTENT, tags=_PUBLIC)
def logout(project_id: ProjectId, request: Request, db: DbDep) -> None:
    if service.project_exists(db, project_id):
        _audit(request, project_id, "app_user.logout", None, None)
    identity = _authenticate(request, db, project_id)
    _audit(request, project_id, "app_user.logout", identity.user.id, identity.user.email)
    service.logout(db, identity)
    db.commit()

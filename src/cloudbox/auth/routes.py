from __future__ import annotations

from fastapi import APIRouter, status

from cloudbox.api.deps import DbDep, PrincipalDep, RuntimeDep
from cloudbox.auth import service
from cloudbox.auth.errors import InvalidCredentials
from cloudbox.auth.schemas import (
    LoginRequest,
    LoginResponse,
    RegisterRequest,
    RegisterResponse,
    UserOut,
)
from cloudbox.errors import Forbidden

router = APIRouter(prefix="/api/auth", tags=["auth"])


@router.post("/register", status_code=status.HTTP_201_CREATED, response_model=RegisterResponse)
def register(body: RegisterRequest, db: DbDep, runtime: RuntimeDep) -> RegisterResponse:
    issued = service.register(
        db, runtime.auth_policy, email=body.email, password=body.password, name=body.name
    )
    db.commit()
    return RegisterResponse(
        user=UserOut.model_validate(issued.user), token=issued.token, expires_at=issued.expires_at
    )


@router.post("/login", response_model=LoginResponse)
def login(body: LoginRequest, db: DbDep, runtime: RuntimeDep) -> LoginResponse:
    try:
        issued = service.login(db, runtime.auth_policy, email=body.email, password=body.password)
    except InvalidCredentials:
        db.rollback()
        with runtime.db.transaction() as tx:
            service.record_login_failure(tx, runtime.auth_policy, body.email)
        raise
    db.commit()
    return LoginResponse(
        token=issued.token, expires_at=issued.expires_at, user=UserOut.model_validate(issued.user)
    )


@router.post("/logout", status_code=status.HTTP_204_NO_CONTENT)
def logout(principal: PrincipalDep, db: DbDep) -> None:
    service.logout(db, principal)
    db.commit()


@router.get("/me", response_model=UserOut)
def me(principal: PrincipalDep, db: DbDep) -> UserOut:
    if principal.user_id is None:
        raise Forbidden("API keys have no user account")
    return UserOut.model_validate(service.get_user(db, principal.user_id))

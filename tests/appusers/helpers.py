"""Small helpers shared by the app-user tests: they speak HTTP like a client would."""

from __future__ import annotations

from typing import Any

from fastapi.testclient import TestClient
from sqlalchemy import func, select

from cloudbox.appusers.models import AppAuthSettings, AppSession, AppUser
from cloudbox.runtime import Runtime

PASSWORD = "app-user-pass-1"


def register(
    client: TestClient, pid: int, email: str, password: str = PASSWORD, **extra: Any
) -> Any:
    return client.post(
        f"/api/projects/{pid}/auth/register", json={"email": email, "password": password, **extra}
    )


def login(client: TestClient, pid: int, email: str, password: str = PASSWORD) -> Any:
    return client.post(
        f"/api/projects/{pid}/auth/login", json={"email": email, "password": password}
    )


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def signed_up(client: TestClient, pid: int, email: str, **extra: Any) -> dict[str, Any]:
    response = register(client, pid, email, **extra)
    assert response.status_code == 201, response.text
    body: dict[str, Any] = response.json()
    return body


def row_counts(runtime: Runtime) -> dict[str, int]:
    with runtime.db.session() as db:
        return {
            model.__tablename__: db.scalar(select(func.count()).select_from(model)) or 0
            for model in (AppUser, AppSession, AppAuthSettings)
        }

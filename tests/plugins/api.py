"""API fixtures: an in-process app on a fresh database, and helpers that speak to it the
way a client would (no shortcuts into the services)."""

from __future__ import annotations

import itertools
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from argon2 import PasswordHasher
from fastapi.testclient import TestClient

from cloudbox.app import create_app
from cloudbox.config import Settings
from cloudbox.runtime import Runtime
from cloudbox.security import passwords

MASTER_KEY = "test-master-key-0123456789abcdef"
_counter = itertools.count(1)


@pytest.fixture(autouse=True)
def cheap_argon2(monkeypatch: pytest.MonkeyPatch) -> None:
    """argon2 at production cost takes ~0.3 s per hash here and the suite signs in
    hundreds of times; tests exercise rules, not cost, so in-process hashing uses a cheap
    argon2id (hashes keep the `$argon2id$` form). Server processes keep the real cost."""
    hasher = PasswordHasher(time_cost=1, memory_cost=1024, parallelism=1)
    monkeypatch.setattr(passwords, "_hasher", hasher)
    monkeypatch.setattr(passwords, "_DUMMY_HASH", hasher.hash("cloudbox-timing-equaliser"))


@pytest.fixture
def settings(database_url: str, tmp_path: Path) -> Settings:
    return Settings(
        env="test",
        data_dir=tmp_path / "data",
        database_url=database_url,
        master_key=MASTER_KEY,
        login_max_failures=5,
        job_progress_interval_seconds=0.05,
        recovery_interval_seconds=0,
        gc_interval_seconds=0,
    )


@pytest.fixture
def runtime(settings: Settings) -> Iterator[Runtime]:
    rt = Runtime.build(settings)
    yield rt
    rt.close()


@pytest.fixture
def client(settings: Settings, runtime: Runtime) -> Iterator[TestClient]:
    app = create_app(settings, runtime)
    with TestClient(app, raise_server_exceptions=False) as test_client:
        yield test_client


@dataclass
class Account:
    """A registered platform user and a bound way to call the API as them."""

    client: TestClient
    email: str
    password: str
    token: str
    user: dict[str, Any]
    headers: dict[str, str] = field(init=False)

    def __post_init__(self) -> None:
        self.headers = {"Authorization": f"Bearer {self.token}"}

    def get(self, url: str, **kw: Any) -> Any:
        return self.client.get(url, headers={**self.headers, **kw.pop("headers", {})}, **kw)

    def post(self, url: str, **kw: Any) -> Any:
        return self.client.post(url, headers={**self.headers, **kw.pop("headers", {})}, **kw)

    def put(self, url: str, **kw: Any) -> Any:
        return self.client.put(url, headers={**self.headers, **kw.pop("headers", {})}, **kw)

    def patch(self, url: str, **kw: Any) -> Any:
        return self.client.patch(url, headers={**self.headers, **kw.pop("headers", {})}, **kw)

    def delete(self, url: str, **kw: Any) -> Any:
        return self.client.delete(url, headers={**self.headers, **kw.pop("headers", {})}, **kw)

    def create_project(self, name: str = "Project", **extra: Any) -> dict[str, Any]:
        response = self.post("/api/projects", json={"name": name, **extra})
        assert response.status_code == 201, response.text
        project: dict[str, Any] = response.json()
        return project


def register(client: TestClient, name: str | None = None) -> Account:
    n = next(_counter)
    email = f"user{n}@example.com"
    password = f"correct-horse-{n}"
    response = client.post(
        "/api/auth/register",
        json={"email": email, "password": password, "name": name or f"User {n}"},
    )
    assert response.status_code == 201, response.text
    body = response.json()
    return Account(
        client=client, email=email, password=password, token=body["token"], user=body["user"]
    )


@pytest.fixture
def account(client: TestClient) -> Account:
    return register(client, "Owner")


@pytest.fixture
def other_account(client: TestClient) -> Account:
    return register(client, "Stranger")


@pytest.fixture
def project(account: Account) -> dict[str, Any]:
    return account.create_project("Main")


def add_member(owner: Account, project_id: int, role: str, client: TestClient) -> Account:
    member = register(client, role.title())
    response = owner.post(
        f"/api/projects/{project_id}/members", json={"email": member.email, "role": role}
    )
    assert response.status_code == 201, response.text
    return member


def assert_error(response: Any, status: int, code: str) -> dict[str, Any]:
    assert response.status_code == status, response.text
    body: dict[str, Any] = response.json()
    assert set(body) == {"error"}, body
    assert body["error"]["code"] == code, body
    assert isinstance(body["error"]["message"], str) and body["error"]["message"]
    assert isinstance(body["error"]["details"], dict)
    return body


def api_routes(client: TestClient) -> list[tuple[str, str]]:
    """Every (METHOD, path template) the app serves, from its OpenAPI document."""
    paths: dict[str, dict[str, Any]] = client.app.openapi()["paths"]  # type: ignore[attr-defined]
    return [(method.upper(), path) for path, ops in paths.items() for method in ops]


def fill_path(template: str, project_id: int) -> str:
    """A concrete URL for a template: the given project, dummy values for other ids."""
    import re

    url = template.replace("{project_id}", str(project_id))
    return re.sub(r"\{[a-z_]+\}", "1", url)

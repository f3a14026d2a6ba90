from __future__ import annotations

from datetime import timedelta
from typing import Any

from fastapi.testclient import TestClient
from sqlalchemy import select, update

from cloudbox.apikeys.models import ApiKey
from cloudbox.db.types import utcnow
from cloudbox.runtime import Runtime
from tests.plugins.api import Account, add_member, assert_error


def _create_key(account: Account, pid: int, scopes: list[str], **extra: Any) -> dict[str, Any]:
    response = account.post(
        f"/api/projects/{pid}/api-keys", json={"name": "ci", "scopes": scopes, **extra}
    )
    assert response.status_code == 201, response.text
    body: dict[str, Any] = response.json()
    return body


def test_key_shown_once_and_stored_hashed(
    account: Account, project: dict[str, Any], runtime: Runtime
) -> None:
    pid = project["id"]
    created = _create_key(account, pid, ["read", "write"])
    assert created["key"].startswith("cbk_") and created["scopes"] == ["read", "write"]
    listed = account.get(f"/api/projects/{pid}/api-keys")
    assert listed.headers["X-Total-Count"] == "1"
    assert "key" not in listed.json()[0] and listed.json()[0]["id"] == created["id"]
    with runtime.db.session() as db:
        rows = db.execute(select(ApiKey.key_hash, ApiKey.key_prefix, ApiKey.name)).all()
    for row in rows:
        assert all(created["key"] not in str(value) for value in row)


def test_key_acts_on_its_project_within_scopes(
    client: TestClient, account: Account, project: dict[str, Any]
) -> None:
    pid = project["id"]
    other = account.create_project("Other")
    read_key = _create_key(account, pid, ["read"])["key"]
    write_key = _create_key(account, pid, ["write"])["key"]

    assert client.get(f"/api/projects/{pid}", headers={"X-API-Key": read_key}).status_code == 200
    # the Bearer form works too
    assert (
        client.get(
            f"/api/projects/{pid}/cors", headers={"Authorization": f"Bearer {read_key}"}
        ).status_code
        == 200
    )
    # a key of project A is refused on project B, even though B's owner created it
    assert_error(
        client.get(f"/api/projects/{other['id']}", headers={"X-API-Key": read_key}),
        404,
        "PROJECT_NOT_FOUND",
    )
    # scope checks
    assert_error(
        client.put(f"/api/projects/{pid}/cors", headers={"X-API-Key": write_key}, json={}),
        403,
        "INSUFFICIENT_PERMISSIONS",
    )
    assert_error(
        client.patch(f"/api/projects/{pid}", headers={"X-API-Key": read_key}, json={"name": "x"}),
        403,
        "INSUFFICIENT_PERMISSIONS",
    )
    admin_key = _create_key(account, pid, ["admin"])["key"]
    assert (
        client.put(
            f"/api/projects/{pid}/cors", headers={"X-API-Key": admin_key}, json={}
        ).status_code
        == 200
    )
    # keys cannot list projects or act as a user
    assert_error(
        client.get("/api/projects", headers={"X-API-Key": read_key}),
        403,
        "INSUFFICIENT_PERMISSIONS",
    )


def test_expired_disabled_and_deleted_keys_are_refused(
    client: TestClient, account: Account, project: dict[str, Any], runtime: Runtime
) -> None:
    pid = project["id"]
    created = _create_key(account, pid, ["read"])
    headers = {"X-API-Key": created["key"]}
    assert client.get(f"/api/projects/{pid}", headers=headers).status_code == 200
    with runtime.db.transaction() as db:
        db.execute(update(ApiKey).values(expires_at=utcnow() - timedelta(seconds=1)))
    assert_error(client.get(f"/api/projects/{pid}", headers=headers), 401, "INVALID_TOKEN")
    with runtime.db.transaction() as db:
        db.execute(update(ApiKey).values(expires_at=None, is_active=False))
    assert_error(client.get(f"/api/projects/{pid}", headers=headers), 401, "INVALID_TOKEN")
    with runtime.db.transaction() as db:
        db.execute(update(ApiKey).values(is_active=True))
    assert account.delete(f"/api/projects/{pid}/api-keys/{created['id']}").status_code == 204
    assert_error(client.get(f"/api/projects/{pid}", headers=headers), 401, "INVALID_TOKEN")
    assert_error(
        account.delete(f"/api/projects/{pid}/api-keys/{created['id']}"), 404, "API_KEY_NOT_FOUND"
    )


def test_key_validation(client: TestClient, account: Account, project: dict[str, Any]) -> None:
    pid = project["id"]
    url = f"/api/projects/{pid}/api-keys"
    assert_error(account.post(url, json={"name": "x", "scopes": ["root"]}), 422, "VALIDATION_ERROR")
    assert_error(account.post(url, json={"name": "x", "scopes": []}), 422, "VALIDATION_ERROR")
    assert_error(
        account.post(
            url, json={"name": "x", "scopes": ["read"], "expires_at": "2001-01-01T00:00:00Z"}
        ),
        422,
        "VALIDATION_ERROR",
    )
    assert_error(
        account.post(
            url, json={"name": "x", "scopes": ["read"], "expires_at": "2999-01-01T00:00:00"}
        ),
        422,
        "VALIDATION_ERROR",
    )
    assert account.get(url).headers["X-Total-Count"] == "0"
    dev = add_member(account, pid, "developer", client)
    assert_error(
        dev.post(url, json={"name": "x", "scopes": ["read"]}), 403, "INSUFFICIENT_PERMISSIONS"
    )
    assert_error(dev.get(url), 403, "INSUFFICIENT_PERMISSIONS")

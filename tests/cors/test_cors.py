from __future__ import annotations

from typing import Any

from fastapi.testclient import TestClient

from tests.plugins.api import Account, assert_error

ORIGIN = "https://app.example.com"


def _setup(account: Account, pid: int) -> str:
    config = {
        "allowed_origins": [ORIGIN],
        "allowed_methods": ["GET", "POST"],
        "allowed_headers": ["X-API-Key", "Content-Type"],
        "exposed_headers": ["X-Total-Count"],
        "allow_credentials": False,
        "max_age": 120,
    }
    response = account.put(f"/api/projects/{pid}/cors", json=config)
    assert response.status_code == 200 and response.json() == config
    key = account.post(
        f"/api/projects/{pid}/api-keys", json={"name": "web", "scopes": ["read"]}
    ).json()["key"]
    assert isinstance(key, str)
    return key


def test_defaults_then_put(account: Account, project: dict[str, Any]) -> None:
    pid = project["id"]
    assert account.get(f"/api/projects/{pid}/cors").json()["allowed_origins"] == []
    _setup(account, pid)
    assert account.get(f"/api/projects/{pid}/cors").json()["max_age"] == 120


def test_rules_apply_to_requests_with_the_project_key(
    client: TestClient, account: Account, project: dict[str, Any]
) -> None:
    pid = project["id"]
    key = _setup(account, pid)
    allowed = client.get(f"/api/projects/{pid}", headers={"X-API-Key": key, "Origin": ORIGIN})
    assert allowed.status_code == 200
    assert allowed.headers["access-control-allow-origin"] == ORIGIN
    assert "X-Total-Count" in allowed.headers["access-control-expose-headers"]
    denied = client.get(
        f"/api/projects/{pid}", headers={"X-API-Key": key, "Origin": "https://evil.example"}
    )
    assert "access-control-allow-origin" not in denied.headers
    # a user token carries no project, so no project CORS applies
    as_user = client.get(f"/api/projects/{pid}", headers={**account.headers, "Origin": ORIGIN})
    assert "access-control-allow-origin" not in as_user.headers


def test_preflight(client: TestClient, account: Account, project: dict[str, Any]) -> None:
    pid = project["id"]
    _setup(account, pid)
    ok = client.options(
        f"/api/projects/{pid}/cors",
        headers={
            "Origin": ORIGIN,
            "Access-Control-Request-Method": "GET",
            "Access-Control-Request-Headers": "x-api-key",
        },
    )
    assert ok.status_code == 204
    assert ok.headers["access-control-allow-origin"] == ORIGIN
    assert ok.headers["access-control-max-age"] == "120"
    bad_method = client.options(
        f"/api/projects/{pid}/cors",
        headers={"Origin": ORIGIN, "Access-Control-Request-Method": "DELETE"},
    )
    assert_error(bad_method, 403, "CORS_NOT_ALLOWED")
    missing = client.options(
        "/api/projects/999999/cors",
        headers={"Origin": ORIGIN, "Access-Control-Request-Method": "GET"},
    )
    evil = client.options(
        f"/api/projects/{pid}/cors",
        headers={"Origin": "https://evil.example", "Access-Control-Request-Method": "GET"},
    )
    assert missing.status_code == evil.status_code == 403 and missing.json() == evil.json()


def test_cors_validation(account: Account, project: dict[str, Any]) -> None:
    url = f"/api/projects/{project['id']}/cors"
    assert_error(account.put(url, json={"allowed_origins": ["not a url"]}), 422, "VALIDATION_ERROR")
    assert_error(account.put(url, json={"allowed_methods": ["TRACE"]}), 422, "VALIDATION_ERROR")
    assert_error(account.put(url, json={"max_age": -1}), 422, "VALIDATION_ERROR")
    assert_error(
        account.put(url, json={"allowed_origins": ["*"], "allow_credentials": True}),
        422,
        "VALIDATION_ERROR",
    )
    assert_error(account.put(url, json={"surprise": 1}), 422, "VALIDATION_ERROR")
    assert account.get(url).json()["allowed_origins"] == []

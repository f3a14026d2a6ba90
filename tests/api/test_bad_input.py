"""Bad input never yields a 500 and never writes anything."""

from __future__ import annotations

from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import func, select

from cloudbox.audit.models import AuditLog
from cloudbox.auth.models import User
from cloudbox.models import Base
from cloudbox.runtime import Runtime
from tests.plugins.api import Account, assert_error


def _row_counts(runtime: Runtime) -> dict[str, int]:
    with runtime.db.session() as db:
        return {
            table.name: db.scalar(select(func.count()).select_from(table)) or 0
            for table in Base.metadata.sorted_tables
            if table.name not in {AuditLog.__tablename__, "login_failures"}
        }


BAD_REGISTRATIONS = [
    ("malformed json", b'{"email": "a@b.co", "password": ', "application/json"),
    ("not an object", b"[1, 2, 3]", "application/json"),
    ("wrong types", b'{"email": 5, "password": ["x"], "name": null}', "application/json"),
    (
        "invalid email",
        b'{"email": "not-an-email", "password": "longenough", "name": "A"}',
        "application/json",
    ),
    (
        "short password",
        b'{"email": "a@b.co", "password": "short", "name": "A"}',
        "application/json",
    ),
    (
        "over-long name",
        b'{"email": "a@b.co", "password": "longenough", "name": "' + b"n" * 500 + b'"}',
        "application/json",
    ),
    (
        "unknown field",
        b'{"email": "a@b.co", "password": "longenough", "name": "A", "is_platform_admin": true}',
        "application/json",
    ),
    ("empty body", b"", "application/json"),
    (
        "invalid utf-8",
        b'{"email": "\xff\xfe", "password": "longenough", "name": "A"}',
        "application/json",
    ),
    ("deep nesting", b'{"email": ' + b"[" * 5000 + b"]" * 5000 + b"}", "application/json"),
    ("text body", b"email=a@b.co", "text/plain"),
]


@pytest.mark.parametrize(
    ("case", "body", "ctype"), BAD_REGISTRATIONS, ids=[c[0] for c in BAD_REGISTRATIONS]
)
def test_bad_registrations(
    client: TestClient, runtime: Runtime, case: str, body: bytes, ctype: str
) -> None:
    before = _row_counts(runtime)
    response = client.post("/api/auth/register", content=body, headers={"Content-Type": ctype})
    assert 400 <= response.status_code < 500, (case, response.status_code, response.text)
    assert_error(response, response.status_code, "VALIDATION_ERROR")
    assert _row_counts(runtime) == before


def test_oversized_body_is_refused(client: TestClient, runtime: Runtime, settings: Any) -> None:
    before = _row_counts(runtime)
    huge = (
        b'{"email": "a@b.co", "password": "longenough", "name": "'
        + b"x" * settings.max_json_body_bytes
        + b'"}'
    )
    response = client.post(
        "/api/auth/register", content=huge, headers={"Content-Type": "application/json"}
    )
    assert_error(response, 413, "PAYLOAD_TOO_LARGE")
    assert _row_counts(runtime) == before


@pytest.mark.parametrize(
    "bad_id", ["abc", "1.5", "-1", "0", "99999999999999999999", "1;DROP TABLE users"]
)
def test_non_integer_or_out_of_range_ids(account: Account, bad_id: str) -> None:
    for response in (
        account.get(f"/api/projects/{bad_id}"),
        account.patch(f"/api/projects/{bad_id}", json={"name": "x"}),
        account.get(f"/api/projects/{bad_id}/members"),
        account.delete(f"/api/projects/{bad_id}/members/{bad_id}"),
    ):
        assert response.status_code in (404, 422), response.text
        assert response.json()["error"]["code"] in ("VALIDATION_ERROR", "NOT_FOUND")


def test_project_bad_input_writes_nothing(
    account: Account, project: dict[str, Any], runtime: Runtime
) -> None:
    pid = project["id"]
    before = _row_counts(runtime)
    cases = [
        account.post("/api/projects", json={"name": ""}),
        account.post("/api/projects", json={"name": "x" * 201}),
        account.post("/api/projects", json={"name": "ok", "owner": 5}),
        account.post("/api/projects", json={"name": 12}),
        account.patch(f"/api/projects/{pid}", json={"settings": "not-an-object"}),
        account.patch(f"/api/projects/{pid}", json={"name": None, "x": 1}),
        account.post(f"/api/projects/{pid}/members", json={"email": "a@b.co"}),
        account.get("/api/projects", params={"limit": 0}),
        account.get("/api/projects", params={"limit": 1001}),
        account.get("/api/projects", params={"offset": -1}),
    ]
    for response in cases:
        assert_error(response, 422, "VALIDATION_ERROR")
    assert _row_counts(runtime) == before
    with runtime.db.session() as db:
        assert db.scalar(select(func.count()).select_from(User)) == 1


def test_internal_errors_hide_details(
    client: TestClient, account: Account, monkeypatch: pytest.MonkeyPatch
) -> None:
    from cloudbox.projects import service

    def explode(*_: Any, **__: Any) -> None:
        raise RuntimeError("secret internal detail /var/lib/cloudbox")

    monkeypatch.setattr(service, "create_project", explode)
    response = account.post("/api/projects", json={"name": "boom"})
    body = assert_error(response, 500, "INTERNAL_ERROR")
    assert "secret" not in response.text and "Traceback" not in response.text
    assert body["error"]["message"] == "Internal server error"

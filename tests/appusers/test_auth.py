"""Sign-up and sign-in of a project's app users: public routes under
/api/projects/{id}/auth/, their tokens, lockout, and what nothing may reveal."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from fastapi.testclient import TestClient
from sqlalchemy import update

from cloudbox.appusers.models import AppLoginFailure, AppSession
from cloudbox.db.types import utcnow
from cloudbox.runtime import Runtime
from tests.appusers.helpers import (
    PASSWORD,
    bearer,
    login,
    register,
    row_counts,
    signed_up,
)
from tests.plugins.api import Account, assert_error

MISSING = 999_999


def _when(value: str) -> datetime:
    return datetime.fromisoformat(value.replace("Z", "+00:00"))


def _audit(account: Account, pid: int, action: str) -> list[dict[str, Any]]:
    response = account.get(f"/api/projects/{pid}/audit-logs", params={"action": action})
    assert response.status_code == 200
    entries: list[dict[str, Any]] = response.json()
    return entries


def test_register_login_me_logout(
    client: TestClient, account: Account, project: dict[str, Any]
) -> None:
    pid = project["id"]
    registered = client.post(
        f"/api/projects/{pid}/auth/register",
        json={
            "email": "Ann@Example.com",
            "password": PASSWORD,
            "name": "Ann",
            "username": "Ann",
        },
        headers={"User-Agent": "app/1.0"},
    )
    assert registered.status_code == 201, registered.text
    body = registered.json()
    assert set(body) == {"token", "expires_at", "user"}
    assert body["token"].startswith("cbu_")
    user = body["user"]
    assert user["email"] == "ann@example.com" and user["username"] == "ann"
    assert user["name"] == "Ann" and user["is_email_verified"] is False

    logged_in = login(client, pid, "ANN@example.com")
    assert logged_in.status_code == 200, logged_in.text
    data = logged_in.json()
    assert set(data) == {"token", "expires_at", "user"} and data["token"].startswith("cbu_")
    assert data["token"] != body["token"]
    expires = _when(data["expires_at"])
    assert abs((expires - utcnow()) - timedelta(seconds=86400)) < timedelta(seconds=60)
    assert data["user"]["last_login_at"] is not None
    assert data["user"]["last_login_at"] >= user["last_login_at"]

    headers = bearer(data["token"])
    me = client.get(f"/api/projects/{pid}/auth/me", headers=headers)
    assert me.status_code == 200 and me.json()["id"] == user["id"]
    assert client.post(f"/api/projects/{pid}/auth/logout", headers=headers).status_code == 204
    assert_error(client.get(f"/api/projects/{pid}/auth/me", headers=headers), 401, "INVALID_TOKEN")
    assert_error(
        client.post(f"/api/projects/{pid}/auth/logout", headers=headers), 401, "INVALID_TOKEN"
    )
    # the registration token is another session and still works
    still = client.get(f"/api/projects/{pid}/auth/me", headers=bearer(body["token"]))
    assert still.status_code == 200
    # the admin sees the last sign-in
    admin_view = account.get(f"/api/projects/{pid}/users/{user['id']}").json()
    assert admin_view["last_login_at"] == data["user"]["last_login_at"]

    # audit: register, login and logout name the app user as the actor
    assert_error(
        login(client, pid, "ann@example.com", "wrong-password"), 401, "INVALID_CREDENTIALS"
    )
    for action in ("app_user.register", "app_user.login", "app_user.logout"):
        entries = _audit(account, pid, action)
        assert entries, action
        ok = [e for e in entries if e["success"]]
        assert ok and all(e["actor_type"] == "app_user" for e in entries)
        assert ok[0]["actor_id"] == user["id"] and ok[0]["resource_id"] == user["id"]
        assert ok[0]["actor_email"] == "ann@example.com"
    assert _audit(account, pid, "app_user.register")[0]["user_agent"] == "app/1.0"
    failed = [e for e in _audit(account, pid, "app_user.login") if not e["success"]]
    assert len(failed) == 1 and failed[0]["error_code"] == "INVALID_CREDENTIALS"
    assert failed[0]["actor_id"] is None and failed[0]["actor_email"] == "ann@example.com"
    # a refused logout (token already revoked) is recorded too
    assert [e["success"] for e in _audit(account, pid, "app_user.logout")] == [False, True]


def test_public_routes_need_no_platform_credential_and_refuse_one(
    client: TestClient, account: Account, project: dict[str, Any]
) -> None:
    pid = project["id"]
    assert_error(client.get(f"/api/projects/{pid}/auth/me"), 401, "UNAUTHORIZED")
    assert_error(client.post(f"/api/projects/{pid}/auth/logout"), 401, "UNAUTHORIZED")
    # the owner's platform token is not an app-user token
    assert_error(account.get(f"/api/projects/{pid}/auth/me"), 401, "INVALID_TOKEN")
    assert_error(
        client.get(f"/api/projects/{pid}/auth/me", headers=bearer("cbu_forged")),
        401,
        "INVALID_TOKEN",
    )
    token = signed_up(client, pid, "u@example.com")["token"]
    # and an app-user token is no platform credential
    assert_error(client.get("/api/projects", headers=bearer(token)), 401, "INVALID_TOKEN")
    assert_error(client.get(f"/api/projects/{pid}", headers=bearer(token)), 401, "INVALID_TOKEN")


def test_token_of_one_project_is_refused_on_another(
    client: TestClient, account: Account, project: dict[str, Any]
) -> None:
    a, b = project["id"], account.create_project("B")["id"]
    token_a = signed_up(client, a, "same@example.com")["token"]
    token_b = signed_up(client, b, "same@example.com")["token"]
    for pid, token in ((a, token_a), (b, token_b)):
        assert client.get(f"/api/projects/{pid}/auth/me", headers=bearer(token)).status_code == 200
    for pid, token in ((b, token_a), (a, token_b), (MISSING, token_a)):
        assert_error(
            client.get(f"/api/projects/{pid}/auth/me", headers=bearer(token)), 401, "INVALID_TOKEN"
        )
        assert_error(
            client.post(f"/api/projects/{pid}/auth/logout", headers=bearer(token)),
            401,
            "INVALID_TOKEN",
        )
    # the refused logout on B did not end the session on A
    assert client.get(f"/api/projects/{a}/auth/me", headers=bearer(token_a)).status_code == 200


def test_expired_session_is_refused(
    client: TestClient, project: dict[str, Any], runtime: Runtime
) -> None:
    pid = project["id"]
    token = signed_up(client, pid, "exp@example.com")["token"]
    with runtime.db.transaction() as db:
        db.execute(update(AppSession).values(expires_at=utcnow() - timedelta(seconds=1)))
    assert_error(
        client.get(f"/api/projects/{pid}/auth/me", headers=bearer(token)), 401, "INVALID_TOKEN"
    )


def test_failures_reveal_neither_the_email_nor_the_project(
    client: TestClient, account: Account, project: dict[str, Any], runtime: Runtime
) -> None:
    pid = project["id"]
    signed_up(client, pid, "known@example.com")
    wrong_password = login(client, pid, "known@example.com", "not-the-password")
    unknown_email = login(client, pid, "ghost@example.com", "not-the-password")
    missing_project = login(client, MISSING, "known@example.com", "not-the-password")
    malformed_email = login(client, MISSING, "not an email", "x")
    first = assert_error(wrong_password, 401, "INVALID_CREDENTIALS")
    for response in (unknown_email, missing_project, malformed_email):
        assert assert_error(response, 401, "INVALID_CREDENTIALS") == first
        assert response.headers.get("www-authenticate") == wrong_password.headers.get(
            "www-authenticate"
        )

    # sign-up: a missing project answers like a project whose sign-up is closed, whatever
    # the body (a password too short for the real project included)
    assert (
        account.put(f"/api/projects/{pid}/auth-settings", json={"allow_signup": False}).status_code
        == 200
    )
    before = row_counts(runtime)
    closed = register(client, pid, "new@example.com")
    refused = assert_error(closed, 403, "SIGNUP_DISABLED")
    for response in (
        register(client, MISSING, "new@example.com"),
        register(client, MISSING, "new@example.com", password="x"),
        register(client, pid, "new@example.com", password="x"),
    ):
        assert assert_error(response, 403, "SIGNUP_DISABLED") == refused
    assert row_counts(runtime) == before

    # lockout works the same on a missing project, so it tells nothing either
    for target in (pid, MISSING):
        for _ in range(5):
            assert login(client, target, "locker@example.com", "nope").status_code == 401
        locked = login(client, target, "locker@example.com", "nope")
        assert_error(locked, 429, "TOO_MANY_ATTEMPTS")
        assert int(locked.headers["Retry-After"]) > 0


def test_repeated_failures_lock_the_email_for_that_project(
    client: TestClient, account: Account, project: dict[str, Any], runtime: Runtime
) -> None:
    pid = project["id"]
    other = account.create_project("Other")["id"]
    signed_up(client, pid, "lock@example.com")
    signed_up(client, other, "lock@example.com")
    for _ in range(5):
        assert_error(login(client, pid, "lock@example.com", "wrong"), 401, "INVALID_CREDENTIALS")
    # locked even with the right password, and under any spelling of the email
    body = assert_error(login(client, pid, "LOCK@example.com"), 429, "TOO_MANY_ATTEMPTS")
    assert body["error"]["details"]["retry_after_seconds"] > 0
    # another project, another email: unaffected
    assert login(client, other, "lock@example.com").status_code == 200
    signed_up(client, pid, "free@example.com")
    assert login(client, pid, "free@example.com").status_code == 200
    # once the lock has passed, the right password works and clears the counter
    with runtime.db.transaction() as db:
        db.execute(update(AppLoginFailure).values(locked_until=utcnow() - timedelta(seconds=1)))
    assert login(client, pid, "lock@example.com").status_code == 200
    with runtime.db.session() as db:
        row = db.get(AppLoginFailure, (pid, "lock@example.com"))
    assert row is None


def test_register_validation_and_conflicts(
    client: TestClient, project: dict[str, Any], runtime: Runtime
) -> None:
    pid = project["id"]
    signed_up(client, pid, "taken@example.com", username="taken")
    before = row_counts(runtime)
    assert_error(register(client, pid, "TAKEN@example.com"), 409, "APP_USER_EXISTS")
    assert_error(
        register(client, pid, "free@example.com", username="TAKEN"), 409, "APP_USER_EXISTS"
    )
    url = f"/api/projects/{pid}/auth/register"
    for body in (
        {"email": "a@example.com"},
        {"email": "not-an-email", "password": PASSWORD},
        {"email": "a@example.com", "password": PASSWORD, "is_email_verified": True},
        {"email": "a@example.com", "password": PASSWORD, "profile": {}},
        {"email": "a@example.com", "password": PASSWORD, "username": "no spaces"},
    ):
        assert_error(client.post(url, json=body), 422, "VALIDATION_ERROR")
    short = assert_error(
        register(client, pid, "a@example.com", password="seven77"), 422, "VALIDATION_ERROR"
    )
    assert short["error"]["details"]["min_length"] == 8
    login_url = f"/api/projects/{pid}/auth/login"
    for body in (
        {"email": "a@example.com"},
        {"email": "nul\x00@example.com", "password": "x"},
        {"email": "a@example.com", "password": "x", "extra": 1},
    ):
        assert_error(client.post(login_url, json=body), 422, "VALIDATION_ERROR")
    surrogate = client.post(
        login_url,
        content=b'{"email": "a@example.com", "password": "\\ud800"}',
        headers={"Content-Type": "application/json"},
    )
    assert_error(surrogate, 422, "VALIDATION_ERROR")
    assert row_counts(runtime) == before


def test_auth_settings_defaults_put_and_roles(
    client: TestClient, account: Account, project: dict[str, Any]
) -> None:
    from tests.plugins.api import add_member

    pid = project["id"]
    url = f"/api/projects/{pid}/auth-settings"
    defaults = {
        "allow_signup": True,
        "password_min_length": 8,
        "session_ttl_seconds": 86400,
        "require_email_verification": False,
        "allowed_email_domains": [],
    }
    assert account.get(url).json() == defaults
    viewer = add_member(account, pid, "viewer", client)
    developer = add_member(account, pid, "developer", client)
    admin = add_member(account, pid, "admin", client)
    assert viewer.get(url).json() == defaults
    for member in (viewer, developer):
        assert_error(member.put(url, json={"allow_signup": False}), 403, "INSUFFICIENT_PERMISSIONS")
    custom = {
        "allow_signup": False,
        "password_min_length": 10,
        "session_ttl_seconds": 600,
        "require_email_verification": True,
        "allowed_email_domains": ["Example.COM", "example.com", "b.example.org."],
    }
    put = admin.put(url, json=custom)
    assert put.status_code == 200, put.text
    expected = {**custom, "allowed_email_domains": ["example.com", "b.example.org"]}
    assert put.json() == expected and developer.get(url).json() == expected

    for bad in (
        {"password_min_length": 5},
        {"password_min_length": 129},
        {"session_ttl_seconds": 299},
        {"session_ttl_seconds": 31_536_001},
        {"allowed_email_domains": ["not a domain"]},
        {"allowed_email_domains": ["@example.com"]},
        {"allowed_email_domains": ["localhost"]},
        {"allowed_email_domains": [f"d{i}.example.com" for i in range(101)]},
        {"allow_signup": "maybe"},
        {"unknown": True},
    ):
        assert_error(account.put(url, json=bad), 422, "VALIDATION_ERROR")
    assert account.get(url).json() == expected
    # PUT replaces: omitted fields go back to their defaults
    assert account.put(url, json={"password_min_length": 12}).json() == {
        **defaults,
        "password_min_length": 12,
    }
    logs = _audit(account, pid, "auth_settings.update")
    assert logs and {e["success"] for e in logs} == {True, False}


def _settings(account: Account, pid: int, **values: Any) -> None:
    response = account.put(f"/api/projects/{pid}/auth-settings", json=values)
    assert response.status_code == 200, response.text


def test_allow_signup(client: TestClient, account: Account, project: dict[str, Any]) -> None:
    pid = project["id"]
    signed_up(client, pid, "early@example.com")
    _settings(account, pid, allow_signup=False)
    assert_error(register(client, pid, "late@example.com"), 403, "SIGNUP_DISABLED")
    # existing users still sign in
    assert login(client, pid, "early@example.com").status_code == 200
    _settings(account, pid, allow_signup=True)
    signed_up(client, pid, "late@example.com")


def test_password_min_length(client: TestClient, account: Account, project: dict[str, Any]) -> None:
    pid = project["id"]
    _settings(account, pid, password_min_length=12)
    body = assert_error(
        register(client, pid, "a@example.com", password="eleven-char"), 422, "VALIDATION_ERROR"
    )
    assert body["error"]["details"] == {"field": "password", "min_length": 12}
    signed_up(client, pid, "a@example.com", password="twelve-chars")
    _settings(account, pid, password_min_length=6)
    signed_up(client, pid, "b@example.com", password="six666")


def test_session_ttl(client: TestClient, account: Account, project: dict[str, Any]) -> None:
    pid = project["id"]
    _settings(account, pid, session_ttl_seconds=300)
    registered = signed_up(client, pid, "ttl@example.com")
    for issued in (registered, login(client, pid, "ttl@example.com").json()):
        left = _when(issued["expires_at"]) - utcnow()
        assert timedelta(seconds=240) < left <= timedelta(seconds=300)


def test_require_email_verification(
    client: TestClient, account: Account, project: dict[str, Any]
) -> None:
    pid = project["id"]
    signed_up(client, pid, "before@example.com")
    _settings(account, pid, require_email_verification=True)
    registered = signed_up(client, pid, "v@example.com")
    assert registered["token"] is None and registered["expires_at"] is None
    assert registered["user"]["is_email_verified"] is False
    assert_error(login(client, pid, "v@example.com"), 403, "EMAIL_NOT_VERIFIED")
    assert_error(login(client, pid, "before@example.com"), 403, "EMAIL_NOT_VERIFIED")
    # a wrong password still gets the plain answer: only the owner of the password learns more
    assert_error(login(client, pid, "v@example.com", "wrong-password"), 401, "INVALID_CREDENTIALS")
    uid = registered["user"]["id"]
    verified = account.patch(f"/api/projects/{pid}/users/{uid}", json={"is_email_verified": True})
    assert verified.status_code == 200
    assert login(client, pid, "v@example.com").status_code == 200


def test_allowed_email_domains(
    client: TestClient, account: Account, project: dict[str, Any], runtime: Runtime
) -> None:
    pid = project["id"]
    _settings(account, pid, allowed_email_domains=["example.com", "Bücher.de"])
    stored = account.get(f"/api/projects/{pid}/auth-settings").json()["allowed_email_domains"]
    assert stored == ["example.com", "xn--bcher-kva.de"]
    before = row_counts(runtime)
    for email in ("a@other.com", "a@sub.example.com", "a@example.com.evil.io"):
        body = assert_error(register(client, pid, email), 422, "EMAIL_DOMAIN_NOT_ALLOWED")
        assert body["error"]["details"]["field"] == "email"
    assert row_counts(runtime) == before
    signed_up(client, pid, "a@EXAMPLE.com")
    signed_up(client, pid, "b@bücher.de")
    _settings(account, pid, allowed_email_domains=[])
    signed_up(client, pid, "a@other.com")

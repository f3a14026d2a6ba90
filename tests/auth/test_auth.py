from __future__ import annotations

from datetime import timedelta

from fastapi.testclient import TestClient
from sqlalchemy import select, update

from cloudbox.auth.models import AuthSession, User
from cloudbox.db.types import utcnow
from cloudbox.runtime import Runtime
from tests.plugins.api import Account, assert_error, register


def test_register_login_me_logout(client: TestClient) -> None:
    response = client.post(
        "/api/auth/register",
        json={"email": "Alice@Example.com", "password": "s3cret-pass", "name": "Alice"},
    )
    assert response.status_code == 201
    body = response.json()
    assert body["user"]["email"] == "alice@example.com"
    assert body["token"].startswith("cbt_")

    login = client.post(
        "/api/auth/login", json={"email": "alice@example.com", "password": "s3cret-pass"}
    )
    assert login.status_code == 200
    data = login.json()
    assert set(data) == {"token", "expires_at", "user"}
    headers = {"Authorization": f"Bearer {data['token']}"}
    me = client.get("/api/auth/me", headers=headers)
    assert me.status_code == 200 and me.json()["email"] == "alice@example.com"

    assert client.post("/api/auth/logout", headers=headers).status_code == 204
    assert_error(client.get("/api/auth/me", headers=headers), 401, "INVALID_TOKEN")
    # the registration token is another session and still works
    other = {"Authorization": f"Bearer {body['token']}"}
    assert client.get("/api/auth/me", headers=other).status_code == 200


def test_duplicate_email_conflicts(client: TestClient, account: Account) -> None:
    response = client.post(
        "/api/auth/register",
        json={"email": account.email.upper(), "password": "another-pass", "name": "X"},
    )
    assert_error(response, 409, "EMAIL_TAKEN")


def test_login_failure_does_not_reveal_whether_email_exists(
    client: TestClient, account: Account
) -> None:
    wrong_password = client.post(
        "/api/auth/login", json={"email": account.email, "password": "nope-nope"}
    )
    unknown_email = client.post(
        "/api/auth/login", json={"email": "ghost@example.com", "password": "nope-nope"}
    )
    a = assert_error(wrong_password, 401, "INVALID_CREDENTIALS")
    b = assert_error(unknown_email, 401, "INVALID_CREDENTIALS")
    assert a == b


def test_repeated_failures_lock_the_email(client: TestClient, account: Account) -> None:
    for _ in range(5):
        response = client.post(
            "/api/auth/login", json={"email": account.email, "password": "wrong-one"}
        )
        assert response.status_code == 401
    locked = client.post(
        "/api/auth/login", json={"email": account.email, "password": account.password}
    )
    body = assert_error(locked, 429, "TOO_MANY_ATTEMPTS")
    assert int(locked.headers["Retry-After"]) > 0
    assert body["error"]["details"]["retry_after_seconds"] > 0
    # unknown emails lock the same way, so locking tells nothing either
    for _ in range(5):
        client.post("/api/auth/login", json={"email": "ghost@example.com", "password": "wrong-one"})
    assert_error(
        client.post("/api/auth/login", json={"email": "ghost@example.com", "password": "x"}),
        429,
        "TOO_MANY_ATTEMPTS",
    )


def test_expired_token_is_refused(client: TestClient, account: Account, runtime: Runtime) -> None:
    with runtime.db.transaction() as db:
        db.execute(update(AuthSession).values(expires_at=utcnow() - timedelta(seconds=1)))
    assert_error(account.get("/api/auth/me"), 401, "INVALID_TOKEN")
    assert_error(account.get("/api/projects"), 401, "INVALID_TOKEN")


def test_missing_and_garbage_tokens(client: TestClient) -> None:
    assert_error(client.get("/api/projects"), 401, "UNAUTHORIZED")
    assert_error(
        client.get("/api/projects", headers={"Authorization": "Bearer junk"}), 401, "INVALID_TOKEN"
    )
    assert_error(
        client.get("/api/projects", headers={"Authorization": "Bearer cbt_forged"}),
        401,
        "INVALID_TOKEN",
    )
    assert_error(
        client.get("/api/projects", headers={"Authorization": "Basic abc"}), 401, "UNAUTHORIZED"
    )


def test_tokens_and_passwords_are_not_stored_in_plaintext(
    client: TestClient, account: Account, runtime: Runtime
) -> None:
    with runtime.db.session() as db:
        hashes = db.scalars(select(AuthSession.token_hash)).all()
        user = db.scalar(select(User).where(User.email == account.email))
    assert hashes and account.token not in hashes
    assert all(account.token not in h for h in hashes)
    assert user is not None and account.password not in user.password_hash
    assert user.password_hash.startswith("$argon2")


def test_register_second_user(client: TestClient) -> None:
    first, second = register(client), register(client)
    assert first.user["id"] != second.user["id"]

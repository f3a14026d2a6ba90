"""Admin management of a project's app users under /api/projects/{id}/users."""

from __future__ import annotations

from typing import Any

from fastapi.testclient import TestClient
from sqlalchemy import select

from cloudbox.appusers.models import AppSession, AppUser
from cloudbox.runtime import Runtime
from tests.appusers.helpers import PASSWORD, bearer, login, row_counts, signed_up
from tests.plugins.api import Account, add_member, assert_error

USER_FIELDS = {
    "id",
    "email",
    "name",
    "username",
    "is_active",
    "is_email_verified",
    "profile",
    "created_at",
    "updated_at",
    "last_login_at",
}


def _create(account: Account, pid: int, **body: Any) -> dict[str, Any]:
    body.setdefault("password", PASSWORD)
    response = account.post(f"/api/projects/{pid}/users", json=body)
    assert response.status_code == 201, response.text
    created: dict[str, Any] = response.json()
    return created


def test_create_list_get_patch_delete(account: Account, project: dict[str, Any]) -> None:
    pid = project["id"]
    url = f"/api/projects/{pid}/users"
    carol = _create(
        account,
        pid,
        email="Carol@Example.com",
        name="Carol",
        username="Carol_1",
        profile={"plan": "pro", "tags": ["a", "b"], "n": 1.5},
    )
    assert set(carol) == USER_FIELDS
    assert carol["email"] == "carol@example.com" and carol["username"] == "carol_1"
    assert carol["is_active"] is True and carol["is_email_verified"] is False
    assert carol["profile"] == {"plan": "pro", "tags": ["a", "b"], "n": 1.5}
    assert carol["last_login_at"] is None
    alice = _create(account, pid, email="alice@example.com", is_email_verified=True)
    assert alice["name"] is None and alice["username"] is None and alice["profile"] == {}
    bob = _create(account, pid, email="bob@example.com", is_active=False)

    listed = account.get(url)
    assert listed.status_code == 200 and listed.headers["X-Total-Count"] == "3"
    assert [u["id"] for u in listed.json()] == [carol["id"], alice["id"], bob["id"]]
    page = account.get(url, params={"limit": 1, "offset": 1, "order_by": "email"})
    assert page.headers["X-Total-Count"] == "3"
    assert [u["email"] for u in page.json()] == ["bob@example.com"]
    by_email_desc = account.get(url, params={"order_by": "-email"}).json()
    assert [u["email"] for u in by_email_desc] == [
        "carol@example.com",
        "bob@example.com",
        "alice@example.com",
    ]
    assert_error(account.get(url, params={"order_by": "password_hash"}), 422, "VALIDATION_ERROR")

    assert account.get(f"{url}/{alice['id']}").json() == alice
    patched = account.patch(
        f"{url}/{carol['id']}",
        json={"name": "Caroline", "username": None, "profile": {"plan": "free"}},
    )
    assert patched.status_code == 200, patched.text
    body = patched.json()
    assert body["name"] == "Caroline" and body["username"] is None
    assert body["profile"] == {"plan": "free"} and body["email"] == "carol@example.com"
    assert body["updated_at"] >= carol["updated_at"]
    assert account.patch(f"{url}/{carol['id']}", json={}).json() == body

    assert account.delete(f"{url}/{carol['id']}").status_code == 204
    assert_error(account.get(f"{url}/{carol['id']}"), 404, "APP_USER_NOT_FOUND")
    assert_error(account.patch(f"{url}/{carol['id']}", json={}), 404, "APP_USER_NOT_FOUND")
    assert_error(account.delete(f"{url}/{carol['id']}"), 404, "APP_USER_NOT_FOUND")
    assert account.get(url).headers["X-Total-Count"] == "2"


def test_email_and_username_unique_per_project_case_insensitive(
    account: Account, project: dict[str, Any], runtime: Runtime
) -> None:
    pid = project["id"]
    url = f"/api/projects/{pid}/users"
    first = _create(account, pid, email="dup@example.com", username="Dupe")
    second = _create(account, pid, email="other@example.com")
    before = row_counts(runtime)
    body = assert_error(
        account.post(url, json={"email": "DUP@Example.COM", "password": PASSWORD}),
        409,
        "APP_USER_EXISTS",
    )
    assert body["error"]["details"] == {"field": "email"}
    body = assert_error(
        account.post(
            url, json={"email": "x@example.com", "password": PASSWORD, "username": "dUPE"}
        ),
        409,
        "APP_USER_EXISTS",
    )
    assert body["error"]["details"] == {"field": "username"}
    assert_error(
        account.patch(f"{url}/{second['id']}", json={"email": "Dup@example.com"}),
        409,
        "APP_USER_EXISTS",
    )
    assert_error(
        account.patch(f"{url}/{second['id']}", json={"username": "DUPE"}), 409, "APP_USER_EXISTS"
    )
    assert row_counts(runtime) == before
    # a user may keep (or re-case) their own email and username
    same = account.patch(
        f"{url}/{first['id']}", json={"email": "DUP@example.com", "username": "dupe"}
    )
    assert same.status_code == 200 and same.json()["email"] == "dup@example.com"
    # the same email is free in another project
    other = account.create_project("Other")
    _create(account, other["id"], email="dup@example.com", username="dupe")


def test_bad_input_writes_nothing(
    client: TestClient, account: Account, project: dict[str, Any], runtime: Runtime
) -> None:
    pid = project["id"]
    url = f"/api/projects/{pid}/users"
    user = _create(account, pid, email="keep@example.com", name="Keep")
    before = row_counts(runtime)
    ok = {"email": "new@example.com", "password": PASSWORD}
    bad_creates: list[dict[str, Any]] = [
        {},
        {"email": "not-an-email", "password": PASSWORD},
        {**ok, "password": "short12"},  # below the default minimum of 8
        {**ok, "password": "p" * 257},
        {**ok, "name": "n" * 201},
        {**ok, "name": "nul\x00"},
        {**ok, "username": "has space"},
        {**ok, "username": "u" * 65},
        {**ok, "profile": ["not", "an", "object"]},
        {**ok, "profile": {"big": "x" * (64 * 1024)}},
        {**ok, "profile": {"nul": "a\x00b"}},
        {**ok, "profile": {"k\x00": 1}},
        {**ok, "profile": {"deep": _nested(40)}},
        {**ok, "password_hash": "$argon2id$forged"},
        {**ok, "id": "chosen"},
    ]
    for body in bad_creates:
        assert_error(account.post(url, json=body), 422, "VALIDATION_ERROR")
    short = account.post(url, json={**ok, "password": "short12"}).json()
    assert short["error"]["details"] == {"field": "password", "min_length": 8}
    raw_bad = [
        b'{"email": "a@example.com", "password": "\\ud800\\ud800\\ud800\\ud800"}',
        b'{"email": "a@example.com", "password": "longenough", "profile": {"x": NaN}}',
        b'{"email": "a@example.com", "password": "longenough", "profile": {"x": "\\udfff"}}',
    ]
    for content in raw_bad:
        headers = {**account.headers, "Content-Type": "application/json"}
        response = client.post(url, content=content, headers=headers)
        assert_error(response, 422, "VALIDATION_ERROR")
    for patch in (
        {"email": None},
        {"password": None},
        {"is_active": None},
        {"profile": None},
        {"password": "short"},
        {"email": "nope"},
        {"unknown": 1},
    ):
        assert_error(account.patch(f"{url}/{user['id']}", json=patch), 422, "VALIDATION_ERROR")
    assert_error(account.get(f"{url}/NOT_AN_ID"), 422, "VALIDATION_ERROR")
    assert row_counts(runtime) == before
    assert account.get(f"{url}/{user['id']}").json() == user
    # the profile limit is on the JSON size: just under it is fine
    fits = account.post(url, json={**ok, "profile": {"big": "x" * (64 * 1024 - 20)}})
    assert fits.status_code == 201, fits.text


def _nested(depth: int) -> Any:
    value: Any = 1
    for _ in range(depth):
        value = {"d": value}
    return value


def test_only_admins_manage_or_read_users(
    client: TestClient, account: Account, project: dict[str, Any], runtime: Runtime
) -> None:
    pid = project["id"]
    url = f"/api/projects/{pid}/users"
    user = _create(account, pid, email="someone@example.com")
    viewer = add_member(account, pid, "viewer", client)
    developer = add_member(account, pid, "developer", client)
    admin = add_member(account, pid, "admin", client)
    before = row_counts(runtime)
    for member in (viewer, developer):
        for response in (
            member.get(url),
            member.get(f"{url}/{user['id']}"),
            member.post(url, json={"email": "x@example.com", "password": PASSWORD}),
            member.patch(f"{url}/{user['id']}", json={"name": "x"}),
            member.delete(f"{url}/{user['id']}"),
        ):
            assert_error(response, 403, "INSUFFICIENT_PERMISSIONS")
    assert row_counts(runtime) == before
    assert admin.get(url).headers["X-Total-Count"] == "1"
    created = admin.post(url, json={"email": "byadmin@example.com", "password": PASSWORD})
    assert created.status_code == 201
    assert admin.delete(f"{url}/{created.json()['id']}").status_code == 204
    # audit names the resource and the created id
    logs = account.get(f"/api/projects/{pid}/audit-logs", params={"action": "users.create"})
    assert created.json()["id"] in {entry["resource_id"] for entry in logs.json()}


def test_admin_creation_ignores_allow_signup_but_not_password_length(
    client: TestClient, account: Account, project: dict[str, Any]
) -> None:
    pid = project["id"]
    put = account.put(
        f"/api/projects/{pid}/auth-settings",
        json={"allow_signup": False, "password_min_length": 12, "allowed_email_domains": ["a.io"]},
    )
    assert put.status_code == 200
    url = f"/api/projects/{pid}/users"
    body = assert_error(
        account.post(url, json={"email": "x@b.io", "password": "eleven-char"}),
        422,
        "VALIDATION_ERROR",
    )
    assert body["error"]["details"]["min_length"] == 12
    created = _create(account, pid, email="x@b.io", password="twelve-chars")
    assert login(client, pid, "x@b.io", "twelve-chars").status_code == 200
    assert_error(
        account.patch(f"{url}/{created['id']}", json={"password": "too-short"}),
        422,
        "VALIDATION_ERROR",
    )


def test_new_password_or_deactivation_ends_sessions(
    client: TestClient, account: Account, project: dict[str, Any]
) -> None:
    pid = project["id"]
    url = f"/api/projects/{pid}/users"
    registered = signed_up(client, pid, "pat@example.com")
    uid = registered["user"]["id"]
    token = registered["token"]
    assert client.get(f"/api/projects/{pid}/auth/me", headers=bearer(token)).status_code == 200

    assert account.patch(f"{url}/{uid}", json={"password": "brand-new-pass"}).status_code == 200
    assert_error(
        client.get(f"/api/projects/{pid}/auth/me", headers=bearer(token)), 401, "INVALID_TOKEN"
    )
    assert_error(login(client, pid, "pat@example.com"), 401, "INVALID_CREDENTIALS")
    token = login(client, pid, "pat@example.com", "brand-new-pass").json()["token"]

    assert account.patch(f"{url}/{uid}", json={"is_active": False}).status_code == 200
    assert_error(
        client.get(f"/api/projects/{pid}/auth/me", headers=bearer(token)), 401, "INVALID_TOKEN"
    )
    wrong = login(client, pid, "pat@example.com", "not-the-password")
    inactive = login(client, pid, "pat@example.com", "brand-new-pass")
    assert assert_error(inactive, 401, "INVALID_CREDENTIALS") == wrong.json()

    assert account.patch(f"{url}/{uid}", json={"is_active": True}).status_code == 200
    assert login(client, pid, "pat@example.com", "brand-new-pass").status_code == 200
    # deleting the user deletes its sessions
    assert account.delete(f"{url}/{uid}").status_code == 204


def test_passwords_and_tokens_never_leave_or_rest_in_plaintext(
    client: TestClient, account: Account, project: dict[str, Any], runtime: Runtime
) -> None:
    pid = project["id"]
    url = f"/api/projects/{pid}/users"
    secret = "very-secret-password-42"
    texts: list[str] = []
    created = account.post(url, json={"email": "s@example.com", "password": secret})
    texts.append(created.text)
    uid = created.json()["id"]
    texts.append(account.get(url).text)
    texts.append(account.get(f"{url}/{uid}").text)
    newer = "even-more-secret-pw-43"
    texts.append(account.patch(f"{url}/{uid}", json={"password": newer}).text)
    registered = client.post(
        f"/api/projects/{pid}/auth/register", json={"email": "r@example.com", "password": secret}
    )
    texts.append(registered.text)
    logged_in = login(client, pid, "s@example.com", newer)
    texts.append(logged_in.text)
    token = logged_in.json()["token"]
    texts.append(client.get(f"/api/projects/{pid}/auth/me", headers=bearer(token)).text)
    texts.append(account.get(f"/api/projects/{pid}/audit-logs").text)
    for text in texts:
        assert secret not in text and newer not in text
        assert "password" not in text and "$argon2" not in text

    with runtime.db.session() as db:
        users = db.scalars(select(AppUser)).all()
        sessions = db.scalars(select(AppSession)).all()
    assert len(users) == 2
    for user in users:
        assert user.password_hash.startswith("$argon2id$")
        assert secret not in user.password_hash and newer not in user.password_hash
        assert secret not in str(user.profile)
    tokens = {token, registered.json()["token"]}
    assert sessions
    for session in sessions:
        assert len(session.token_hash) == 64
        assert all(t not in session.token_hash and t[4:] not in session.token_hash for t in tokens)

"""client.auth, health, connection failures: every test runs with both clients."""

from __future__ import annotations

import pytest

from cloudbox_sdk import (
    AuthSession,
    CloudBoxError,
    ConnectionFailed,
    EmailTaken,
    InvalidCredentials,
    InvalidToken,
    Unauthorized,
    User,
    ValidationError,
)
from conftest import PASSWORD, Account, ClientFactory, unique_email


def test_health(make_client: ClientFactory) -> None:
    assert make_client().health()["status"] == "ok"


def test_register_keeps_the_token_and_me_answers(make_client: ClientFactory) -> None:
    client = make_client()
    email = unique_email()
    session = client.auth.register(email, PASSWORD, "Ada")
    assert isinstance(session, AuthSession)
    assert session.token.startswith("cbt_")
    assert session.user.email == email
    assert client.token == session.token
    me = client.auth.me()
    assert isinstance(me, User)
    assert (me.email, me.name) == (email, "Ada")


def test_register_twice_is_email_taken(make_client: ClientFactory, owner: Account) -> None:
    with pytest.raises(EmailTaken) as info:
        make_client().auth.register(owner.email, PASSWORD, "Again")
    assert info.value.status == 409
    assert info.value.code == "EMAIL_TAKEN"


def test_register_validation_error_has_fields(make_client: ClientFactory) -> None:
    with pytest.raises(ValidationError) as info:
        make_client().auth.register(unique_email(), "short", "X")
    assert info.value.status == 422
    assert info.value.details["fields"]


def test_login_and_me(make_client: ClientFactory, owner: Account) -> None:
    client = make_client()
    session = client.auth.login(owner.email, owner.password)
    assert session.user.email == owner.email
    assert client.token == session.token
    assert client.auth.me().email == owner.email


def test_login_with_a_wrong_password(make_client: ClientFactory, owner: Account) -> None:
    with pytest.raises(InvalidCredentials) as info:
        make_client().auth.login(owner.email, "not-the-password")
    assert isinstance(info.value, Unauthorized)
    assert (info.value.status, info.value.code) == (401, "INVALID_CREDENTIALS")


def test_logout_revokes_the_token(make_client: ClientFactory, owner: Account) -> None:
    client = make_client()
    token = client.auth.login(owner.email, owner.password).token
    client.auth.logout()
    assert client.token is None
    with pytest.raises(Unauthorized) as no_token:
        client.auth.me()
    assert no_token.value.code == "UNAUTHORIZED"
    with pytest.raises(InvalidToken) as revoked:
        make_client(token=token).auth.me()
    assert revoked.value.code == "INVALID_TOKEN"


def test_unreachable_server_is_connection_failed(make_client: ClientFactory) -> None:
    client = make_client(endpoint="http://127.0.0.1:9", timeout=2)
    with pytest.raises(ConnectionFailed) as info:
        client.health()
    assert isinstance(info.value, CloudBoxError)
    assert (info.value.status, info.value.code) == (0, "CONNECTION_ERROR")

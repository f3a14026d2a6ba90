"""Platform accounts: registration, sign-in with lockout, bearer sessions.

Failed sign-ins are counted per email whether or not the account exists, and a miss
costs an argon2 verification like a hit, so neither the answer nor its timing tells an
attacker which emails are registered.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy.orm import Session

from cloudbox.auth import repository as repo
from cloudbox.auth.errors import AccountLocked, EmailTaken, InvalidCredentials, InvalidToken
from cloudbox.auth.models import AuthSession, LoginFailure, User
from cloudbox.auth.principal import Principal
from cloudbox.db.types import utcnow
from cloudbox.security.passwords import hash_password, verify_password
from cloudbox.security.tokens import SESSION_TOKEN_PREFIX, digest_secret, new_secret


@dataclass(frozen=True)
class AuthPolicy:
    token_ttl: timedelta
    max_failures: int
    lockout: timedelta


@dataclass(frozen=True)
class IssuedToken:
    token: str
    expires_at: datetime
    user: User


def normalize_email(email: str) -> str:
    return email.strip().lower()


def register(
    db: Session, policy: AuthPolicy, *, email: str, password: str, name: str
) -> IssuedToken:
    email = normalize_email(email)
    if repo.get_user_by_email(db, email) is not None:
        raise EmailTaken()
    user = User(email=email, name=name, password_hash=hash_password(password))
    db.add(user)
    db.flush()
    return issue_session(db, policy, user)


def create_user(db: Session, *, email: str, password: str, name: str, platform_admin: bool) -> User:
    email = normalize_email(email)
    if repo.get_user_by_email(db, email) is not None:
        raise EmailTaken()
    user = User(
        email=email,
        name=name,
        password_hash=hash_password(password),
        is_platform_admin=platform_admin,
    )
    db.add(user)
    db.flush()
    return user


def issue_session(db: Session, policy: AuthPolicy, user: User) -> IssuedToken:
    token = new_secret(SESSION_TOKEN_PREFIX)
    expires_at = utcnow() + policy.token_ttl
    db.add(AuthSession(user_id=user.id, token_hash=digest_secret(token), expires_at=expires_at))
    db.flush()
    return IssuedToken(token=token, expires_at=expires_at, user=user)


def check_lockout(db: Session, email: str) -> None:
    failure = repo.get_login_failure(db, normalize_email(email))
    if failure and failure.locked_until and failure.locked_until > utcnow():
        raise AccountLocked(details={"retry_after_seconds": _seconds_left(failure.locked_until)})


def login(db: Session, policy: AuthPolicy, *, email: str, password: str) -> IssuedToken:
    """Sign in. On failure the caller must commit the session anyway: the failure counter
    is the point of the write (the route records it in its own transaction)."""
    email = normalize_email(email)
    check_lockout(db, email)
    user = repo.get_user_by_email(db, email)
    if not verify_password(user.password_hash if user else None, password) or user is None:
        raise InvalidCredentials()
    failure = repo.get_login_failure(db, email)
    if failure is not None:
        db.delete(failure)
    return issue_session(db, policy, user)


def record_login_failure(db: Session, policy: AuthPolicy, email: str) -> None:
    email = normalize_email(email)
    now = utcnow()
    failure = repo.get_login_failure(db, email)
    if failure is None:
        failure = LoginFailure(email=email, failures=0, window_started_at=now)
        db.add(failure)
    if failure.window_started_at + policy.lockout < now:
        failure.failures = 0
        failure.window_started_at = now
    failure.failures += 1
    if failure.failures >= policy.max_failures:
        failure.locked_until = now + policy.lockout
        failure.failures = 0
        failure.window_started_at = now
    db.flush()


def authenticate_token(db: Session, token: str) -> Principal:
    found = repo.find_session(db, digest_secret(token))
    if found is None:
        raise InvalidToken()
    session, user = found
    if session.revoked_at is not None or session.expires_at <= utcnow():
        raise InvalidToken()
    return Principal(
        kind="user",
        user_id=user.id,
        email=user.email,
        session_id=session.id,
        is_platform_admin=user.is_platform_admin,
    )


def logout(db: Session, principal: Principal) -> None:
    if principal.session_id is not None:
        repo.revoke_session(db, principal.session_id, utcnow())


def get_user(db: Session, user_id: int) -> User:
    user = repo.get_user(db, user_id)
    if user is None:
        raise InvalidToken()
    return user


def _seconds_left(until: datetime) -> int:
    return max(1, int((until - utcnow()).total_seconds()))

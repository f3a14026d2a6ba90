"""A project's end users: admin management, sign-up, sign-in with lockout, sessions, and
the project's auth settings.

Nothing here may tell a caller whether a project exists: sign-up on a missing project is
refused exactly like sign-up on a project whose sign-up is closed, and sign-in on a
missing project fails exactly like a wrong password (argon2 runs against a dummy hash,
and failures are counted and locked in a table without a foreign key to projects).
Likewise a failed sign-in never tells whether the email has an account.
"""

from __future__ import annotations

import contextlib
from dataclasses import asdict, dataclass
from datetime import datetime, timedelta
from typing import Any

from email_validator import EmailNotValidError, validate_email
from sqlalchemy import Select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from cloudbox.appusers import repository as repo
from cloudbox.appusers.errors import (
    AccountLocked,
    AppUserExists,
    AppUserNotFound,
    EmailDomainNotAllowed,
    EmailNotVerified,
    InvalidCredentials,
    InvalidToken,
    PasswordTooShort,
    SignupDisabled,
)
from cloudbox.appusers.models import AppAuthSettings, AppSession, AppUser
from cloudbox.auth.service import AuthPolicy
from cloudbox.db.ids import new_id
from cloudbox.db.types import utcnow
from cloudbox.security.passwords import hash_password, verify_password
from cloudbox.security.tokens import APP_TOKEN_PREFIX, digest_secret, new_secret

# --- auth settings ------------------------------------------------------------------


@dataclass(frozen=True)
class AuthSettings:
    allow_signup: bool = True
    password_min_length: int = 8
    session_ttl_seconds: int = 86400
    require_email_verification: bool = False
    allowed_email_domains: tuple[str, ...] = ()

    def as_dict(self) -> dict[str, Any]:
        values = asdict(self)
        values["allowed_email_domains"] = list(self.allowed_email_domains)
        return values

    def allows_domain(self, email: str) -> bool:
        if not self.allowed_email_domains:
            return True
        return email_domain(email) in self.allowed_email_domains


DEFAULT_SETTINGS = AuthSettings()
_SETTING_NAMES = tuple(DEFAULT_SETTINGS.as_dict())


def get_settings(db: Session, project_id: int) -> AuthSettings:
    row = repo.get_settings(db, project_id)
    if row is None:
        return DEFAULT_SETTINGS
    return AuthSettings(
        allow_signup=row.allow_signup,
        password_min_length=row.password_min_length,
        session_ttl_seconds=row.session_ttl_seconds,
        require_email_verification=row.require_email_verification,
        allowed_email_domains=tuple(row.allowed_email_domains),
    )


def put_settings(db: Session, project_id: int, values: dict[str, Any]) -> AuthSettings:
    row = repo.get_settings(db, project_id)
    if row is None:
        row = AppAuthSettings(project_id=project_id, id="default")
        db.add(row)
    for name in _SETTING_NAMES:
        setattr(row, name, list(values[name]) if name == "allowed_email_domains" else values[name])
    db.flush()
    return get_settings(db, project_id)


# --- emails and passwords -----------------------------------------------------------


def canonical_email(email: str) -> str:
    """The stored form: email-validator's normalisation (as `EmailStr` applies it), then
    lower-cased, so uniqueness and sign-in are case-insensitive. Input that is not a valid
    address is only lower-cased: it matches no account, and still counts for lockout."""
    email = email.strip()
    with contextlib.suppress(EmailNotValidError):
        email = validate_email(email, check_deliverability=False).normalized
    return email.lower()[:254]


def email_domain(email: str) -> str:
    """The domain in its ASCII (IDNA) form, comparable with the allowed domains."""
    domain = email.rpartition("@")[2].lower().rstrip(".")
    if domain.isascii():
        return domain
    try:
        return domain.encode("idna").decode("ascii")
    except UnicodeError:
        return domain


def check_password(password: str, settings: AuthSettings) -> None:
    if len(password) < settings.password_min_length:
        raise PasswordTooShort(
            details={"field": "password", "min_length": settings.password_min_length}
        )


# --- admin management ---------------------------------------------------------------


def project_exists(db: Session, project_id: int) -> bool:
    return repo.project_exists(db, project_id)


def list_users(project_id: int) -> Select[AppUser]:
    return repo.users_of_project(project_id)


def get_user(db: Session, project_id: int, user_id: str) -> AppUser:
    user = repo.get_user(db, project_id, user_id)
    if user is None:
        raise AppUserNotFound()
    return user


def _ensure_unique(
    db: Session, project_id: int, *, email: str | None, username: str | None, user_id: str | None
) -> None:
    if email is not None:
        other = repo.get_user_by_email(db, project_id, email)
        if other is not None and other.id != user_id:
            raise AppUserExists(details={"field": "email"})
    if username is not None:
        other = repo.get_user_by_username(db, project_id, username)
        if other is not None and other.id != user_id:
            raise AppUserExists(details={"field": "username"})


def _flush_unique(db: Session) -> None:
    """A concurrent insert of the same email or username loses here, as a conflict."""
    try:
        db.flush()
    except IntegrityError:
        raise AppUserExists() from None


def create_user(
    db: Session,
    project_id: int,
    *,
    email: str,
    password: str,
    name: str | None = None,
    username: str | None = None,
    is_active: bool = True,
    is_email_verified: bool = False,
    profile: dict[str, Any] | None = None,
    settings: AuthSettings | None = None,
) -> AppUser:
    """Admin creation (and the tail of sign-up): enforces the project's minimum password
    length, not `allow_signup` nor the allowed domains, which govern self sign-up only."""
    settings = settings or get_settings(db, project_id)
    email = canonical_email(email)
    username = username.lower() if username is not None else None
    check_password(password, settings)
    _ensure_unique(db, project_id, email=email, username=username, user_id=None)
    user = AppUser(
        project_id=project_id,
        id=new_id(),
        email=email,
        username=username,
        name=name,
        password_hash=hash_password(password),
        is_active=is_active,
        is_email_verified=is_email_verified,
        profile=profile or {},
    )
    db.add(user)
    _flush_unique(db)
    return user


def update_user(db: Session, project_id: int, user_id: str, changes: dict[str, Any]) -> AppUser:
    """Partial update. A new password or a deactivation ends the user's sessions."""
    user = get_user(db, project_id, user_id)
    email = canonical_email(changes["email"]) if changes.get("email") is not None else None
    username = changes.get("username")
    username = username.lower() if isinstance(username, str) else None
    password = changes.get("password")
    if password is not None:
        check_password(password, get_settings(db, project_id))
    _ensure_unique(db, project_id, email=email, username=username, user_id=user.id)

    if email is not None:
        user.email = email
    if "username" in changes:
        user.username = username
    if "name" in changes:
        user.name = changes["name"]
    for flag in ("is_active", "is_email_verified"):
        if changes.get(flag) is not None:
            setattr(user, flag, changes[flag])
    if changes.get("profile") is not None:
        user.profile = changes["profile"]
    if password is not None:
        user.password_hash = hash_password(password)
    _flush_unique(db)
    if password is not None or changes.get("is_active") is False:
        repo.revoke_user_sessions(db, project_id, user.id, utcnow())
    return user


def delete_user(db: Session, project_id: int, user_id: str) -> None:
    user = get_user(db, project_id, user_id)
    db.delete(user)
    db.flush()


# --- sign-up, sign-in, sessions -----------------------------------------------------


@dataclass(frozen=True)
class IssuedAppToken:
    token: str
    expires_at: datetime
    user: AppUser


@dataclass(frozen=True)
class Registered:
    user: AppUser
    token: str | None
    expires_at: datetime | None


@dataclass(frozen=True)
class AppIdentity:
    """Who an app bearer token belongs to, on the project it was checked against."""

    project_id: int
    session_id: str
    user: AppUser


def register(
    db: Session,
    project_id: int,
    *,
    email: str,
    password: str,
    name: str | None = None,
    username: str | None = None,
) -> Registered:
    """Self sign-up. When the project requires verified emails the account is created but
    no session is issued: signing in would be refused until the email is verified."""
    settings = get_settings(db, project_id)
    if not repo.project_exists(db, project_id) or not settings.allow_signup:
        raise SignupDisabled()
    email = canonical_email(email)
    if not settings.allows_domain(email):
        raise EmailDomainNotAllowed(details={"field": "email", "domain": email_domain(email)})
    user = create_user(
        db,
        project_id,
        email=email,
        password=password,
        name=name,
        username=username,
        settings=settings,
    )
    if settings.require_email_verification:
        return Registered(user=user, token=None, expires_at=None)
    issued = _issue_session(db, project_id, user, settings)
    return Registered(user=user, token=issued.token, expires_at=issued.expires_at)


def check_lockout(db: Session, project_id: int, email: str) -> None:
    failure = repo.get_login_failure(db, project_id, canonical_email(email))
    now = utcnow()
    if failure and failure.locked_until and failure.locked_until > now:
        seconds = max(1, int((failure.locked_until - now).total_seconds()))
        raise AccountLocked(details={"retry_after_seconds": seconds})


def login(db: Session, project_id: int, *, email: str, password: str) -> IssuedAppToken:
    """Sign in. On `InvalidCredentials` the caller must roll back and then record the
    failure with `record_login_failure` and commit: the counter is the point."""
    email = canonical_email(email)
    check_lockout(db, project_id, email)
    user = repo.get_user_by_email(db, project_id, email)
    # Verify first, always: a miss, an inactive account and a missing project cost the
    # same argon2 time as a hit.
    matched = verify_password(user.password_hash if user else None, password)
    if not matched or user is None or not user.is_active:
        raise InvalidCredentials()
    settings = get_settings(db, project_id)
    if settings.require_email_verification and not user.is_email_verified:
        raise EmailNotVerified()
    repo.delete_login_failure(db, project_id, email)
    return _issue_session(db, project_id, user, settings)


def record_login_failure(db: Session, policy: AuthPolicy, project_id: int, email: str) -> None:
    email = canonical_email(email)
    now = utcnow()
    failure = repo.lock_login_failure(db, project_id, email, now)
    if failure.window_started_at + policy.lockout < now:
        failure.failures = 0
        failure.window_started_at = now
    failure.failures += 1
    if failure.failures >= policy.max_failures:
        failure.locked_until = now + policy.lockout
        failure.failures = 0
        failure.window_started_at = now
    db.flush()


def _issue_session(
    db: Session, project_id: int, user: AppUser, settings: AuthSettings
) -> IssuedAppToken:
    token = new_secret(APP_TOKEN_PREFIX)
    now = utcnow()
    expires_at = now + timedelta(seconds=settings.session_ttl_seconds)
    db.add(
        AppSession(
            project_id=project_id,
            id=new_id(),
            user_id=user.id,
            token_hash=digest_secret(token),
            expires_at=expires_at,
        )
    )
    user.last_login_at = now
    db.flush()
    return IssuedAppToken(token=token, expires_at=expires_at, user=user)


def authenticate(db: Session, project_id: int, token: str) -> AppIdentity:
    """A token is only looked up within the project named by the URL, so a token of
    another project (or of a project that does not exist) is simply unknown here."""
    if not token.startswith(APP_TOKEN_PREFIX):
        raise InvalidToken()
    found = repo.find_session(db, project_id, digest_secret(token))
    if found is None:
        raise InvalidToken()
    session, user = found
    if session.revoked_at is not None or session.expires_at <= utcnow() or not user.is_active:
        raise InvalidToken()
    return AppIdentity(project_id=project_id, session_id=session.id, user=user)


def logout(db: Session, identity: AppIdentity) -> None:
    repo.revoke_session(db, identity.project_id, identity.session_id, utcnow())

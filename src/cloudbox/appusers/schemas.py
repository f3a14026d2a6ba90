from __future__ import annotations

import json
import math
import re
from datetime import datetime
from typing import Annotated, Any

from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    EmailStr,
    Field,
    StringConstraints,
    field_validator,
    model_validator,
)

PROFILE_MAX_BYTES = 64 * 1024
PROFILE_MAX_DEPTH = 32
PASSWORD_MAX_LENGTH = 256


def storable_text(value: str) -> str:
    """PostgreSQL cannot store NUL and argon2 cannot hash lone surrogates: refuse both up
    front so the same input behaves the same on both engines (422, never a 500)."""
    if "\x00" in value:
        raise ValueError("NUL characters are not allowed")
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        raise ValueError("the text is not valid Unicode (lone surrogate)") from None
    return value


Email = Annotated[EmailStr, Field(max_length=254)]
# Any length here: the project's `password_min_length` is enforced by the service, so a
# project that does not exist answers a short password like one whose sign-up is closed.
Password = Annotated[
    str,
    StringConstraints(min_length=1, max_length=PASSWORD_MAX_LENGTH),
    AfterValidator(storable_text),
]
Name = Annotated[
    str, StringConstraints(min_length=1, max_length=200), AfterValidator(storable_text)
]
Username = Annotated[
    str,
    StringConstraints(
        min_length=1, max_length=64, pattern=r"^[A-Za-z0-9][A-Za-z0-9_.\-]*$", to_lower=True
    ),
]
Domain = Annotated[str, StringConstraints(min_length=1, max_length=253)]

_LABEL = re.compile(r"^[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?$")


def _check_json(value: Any, depth: int) -> None:
    """Only what both engines store identically: no NUL or lone surrogates (PostgreSQL
    JSONB refuses them), no NaN or infinities (not JSON), bounded nesting."""
    if depth > PROFILE_MAX_DEPTH:
        raise ValueError(f"profile is nested deeper than {PROFILE_MAX_DEPTH} levels")
    if isinstance(value, dict):
        for key, item in value.items():
            storable_text(key)
            _check_json(item, depth + 1)
    elif isinstance(value, list):
        for item in value:
            _check_json(item, depth + 1)
    elif isinstance(value, str):
        storable_text(value)
    elif isinstance(value, float) and not math.isfinite(value):
        raise ValueError("NaN and infinite numbers are not allowed in profile")


def check_profile(profile: dict[str, Any]) -> dict[str, Any]:
    """A profile is free-form, but bounded: it is copied into every backup and response."""
    _check_json(profile, 1)
    size = len(json.dumps(profile, separators=(",", ":"), ensure_ascii=False).encode())
    if size > PROFILE_MAX_BYTES:
        raise ValueError(f"profile is {size} bytes of JSON; at most {PROFILE_MAX_BYTES} allowed")
    return profile


class AppUserCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")
    email: Email
    password: Password
    name: Name | None = None
    username: Username | None = None
    is_active: bool = True
    is_email_verified: bool = False
    profile: dict[str, Any] = Field(default_factory=dict)

    @field_validator("profile")
    @classmethod
    def _profile(cls, value: dict[str, Any]) -> dict[str, Any]:
        return check_profile(value)


_NOT_NULLABLE = ("email", "password", "is_active", "is_email_verified", "profile")


class AppUserUpdate(BaseModel):
    """Partial update: omitted fields stay; `name` and `username` may be cleared with null."""

    model_config = ConfigDict(extra="forbid")
    email: Email | None = None
    password: Password | None = None
    name: Name | None = None
    username: Username | None = None
    is_active: bool | None = None
    is_email_verified: bool | None = None
    profile: dict[str, Any] | None = None

    @field_validator("profile")
    @classmethod
    def _profile(cls, value: dict[str, Any] | None) -> dict[str, Any] | None:
        return None if value is None else check_profile(value)

    @model_validator(mode="after")
    def _no_null_for_required(self) -> AppUserUpdate:
        for name in _NOT_NULLABLE:
            if name in self.model_fields_set and getattr(self, name) is None:
                raise ValueError(f"{name} cannot be null")
        return self


class AppUserOut(BaseModel):
    """Never carries the password or its hash."""

    model_config = ConfigDict(from_attributes=True)
    id: str
    email: str
    name: str | None
    username: str | None
    is_active: bool
    is_email_verified: bool
    profile: dict[str, Any]
    created_at: datetime
    updated_at: datetime
    last_login_at: datetime | None


class RegisterRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")
    email: Email
    password: Password
    name: Name | None = None
    username: Username | None = None


class LoginRequest(BaseModel):
    """Not an `EmailStr`: a malformed email simply matches no account, with the same
    answer as any other miss."""

    model_config = ConfigDict(extra="forbid")
    email: Annotated[str, Field(min_length=1, max_length=254), AfterValidator(storable_text)]
    password: Password


class LoginResponse(BaseModel):
    token: str
    expires_at: datetime
    user: AppUserOut


class RegisterResponse(BaseModel):
    token: str | None = Field(
        description="Null when the project requires a verified email before sign-in"
    )
    expires_at: datetime | None
    user: AppUserOut


class AuthSettingsIn(BaseModel):
    """Full replacement (PUT): omitted fields take their defaults."""

    model_config = ConfigDict(extra="forbid")
    allow_signup: bool = True
    password_min_length: int = Field(default=8, ge=6, le=128)
    session_ttl_seconds: int = Field(default=86400, ge=300, le=31_536_000)
    require_email_verification: bool = False
    allowed_email_domains: list[Domain] = Field(
        default_factory=list,
        max_length=100,
        description="Exact email domains that may sign up; empty accepts every domain",
    )

    @field_validator("allowed_email_domains")
    @classmethod
    def _domains(cls, domains: list[str]) -> list[str]:
        out: list[str] = []
        for raw in domains:
            domain = raw.strip().lower().rstrip(".")
            if not domain.isascii():
                try:
                    domain = domain.encode("idna").decode("ascii")
                except UnicodeError:
                    raise ValueError(f"invalid domain {raw!r}") from None
            labels = domain.split(".")
            if len(labels) < 2 or not all(_LABEL.match(label) for label in labels):
                raise ValueError(f"invalid domain {raw!r}: expected a name like example.com")
            if domain not in out:
                out.append(domain)
        return out


class AuthSettingsOut(AuthSettingsIn):
    model_config = ConfigDict(extra="ignore")

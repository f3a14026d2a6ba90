"""Request and response shapes of delivery configuration.

Secrets (private keys, webhook secrets, access tokens) appear only in request models;
responses say whether one is set, never what it is.

PATCH models: a field left out is unchanged; `null` clears the fields that may be empty
(`ssh_key_id`, `webhook_secret`, `access_token`, `domain`, `version`) and is refused for
the others.
"""

from __future__ import annotations

import ipaddress
import re
from datetime import datetime
from typing import Annotated, Any, ClassVar, Self
from urllib.parse import urlsplit

from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Field,
    StringConstraints,
    model_validator,
)

from cloudbox.delivery.models import DeploymentStatus, ServerType

# --- field rules ----------------------------------------------------------------------

_LABEL = re.compile(r"^[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?$")
_OWNER = re.compile(r"^[A-Za-z0-9](?:[A-Za-z0-9]|-(?=[A-Za-z0-9])){0,38}$")
_REPO = re.compile(r"^[A-Za-z0-9._-]{1,100}$")
_SCP_PATH = re.compile(r"^[A-Za-z0-9._~-]+(?:/[A-Za-z0-9._~-]+)*$")
_USERNAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_.-]{0,31}$")
_ENV_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]{0,127}$")
_REF_FORBIDDEN = re.compile(r"[\x00-\x20\x7f~^:?*\[\\]")
_CONTROL = re.compile(r"[\x00-\x1f\x7f]")

MAX_ENV_VARS = 200
MAX_ENV_VALUE = 8192


def _hostname(value: str) -> str:
    """A DNS host name (RFC 1123); the last label may not be all digits, so a mistyped
    IPv4 address is not taken for a name."""
    name = value.lower()
    if len(name) > 253 or not name:
        raise ValueError("a host name has at most 253 characters")
    labels = name.split(".")
    if not all(_LABEL.match(label) for label in labels):
        raise ValueError(
            "invalid host name: labels of letters, digits and inner hyphens, separated by dots"
        )
    if labels[-1].isdigit():
        raise ValueError("invalid host name or IP address")
    return name


def check_hostname(value: str) -> str:
    return _hostname(value)


def check_host(value: str) -> str:
    """A host name or an IPv4/IPv6 address, normalised (lower case, compressed IPv6)."""
    try:
        return str(ipaddress.ip_address(value))
    except ValueError:
        pass
    return _hostname(value)


def check_full_name(value: str) -> str:
    owner, sep, repo = value.partition("/")
    if not sep or not _OWNER.match(owner) or not _REPO.match(repo) or repo in {".", ".."}:
        raise ValueError("expected owner/repo (GitHub owner and repository name rules)")
    return value


def check_clone_url(value: str) -> str:
    """`https://host/path` without credentials, query or fragment, or `git@host:path`.
    Credentials belong in `access_token`, which is encrypted; a URL is stored in clear."""
    if _CONTROL.search(value) or " " in value:
        raise ValueError("the clone URL may not contain spaces or control characters")
    if value.startswith("git@"):
        host, sep, path = value[4:].partition(":")
        if not sep or not _SCP_PATH.match(path) or ".." in path.split("/"):
            raise ValueError("expected git@host:owner/repo.git")
        _hostname(host)
        return value
    if not value.startswith("https://"):
        raise ValueError("the clone URL must start with https:// or git@")
    try:
        parts = urlsplit(value)
        port = parts.port
    except ValueError as exc:
        raise ValueError("the clone URL is not a valid URL") from exc
    if parts.username is not None or parts.password is not None:
        raise ValueError("the clone URL may not contain credentials; use access_token")
    if parts.query or parts.fragment or "#" in value or "?" in value:
        raise ValueError("the clone URL may not have a query or fragment")
    if port == 0:
        raise ValueError("invalid port")
    check_host(parts.hostname or "")
    path = parts.path.strip("/")
    if not path or ".." in path.split("/"):
        raise ValueError("the clone URL must name a repository path")
    return value


def check_branch(value: str) -> str:
    """git's ref name rules (`git check-ref-format --branch`)."""
    bad = (
        not value
        or len(value) > 255
        or _REF_FORBIDDEN.search(value) is not None
        or value.startswith(("-", "/"))
        or value.endswith(("/", "."))
        or ".." in value
        or "//" in value
        or "@{" in value
        or value == "@"
        or any(part.startswith(".") or part.endswith(".lock") for part in value.split("/"))
    )
    if bad:
        raise ValueError("invalid git branch name")
    return value


def check_username(value: str) -> str:
    """POSIX portable user names (letters, digits, `.`, `_`, `-`), not starting with a
    digit, hyphen or dot, at most 32 characters (the Linux limit)."""
    if not _USERNAME.match(value):
        raise ValueError(
            "invalid user name: up to 32 of A-Z a-z 0-9 . _ -, starting with a letter or _"
        )
    return value


def check_deploy_path(value: str) -> str:
    if not value.startswith("/"):
        raise ValueError("the deploy path must be absolute")
    if _CONTROL.search(value):
        raise ValueError("the deploy path may not contain control characters")
    parts = [part for part in value.split("/") if part]
    if ".." in parts:
        raise ValueError("the deploy path may not contain '..'")
    if not parts:
        raise ValueError("the deploy path may not be the root directory")
    return value


def check_environment(value: dict[str, str]) -> dict[str, str]:
    for name in value:
        if not _ENV_NAME.match(name):
            raise ValueError(
                f"invalid variable name {name[:50]!r}: letters, digits and _, "
                "not starting with a digit, at most 128 characters"
            )
    return value


Name = Annotated[str, StringConstraints(min_length=1, max_length=200)]
Description = Annotated[str, StringConstraints(max_length=5000)]
Command = Annotated[str, StringConstraints(max_length=4000)]
#: Write-only: accepted in requests, encrypted at rest, never in a response.
WRITE_ONLY: dict[str, Any] = {"writeOnly": True}
Secret = Annotated[
    str, StringConstraints(min_length=1, max_length=1000), Field(json_schema_extra=WRITE_ONLY)
]
Id = Annotated[str, StringConstraints(min_length=1, max_length=40, pattern=r"^[0-9a-z]+$")]
Host = Annotated[str, StringConstraints(min_length=1, max_length=253), AfterValidator(check_host)]
Domain = Annotated[
    str, StringConstraints(min_length=1, max_length=253), AfterValidator(check_hostname)
]
FullName = Annotated[str, StringConstraints(max_length=200), AfterValidator(check_full_name)]
CloneUrl = Annotated[str, StringConstraints(max_length=500), AfterValidator(check_clone_url)]
Branch = Annotated[str, StringConstraints(max_length=255), AfterValidator(check_branch)]
Username = Annotated[str, StringConstraints(max_length=32), AfterValidator(check_username)]
DeployPath = Annotated[str, StringConstraints(max_length=1024), AfterValidator(check_deploy_path)]
Port = Annotated[int, Field(ge=1, le=65535)]
Version = Annotated[str, StringConstraints(pattern=r"^[\x21-\x7e]{1,100}$")]
Environment = Annotated[
    dict[
        Annotated[str, StringConstraints(max_length=128)],
        Annotated[str, StringConstraints(max_length=MAX_ENV_VALUE)],
    ],
    Field(max_length=MAX_ENV_VARS),
    AfterValidator(check_environment),
]


class _Patch(BaseModel):
    """Refuses `null` for fields that cannot be empty, so "null" never silently means
    "unchanged"."""

    model_config = ConfigDict(extra="forbid")
    NULLABLE: ClassVar[frozenset[str]] = frozenset()

    @model_validator(mode="after")
    def _no_nulls(self) -> Self:
        nulls = sorted(
            f for f in self.model_fields_set if getattr(self, f) is None and f not in self.NULLABLE
        )
        if nulls:
            raise ValueError(f"these fields may not be null: {', '.join(nulls)}")
        return self

    def changes(self) -> dict[str, Any]:
        return {name: getattr(self, name) for name in self.model_fields_set}


# --- SSH keys -------------------------------------------------------------------------


class SshKeyCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")
    name: Name
    description: Description = ""
    private_key: str | None = Field(
        default=None,
        min_length=1,
        max_length=16 * 1024,
        description="Unencrypted private key, PEM or OpenSSH form. Never returned.",
        json_schema_extra=WRITE_ONLY,
    )
    generate: bool = Field(default=False, description="Generate an ed25519 key instead")

    @model_validator(mode="after")
    def _one_source(self) -> Self:
        if (self.private_key is not None) == self.generate:
            raise ValueError("give exactly one of private_key or generate: true")
        return self


class SshKeyUpdate(_Patch):
    name: Name | None = None
    description: Description | None = None
    is_active: bool | None = None


class SshKeyOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)
    id: str
    project_id: int
    name: str
    description: str
    public_key: str
    fingerprint: str
    key_type: str
    is_active: bool
    created_at: datetime
    updated_at: datetime


# --- GitHub repositories --------------------------------------------------------------


class GithubRepositoryCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")
    name: Name
    full_name: FullName
    clone_url: CloneUrl
    branch: Branch = "main"
    is_private: bool = False
    ssh_key_id: Id | None = None
    webhook_secret: Secret | None = Field(default=None, description="Write-only")
    access_token: Secret | None = Field(default=None, description="Write-only")
    build_command: Command = ""
    start_command: Command = ""
    environment: Environment = Field(default_factory=dict)


class GithubRepositoryUpdate(_Patch):
    NULLABLE: ClassVar[frozenset[str]] = frozenset({"ssh_key_id", "webhook_secret", "access_token"})
    name: Name | None = None
    full_name: FullName | None = None
    clone_url: CloneUrl | None = None
    branch: Branch | None = None
    is_private: bool | None = None
    ssh_key_id: Id | None = None
    webhook_secret: Secret | None = Field(default=None, description="Write-only; null clears")
    access_token: Secret | None = Field(default=None, description="Write-only; null clears")
    build_command: Command | None = None
    start_command: Command | None = None
    environment: Environment | None = None


class GithubRepositoryOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)
    id: str
    project_id: int
    name: str
    full_name: str
    clone_url: str
    branch: str
    is_private: bool
    ssh_key_id: str | None
    has_webhook_secret: bool
    has_access_token: bool
    build_command: str
    start_command: str
    environment: dict[str, str]
    created_at: datetime
    updated_at: datetime


# --- web servers ----------------------------------------------------------------------


class WebServerCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")
    name: Name
    hostname: Host
    port: Port = 22
    username: Username
    ssh_key_id: Id | None = None
    server_type: ServerType = ServerType.vps
    deploy_path: DeployPath
    is_active: bool = True


class WebServerUpdate(_Patch):
    NULLABLE: ClassVar[frozenset[str]] = frozenset({"ssh_key_id"})
    name: Name | None = None
    hostname: Host | None = None
    port: Port | None = None
    username: Username | None = None
    ssh_key_id: Id | None = None
    server_type: ServerType | None = None
    deploy_path: DeployPath | None = None
    is_active: bool | None = None


class WebServerOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)
    id: str
    project_id: int
    name: str
    hostname: str
    port: int
    username: str
    ssh_key_id: str | None
    server_type: str
    deploy_path: str
    is_active: bool
    created_at: datetime
    updated_at: datetime


# --- deployments ----------------------------------------------------------------------


class DeploymentCreate(BaseModel):
    """`branch`, `build_command` and `start_command` default to the repository's."""

    model_config = ConfigDict(extra="forbid")
    name: Name
    description: Description = ""
    domain: Domain | None = None
    github_repository_id: Id
    web_server_id: Id
    branch: Branch | None = None
    environment: Environment = Field(default_factory=dict)
    build_command: Command | None = None
    start_command: Command | None = None
    status: DeploymentStatus = DeploymentStatus.pending
    version: Version | None = None


class DeploymentUpdate(_Patch):
    NULLABLE: ClassVar[frozenset[str]] = frozenset({"domain", "version"})
    name: Name | None = None
    description: Description | None = None
    domain: Domain | None = None
    github_repository_id: Id | None = None
    web_server_id: Id | None = None
    branch: Branch | None = None
    environment: Environment | None = None
    build_command: Command | None = None
    start_command: Command | None = None
    status: DeploymentStatus | None = None
    version: Version | None = None


class DeploymentOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)
    id: str
    project_id: int
    name: str
    description: str
    domain: str | None
    github_repository_id: str
    web_server_id: str
    branch: str
    environment: dict[str, str]
    build_command: str
    start_command: str
    status: str
    version: str | None
    created_at: datetime
    updated_at: datetime

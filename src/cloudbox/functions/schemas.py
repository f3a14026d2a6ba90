"""Request and response shapes of functions and function domains.

Text limits are in UTF-8 bytes where the brief gives bytes (code 1 MiB, environment and
secret values 4 KiB), checked after a cheaper character-count cap. Every stored string
refuses NUL and lone surrogates: PostgreSQL cannot store either, and the same input must
behave the same on both engines.
"""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Callable
from datetime import datetime
from typing import Annotated, Any

import idna
from pydantic import AfterValidator, BaseModel, ConfigDict, Field, field_validator, model_validator

from cloudbox.functions.models import Function, FunctionRuntime, FunctionStatus

MAX_CODE_BYTES = 1024 * 1024
MAX_VALUE_BYTES = 4 * 1024
MAX_ENTRIES = 100
MAX_HOSTNAME_LENGTH = 253

NAME_PATTERN = r"^[a-zA-Z][a-zA-Z0-9_-]{0,63}$"
VAR_NAME_PATTERN = r"^[A-Z_][A-Z0-9_]*$"
# Printable ASCII without spaces: `index.handler`, `main.go:Handler`, `src/app.main`.
ENTRY_POINT_PATTERN = r"^[\x21-\x7e]+$"

_LABEL = re.compile(r"^[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?$")


def _storable(max_bytes: int) -> Callable[[str], str]:
    def check(value: str) -> str:
        if "\x00" in value:
            raise ValueError("NUL characters are not allowed")
        try:
            size = len(value.encode("utf-8"))
        except UnicodeEncodeError:
            raise ValueError("the text is not valid Unicode (lone surrogate)") from None
        if size > max_bytes:
            raise ValueError(f"at most {max_bytes} bytes of UTF-8 are allowed")
        return value

    return check


Code = Annotated[str, Field(max_length=MAX_CODE_BYTES), AfterValidator(_storable(MAX_CODE_BYTES))]
Description = Annotated[str, Field(max_length=5000), AfterValidator(_storable(20000))]
VarValue = Annotated[
    str, Field(max_length=MAX_VALUE_BYTES), AfterValidator(_storable(MAX_VALUE_BYTES))
]
VarName = Annotated[str, Field(min_length=1, max_length=128, pattern=VAR_NAME_PATTERN)]
FunctionName = Annotated[str, Field(min_length=1, max_length=64, pattern=NAME_PATTERN)]
EntryPoint = Annotated[str, Field(min_length=1, max_length=200, pattern=ENTRY_POINT_PATTERN)]
Timeout = Annotated[int, Field(strict=True, ge=1, le=900, description="Seconds")]
Memory = Annotated[int, Field(strict=True, ge=128, le=4096, description="MiB")]
Environment = Annotated[dict[VarName, VarValue], Field(max_length=MAX_ENTRIES)]
Secrets = Annotated[dict[VarName, VarValue], Field(max_length=MAX_ENTRIES)]
SecretsPatch = Annotated[dict[VarName, VarValue | None], Field(max_length=MAX_ENTRIES)]


def normalize_hostname(value: str) -> str:
    """The canonical stored form of a domain, so that uniqueness across the server cannot
    be dodged by case, a trailing dot or a Unicode spelling of the same name.

    Lowercased, IDNA-encoded (UTS #46 mapping, IDNA 2008) when not ASCII, one trailing
    dot dropped; then at most 253 characters, at least two labels, each 1-63 of
    `[a-z0-9-]` not starting or ending with `-`. IP addresses are refused, and so is an
    all-numeric last label (no such top-level domain exists; it is how dotted IPv4 and
    its variants look).
    """
    host = value
    if not host.isascii():
        try:
            host = idna.encode(host, uts46=True).decode("ascii")
        except (idna.IDNAError, UnicodeError):
            raise ValueError("not a valid internationalized domain name") from None
    host = host.lower()
    if host.endswith("."):
        host = host[:-1]
    if not host:
        raise ValueError("the domain is empty")
    if len(host) > MAX_HOSTNAME_LENGTH:
        raise ValueError(f"a domain has at most {MAX_HOSTNAME_LENGTH} characters")
    try:
        ipaddress.ip_address(host)
    except ValueError:
        pass
    else:
        raise ValueError("IP addresses are not allowed; use a domain name")
    labels = host.split(".")
    if len(labels) < 2:
        raise ValueError("a domain needs at least two labels, like example.com")
    for label in labels:
        if not _LABEL.match(label):
            raise ValueError(
                f"invalid label {label[:70]!r}: 1-63 of a-z, 0-9 and '-', "
                "not starting or ending with '-'"
            )
        if label.startswith("xn--"):
            try:
                idna.decode(label)
            except (idna.IDNAError, UnicodeError):
                raise ValueError(f"invalid internationalized label {label!r}") from None
    if labels[-1].isdigit():
        raise ValueError("IP addresses are not allowed; use a domain name")
    return host


# The cap before normalisation is looser than 253: a Unicode spelling may be shorter
# or longer than its encoded form; the encoded form is what is checked.
Hostname = Annotated[str, Field(min_length=1, max_length=1000), AfterValidator(normalize_hostname)]
ID_PATTERN = r"^[0-9a-z]+$"
FunctionIdRef = Annotated[str, Field(min_length=1, max_length=40, pattern=ID_PATTERN)]


def _refuse_null(value: Any) -> Any:
    if value is None:
        raise ValueError("may be omitted but not null")
    return value


class FunctionCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")
    name: FunctionName
    description: Description = ""
    runtime: FunctionRuntime
    entry_point: EntryPoint
    code: Code = ""
    timeout: Timeout = 30
    memory: Memory = 256
    environment: Environment = Field(default_factory=dict)
    secrets: Secrets = Field(
        default_factory=dict, description="Write-only: names come back as secret_names"
    )
    status: FunctionStatus = FunctionStatus.draft


class FunctionUpdate(BaseModel):
    """Partial update. `secrets` replaces the whole map; `secrets_patch` sets the secrets
    it names and removes those given `null` (removing an absent name is a no-op), leaving
    the others untouched. Sending both is refused: the result would be ambiguous."""

    model_config = ConfigDict(extra="forbid")
    name: FunctionName | None = None
    description: Description | None = None
    runtime: FunctionRuntime | None = None
    entry_point: EntryPoint | None = None
    code: Code | None = None
    timeout: Timeout | None = None
    memory: Memory | None = None
    environment: Environment | None = None
    secrets: Secrets | None = None
    secrets_patch: SecretsPatch | None = None
    status: FunctionStatus | None = None

    _not_null = field_validator(
        "name",
        "description",
        "runtime",
        "entry_point",
        "code",
        "timeout",
        "memory",
        "environment",
        "secrets",
        "secrets_patch",
        "status",
        mode="before",
    )(_refuse_null)

    @model_validator(mode="after")
    def _one_way_to_change_secrets(self) -> FunctionUpdate:
        if self.secrets is not None and self.secrets_patch is not None:
            raise ValueError("send either secrets (replace all) or secrets_patch, not both")
        return self


class FunctionOut(BaseModel):
    id: str
    project_id: int
    name: str
    description: str
    runtime: str
    entry_point: str
    code: str
    timeout: int
    memory: int
    environment: dict[str, str]
    secret_names: list[str] = Field(description="Names of the secrets; values are never shown")
    status: str
    created_at: datetime
    updated_at: datetime

    @classmethod
    def of(cls, row: Function) -> FunctionOut:
        return cls(
            id=row.id,
            project_id=row.project_id,
            name=row.name,
            description=row.description,
            runtime=row.runtime,
            entry_point=row.entry_point,
            code=row.code,
            timeout=row.timeout,
            memory=row.memory,
            environment=dict(row.environment or {}),
            secret_names=sorted(row.secrets_encrypted or {}),
            status=row.status,
            created_at=row.created_at,
            updated_at=row.updated_at,
        )


class FunctionDomainCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")
    domain: Hostname
    function_id: FunctionIdRef


class FunctionDomainUpdate(BaseModel):
    """Moving a domain to another function of the project, or renaming it (same checks
    as on creation; a renamed domain is unverified again)."""

    model_config = ConfigDict(extra="forbid")
    domain: Hostname | None = None
    function_id: FunctionIdRef | None = None

    _not_null = field_validator("domain", "function_id", mode="before")(_refuse_null)


class FunctionDomainOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)
    id: str
    project_id: int
    domain: str
    function_id: str
    is_verified: bool
    created_at: datetime
    updated_at: datetime

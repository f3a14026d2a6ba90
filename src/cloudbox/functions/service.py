"""Use cases of functions and function domains.

Every check runs before anything is written, and the unique constraints and the
function-domain foreign key are guarded by savepoints: a concurrent writer that slips past
a check gets the same error code as a sequential one instead of a 500.

Secrets: one AES-GCM ciphertext per secret (purpose `functions.secrets`), kept in
`Function.secrets_encrypted` as name -> ciphertext. Values are encrypted here and only
ever decrypted by `reveal_secrets`, which no route calls.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator, Mapping
from contextlib import contextmanager
from typing import Any

from sqlalchemy import Select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from cloudbox.db.ids import new_id
from cloudbox.db.types import utcnow
from cloudbox.errors import AppError, InvalidInput
from cloudbox.functions import repository as repo
from cloudbox.functions.errors import (
    DomainTaken,
    FunctionDomainNotFound,
    FunctionExists,
    FunctionInUse,
    FunctionNotFound,
    InvalidReference,
)
from cloudbox.functions.models import Function, FunctionDomain
from cloudbox.security.encryption import SecretBox

SECRETS_PURPOSE = "functions.secrets"
MAX_SECRETS = 100
UPDATABLE_FIELDS = frozenset(
    {
        "name",
        "description",
        "runtime",
        "entry_point",
        "code",
        "timeout",
        "memory",
        "environment",
        "status",
    }
)
_IN_USE_SAMPLE = 10


@contextmanager
def _guarded(db: Session, on_conflict: Callable[[], AppError]) -> Iterator[None]:
    """Run writes in a savepoint; a constraint violation becomes `on_conflict()` and the
    session stays usable (the request still rolls back, having written nothing)."""
    try:
        with db.begin_nested():
            yield
    except IntegrityError:
        raise on_conflict() from None


# --- functions ----------------------------------------------------------------------


def get_function(db: Session, project_id: int, function_id: str) -> Function:
    row = repo.get_function(db, project_id, function_id)
    if row is None:
        raise FunctionNotFound(details={"function_id": function_id})
    return row


def list_functions(project_id: int) -> Select[Function]:
    return repo.functions_of_project(project_id)


def _encrypt_all(box: SecretBox, secrets: Mapping[str, str]) -> dict[str, str]:
    return {name: box.encrypt(value, SECRETS_PURPOSE) for name, value in secrets.items()}


def _check_names_disjoint(environment: Mapping[str, str], secret_names: Iterable[str]) -> None:
    # Both become variables of the running function; one name must mean one value.
    clash = sorted(set(environment) & set(secret_names))
    if clash:
        raise InvalidInput(
            "A name cannot be both an environment variable and a secret",
            details={"field": "secrets", "names": clash},
        )


def _check_name_free(db: Session, project_id: int, name: str, own_id: str | None) -> None:
    existing = repo.function_by_name(db, project_id, name)
    if existing is not None and existing.id != own_id:
        raise FunctionExists(details={"name": name})


def create_function(
    db: Session,
    box: SecretBox,
    project_id: int,
    *,
    name: str,
    description: str,
    runtime: str,
    entry_point: str,
    code: str,
    timeout: int,
    memory: int,
    environment: Mapping[str, str],
    secrets: Mapping[str, str],
    status: str,
) -> Function:
    _check_names_disjoint(environment, secrets)
    _check_name_free(db, project_id, name, None)
    now = utcnow()
    row = Function(
        project_id=project_id,
        id=new_id(),
        name=name,
        description=description,
        runtime=runtime,
        entry_point=entry_point,
        code=code,
        timeout=timeout,
        memory=memory,
        environment=dict(environment),
        secrets_encrypted=_encrypt_all(box, secrets),
        status=status,
        created_at=now,
        updated_at=now,
    )
    with _guarded(db, lambda: FunctionExists(details={"name": name})):
        db.add(row)
    return row


def update_function(
    db: Session,
    box: SecretBox,
    project_id: int,
    function_id: str,
    changes: Mapping[str, Any],
    *,
    secrets: Mapping[str, str] | None = None,
    secrets_patch: Mapping[str, str | None] | None = None,
) -> Function:
    """`secrets` replaces every secret; `secrets_patch` sets the names it maps to a value
    and removes those mapped to None (absent names: no-op). At most one of the two."""
    unknown = set(changes) - UPDATABLE_FIELDS
    if unknown:
        raise ValueError(f"not updatable: {sorted(unknown)}")
    if secrets is not None and secrets_patch is not None:
        raise InvalidInput("Send either secrets or secrets_patch, not both")
    row = get_function(db, project_id, function_id)

    encrypted = dict(row.secrets_encrypted or {})
    if secrets is not None:
        encrypted = _encrypt_all(box, secrets)
    elif secrets_patch is not None:
        for secret_name, value in secrets_patch.items():
            if value is None:
                encrypted.pop(secret_name, None)
            else:
                encrypted[secret_name] = box.encrypt(value, SECRETS_PURPOSE)
        if len(encrypted) > MAX_SECRETS:
            raise InvalidInput(
                f"A function has at most {MAX_SECRETS} secrets",
                details={"field": "secrets_patch", "count": len(encrypted)},
            )
    environment = changes.get("environment", row.environment or {})
    _check_names_disjoint(environment, encrypted)
    new_name = changes.get("name", row.name)
    _check_name_free(db, project_id, new_name, row.id)

    with _guarded(db, lambda: FunctionExists(details={"name": new_name})):
        for key, value in changes.items():
            setattr(row, key, dict(value) if key == "environment" else value)
        if secrets is not None or secrets_patch is not None:
            row.secrets_encrypted = encrypted
        if changes or secrets is not None or secrets_patch is not None:
            row.updated_at = utcnow()
    return row


def delete_function(db: Session, project_id: int, function_id: str) -> None:
    row = get_function(db, project_id, function_id)

    def in_use() -> FunctionInUse:
        domains = repo.domain_names_of_function(db, project_id, function_id, _IN_USE_SAMPLE)
        return FunctionInUse(details={"function_id": function_id, "domains": list(domains)})

    if repo.domain_names_of_function(db, project_id, function_id, 1):
        raise in_use()
    with _guarded(db, in_use):
        db.delete(row)


def reveal_secrets(box: SecretBox, row: Function) -> dict[str, str]:
    """Plaintext secrets, for whatever runs the function; never for an API response."""
    return {
        name: box.decrypt_text(ciphertext, SECRETS_PURPOSE)
        for name, ciphertext in (row.secrets_encrypted or {}).items()
    }


# --- function domains ---------------------------------------------------------------


def get_domain(db: Session, project_id: int, domain_id: str) -> FunctionDomain:
    row = repo.get_domain(db, project_id, domain_id)
    if row is None:
        raise FunctionDomainNotFound(details={"domain_id": domain_id})
    return row


def list_domains(project_id: int, function_id: str | None = None) -> Select[FunctionDomain]:
    return repo.domains_of_project(project_id, function_id)


def _require_function(db: Session, project_id: int, function_id: str) -> None:
    # Another project's function is reported exactly like a missing one.
    if repo.get_function(db, project_id, function_id) is None:
        raise InvalidReference(
            "function_id does not name a function of this project",
            details={"field": "function_id", "function_id": function_id},
        )


def _require_domain_free(db: Session, domain: str, own_id: tuple[int, str] | None) -> None:
    holder = repo.domain_by_name(db, domain)
    if holder is not None and (holder.project_id, holder.id) != own_id:
        raise DomainTaken(details={"domain": domain})


def _conflict_of(
    db: Session, project_id: int, domain: str, function_id: str
) -> Callable[[], AppError]:
    """Which rule a concurrent writer broke, found by asking again after the savepoint
    rolled back."""

    def decide() -> AppError:
        if repo.get_function(db, project_id, function_id) is None:
            return InvalidReference(
                "function_id does not name a function of this project",
                details={"field": "function_id", "function_id": function_id},
            )
        return DomainTaken(details={"domain": domain})

    return decide


def create_domain(db: Session, project_id: int, *, domain: str, function_id: str) -> FunctionDomain:
    """`domain` must already be normalised (`schemas.normalize_hostname`)."""
    _require_function(db, project_id, function_id)
    _require_domain_free(db, domain, None)
    now = utcnow()
    row = FunctionDomain(
        project_id=project_id,
        id=new_id(),
        domain=domain,
        function_id=function_id,
        is_verified=False,
        created_at=now,
        updated_at=now,
    )
    with _guarded(db, _conflict_of(db, project_id, domain, function_id)):
        db.add(row)
    return row


def update_domain(
    db: Session,
    project_id: int,
    domain_id: str,
    *,
    domain: str | None = None,
    function_id: str | None = None,
) -> FunctionDomain:
    """A renamed domain is unverified again: verification proved control of the old name.
    Moving it to another function keeps its verification."""
    row = get_domain(db, project_id, domain_id)
    new_function = function_id if function_id is not None else row.function_id
    new_domain = domain if domain is not None else row.domain
    if function_id is not None:
        _require_function(db, project_id, function_id)
    renamed = new_domain != row.domain
    if renamed:
        _require_domain_free(db, new_domain, (row.project_id, row.id))
    with _guarded(db, _conflict_of(db, project_id, new_domain, new_function)):
        if renamed:
            row.domain = new_domain
            row.is_verified = False
        if new_function != row.function_id:
            row.function_id = new_function
        if domain is not None or function_id is not None:
            row.updated_at = utcnow()
    return row


def delete_domain(db: Session, project_id: int, domain_id: str) -> None:
    row = get_domain(db, project_id, domain_id)
    db.delete(row)
    db.flush()

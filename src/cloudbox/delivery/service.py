"""Use cases of delivery configuration: SSH keys, GitHub repositories, web servers and
deployments of one project.

Everything is checked before anything is written, so a refused request leaves no trace.
Credentials are encrypted with the `SecretBox` before they reach a row and are never
handed back; references are checked to point into the same project (the composite
foreign keys enforce the same in the database, and a lost race surfaces as the same
error instead of a 500).
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from enum import Enum
from typing import Any

from sqlalchemy import Select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from cloudbox.db.ids import new_id
from cloudbox.delivery import repository as repo
from cloudbox.delivery import ssh_keys
from cloudbox.delivery.errors import (
    DeploymentNotFound,
    GithubRepositoryNotFound,
    InvalidReference,
    RepositoryInUse,
    SshKeyExists,
    SshKeyInUse,
    SshKeyNotFound,
    WebServerInUse,
    WebServerNotFound,
)
from cloudbox.delivery.models import Deployment, GithubRepository, SshKey, WebServer
from cloudbox.errors import AppError
from cloudbox.security.encryption import SecretBox

PRIVATE_KEY_PURPOSE = "ssh_keys.private_key"
WEBHOOK_SECRET_PURPOSE = "github_repositories.webhook_secret"
ACCESS_TOKEN_PURPOSE = "github_repositories.access_token"


@contextmanager
def _integrity_as(error: AppError) -> Iterator[None]:
    """Turn a constraint violation at flush (a concurrent writer won a race the checks
    above it lost) into the same client error the checks give."""
    try:
        yield
    except IntegrityError as exc:
        raise error from exc


def _apply(row: object, changes: dict[str, Any], allowed: set[str]) -> None:
    for key, value in changes.items():
        if key in allowed:
            setattr(row, key, value.value if isinstance(value, Enum) else value)


# --- references -------------------------------------------------------------------------


def _require_ssh_key_ref(db: Session, project_id: int, ssh_key_id: str | None) -> None:
    if ssh_key_id is not None and repo.get(db, SshKey, project_id, ssh_key_id) is None:
        raise InvalidReference(
            "ssh_key_id does not name an SSH key of this project",
            details={"field": "ssh_key_id", "id": ssh_key_id},
        )


def _require_repository_ref(db: Session, project_id: int, repo_id: str) -> GithubRepository:
    row = repo.get(db, GithubRepository, project_id, repo_id)
    if row is None:
        raise InvalidReference(
            "github_repository_id does not name a repository of this project",
            details={"field": "github_repository_id", "id": repo_id},
        )
    return row


def _require_web_server_ref(db: Session, project_id: int, server_id: str) -> WebServer:
    row = repo.get(db, WebServer, project_id, server_id)
    if row is None:
        raise InvalidReference(
            "web_server_id does not name a web server of this project",
            details={"field": "web_server_id", "id": server_id},
        )
    return row


def _reference_race(field: str) -> InvalidReference:
    return InvalidReference(
        f"{field} names a row that no longer exists in this project",
        details={"field": field},
    )


# --- SSH keys ---------------------------------------------------------------------------


def list_ssh_keys(project_id: int) -> Select[SshKey]:
    return repo.of_project(SshKey, project_id)


def get_ssh_key(db: Session, project_id: int, key_id: str) -> SshKey:
    row = repo.get(db, SshKey, project_id, key_id)
    if row is None:
        raise SshKeyNotFound()
    return row


def create_ssh_key(
    db: Session,
    secrets: SecretBox,
    project_id: int,
    *,
    name: str,
    description: str,
    private_key: str | None,
) -> SshKey:
    """Import `private_key`, or generate an ed25519 key when it is None."""
    material = ssh_keys.generate() if private_key is None else ssh_keys.parse(private_key)
    if repo.ssh_key_named(db, project_id, name) is not None:
        raise SshKeyExists(details={"field": "name"})
    row = SshKey(
        project_id=project_id,
        id=new_id(),
        name=name,
        description=description,
        key_type=material.key_type,
        public_key=material.public_key,
        fingerprint=material.fingerprint,
        private_key_encrypted=secrets.encrypt(material.private_openssh, PRIVATE_KEY_PURPOSE),
        is_active=True,
    )
    db.add(row)
    with _integrity_as(SshKeyExists(details={"field": "name"})):
        db.flush()
    return row


def update_ssh_key(db: Session, project_id: int, key_id: str, changes: dict[str, Any]) -> SshKey:
    row = get_ssh_key(db, project_id, key_id)
    name = changes.get("name")
    if name is not None and name != row.name and repo.ssh_key_named(db, project_id, name):
        raise SshKeyExists(details={"field": "name"})
    _apply(row, changes, {"name", "description", "is_active"})
    with _integrity_as(SshKeyExists(details={"field": "name"})):
        db.flush()
    return row


def delete_ssh_key(db: Session, project_id: int, key_id: str) -> None:
    row = get_ssh_key(db, project_id, key_id)
    repositories = repo.referencing_ids(
        db, GithubRepository, GithubRepository.ssh_key_id, project_id, key_id
    )
    servers = repo.referencing_ids(db, WebServer, WebServer.ssh_key_id, project_id, key_id)
    in_use = SshKeyInUse(details={"github_repository_ids": repositories, "web_server_ids": servers})
    if repositories or servers:
        raise in_use
    db.delete(row)
    with _integrity_as(in_use):
        db.flush()


def private_key_of(secrets: SecretBox, row: SshKey) -> str:
    """The private key in OpenSSH format, for the code that deploys with it; never for a
    response."""
    return secrets.decrypt_text(row.private_key_encrypted, PRIVATE_KEY_PURPOSE)


# --- GitHub repositories ----------------------------------------------------------------

_REPOSITORY_FIELDS = {
    "name",
    "full_name",
    "clone_url",
    "branch",
    "is_private",
    "ssh_key_id",
    "build_command",
    "start_command",
    "environment",
}


def _seal(secrets: SecretBox, value: str | None, purpose: str) -> str | None:
    return None if value is None else secrets.encrypt(value, purpose)


def list_repositories(project_id: int) -> Select[GithubRepository]:
    return repo.of_project(GithubRepository, project_id)


def get_repository(db: Session, project_id: int, repo_id: str) -> GithubRepository:
    row = repo.get(db, GithubRepository, project_id, repo_id)
    if row is None:
        raise GithubRepositoryNotFound()
    return row


def create_repository(
    db: Session, secrets: SecretBox, project_id: int, values: dict[str, Any]
) -> GithubRepository:
    _require_ssh_key_ref(db, project_id, values.get("ssh_key_id"))
    row = GithubRepository(project_id=project_id, id=new_id())
    _apply(row, values, _REPOSITORY_FIELDS)
    row.webhook_secret_encrypted = _seal(
        secrets, values.get("webhook_secret"), WEBHOOK_SECRET_PURPOSE
    )
    row.access_token_encrypted = _seal(secrets, values.get("access_token"), ACCESS_TOKEN_PURPOSE)
    db.add(row)
    with _integrity_as(_reference_race("ssh_key_id")):
        db.flush()
    return row


def update_repository(
    db: Session, secrets: SecretBox, project_id: int, repo_id: str, changes: dict[str, Any]
) -> GithubRepository:
    row = get_repository(db, project_id, repo_id)
    if "ssh_key_id" in changes:
        _require_ssh_key_ref(db, project_id, changes["ssh_key_id"])
    _apply(row, changes, _REPOSITORY_FIELDS)
    if "webhook_secret" in changes:
        row.webhook_secret_encrypted = _seal(
            secrets, changes["webhook_secret"], WEBHOOK_SECRET_PURPOSE
        )
    if "access_token" in changes:
        row.access_token_encrypted = _seal(secrets, changes["access_token"], ACCESS_TOKEN_PURPOSE)
    with _integrity_as(_reference_race("ssh_key_id")):
        db.flush()
    return row


def delete_repository(db: Session, project_id: int, repo_id: str) -> None:
    row = get_repository(db, project_id, repo_id)
    deployments = repo.referencing_ids(
        db, Deployment, Deployment.github_repository_id, project_id, repo_id
    )
    in_use = RepositoryInUse(details={"deployment_ids": deployments})
    if deployments:
        raise in_use
    db.delete(row)
    with _integrity_as(in_use):
        db.flush()


def webhook_secret_of(secrets: SecretBox, row: GithubRepository) -> str | None:
    """For the webhook receiver that checks signatures; never for a response."""
    if row.webhook_secret_encrypted is None:
        return None
    return secrets.decrypt_text(row.webhook_secret_encrypted, WEBHOOK_SECRET_PURPOSE)


def access_token_of(secrets: SecretBox, row: GithubRepository) -> str | None:
    """For the code that clones the repository; never for a response."""
    if row.access_token_encrypted is None:
        return None
    return secrets.decrypt_text(row.access_token_encrypted, ACCESS_TOKEN_PURPOSE)


# --- web servers ------------------------------------------------------------------------

_SERVER_FIELDS = {
    "name",
    "hostname",
    "port",
    "username",
    "ssh_key_id",
    "server_type",
    "deploy_path",
    "is_active",
}


def list_web_servers(project_id: int) -> Select[WebServer]:
    return repo.of_project(WebServer, project_id)


def get_web_server(db: Session, project_id: int, server_id: str) -> WebServer:
    row = repo.get(db, WebServer, project_id, server_id)
    if row is None:
        raise WebServerNotFound()
    return row


def create_web_server(db: Session, project_id: int, values: dict[str, Any]) -> WebServer:
    _require_ssh_key_ref(db, project_id, values.get("ssh_key_id"))
    row = WebServer(project_id=project_id, id=new_id())
    _apply(row, values, _SERVER_FIELDS)
    db.add(row)
    with _integrity_as(_reference_race("ssh_key_id")):
        db.flush()
    return row


def update_web_server(
    db: Session, project_id: int, server_id: str, changes: dict[str, Any]
) -> WebServer:
    row = get_web_server(db, project_id, server_id)
    if "ssh_key_id" in changes:
        _require_ssh_key_ref(db, project_id, changes["ssh_key_id"])
    _apply(row, changes, _SERVER_FIELDS)
    with _integrity_as(_reference_race("ssh_key_id")):
        db.flush()
    return row


def delete_web_server(db: Session, project_id: int, server_id: str) -> None:
    row = get_web_server(db, project_id, server_id)
    deployments = repo.referencing_ids(
        db, Deployment, Deployment.web_server_id, project_id, server_id
    )
    in_use = WebServerInUse(details={"deployment_ids": deployments})
    if deployments:
        raise in_use
    db.delete(row)
    with _integrity_as(in_use):
        db.flush()


# --- deployments ------------------------------------------------------------------------

_DEPLOYMENT_FIELDS = {
    "name",
    "description",
    "domain",
    "github_repository_id",
    "web_server_id",
    "branch",
    "environment",
    "build_command",
    "start_command",
    "status",
    "version",
}


def list_deployments(project_id: int) -> Select[Deployment]:
    return repo.of_project(Deployment, project_id)


def get_deployment(db: Session, project_id: int, deployment_id: str) -> Deployment:
    row = repo.get(db, Deployment, project_id, deployment_id)
    if row is None:
        raise DeploymentNotFound()
    return row


def create_deployment(db: Session, project_id: int, values: dict[str, Any]) -> Deployment:
    """`branch`, `build_command` and `start_command` left out (None) are copied from the
    repository, so a deployment always says exactly what it builds."""
    repository = _require_repository_ref(db, project_id, values["github_repository_id"])
    _require_web_server_ref(db, project_id, values["web_server_id"])
    values = dict(values)
    for key in ("branch", "build_command", "start_command"):
        if values.get(key) is None:
            values[key] = getattr(repository, key)
    row = Deployment(project_id=project_id, id=new_id())
    _apply(row, values, _DEPLOYMENT_FIELDS)
    db.add(row)
    with _integrity_as(_reference_race("github_repository_id or web_server_id")):
        db.flush()
    return row


def update_deployment(
    db: Session, project_id: int, deployment_id: str, changes: dict[str, Any]
) -> Deployment:
    row = get_deployment(db, project_id, deployment_id)
    if "github_repository_id" in changes:
        _require_repository_ref(db, project_id, changes["github_repository_id"])
    if "web_server_id" in changes:
        _require_web_server_ref(db, project_id, changes["web_server_id"])
    _apply(row, changes, _DEPLOYMENT_FIELDS)
    with _integrity_as(_reference_race("github_repository_id or web_server_id")):
        db.flush()
    return row


def delete_deployment(db: Session, project_id: int, deployment_id: str) -> None:
    db.delete(get_deployment(db, project_id, deployment_id))
    db.flush()

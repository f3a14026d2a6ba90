"""HTTP for delivery configuration.

Policy: any member reads; developers write web servers and deployments; SSH keys and
GitHub repositories hold credentials, so only admins (and owners) write them.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Path, Request, Response, status

from cloudbox.api.deps import Admin, DbDep, Developer, RuntimeDep, Viewer
from cloudbox.api.pagination import PageDep, paged
from cloudbox.delivery import service
from cloudbox.delivery.models import Deployment, GithubRepository, SshKey, WebServer
from cloudbox.delivery.schemas import (
    DeploymentCreate,
    DeploymentOut,
    DeploymentUpdate,
    GithubRepositoryCreate,
    GithubRepositoryOut,
    GithubRepositoryUpdate,
    SshKeyCreate,
    SshKeyOut,
    SshKeyUpdate,
    WebServerCreate,
    WebServerOut,
    WebServerUpdate,
)

router = APIRouter(prefix="/api/projects/{project_id}")
RowId = Annotated[str, Path(min_length=1, max_length=40, pattern=r"^[0-9a-z]+$")]


def _errors(**codes: str) -> dict[int | str, dict[str, Any]]:
    """This domain's errors for the OpenAPI document: `_errors(e404="X", e409="Y or Z")`."""
    return {int(key[1:]): {"description": value} for key, value in codes.items()}


_REFERENCE_422 = "INVALID_REFERENCE or VALIDATION_ERROR"

_KEY_ORDER = {
    "created_at": SshKey.created_at,
    "updated_at": SshKey.updated_at,
    "name": SshKey.name,
    "key_type": SshKey.key_type,
}
_REPOSITORY_ORDER = {
    "created_at": GithubRepository.created_at,
    "updated_at": GithubRepository.updated_at,
    "name": GithubRepository.name,
    "full_name": GithubRepository.full_name,
}
_SERVER_ORDER = {
    "created_at": WebServer.created_at,
    "updated_at": WebServer.updated_at,
    "name": WebServer.name,
    "hostname": WebServer.hostname,
}
_DEPLOYMENT_ORDER = {
    "created_at": Deployment.created_at,
    "updated_at": Deployment.updated_at,
    "name": Deployment.name,
    "status": Deployment.status,
}

# --- SSH keys -------------------------------------------------------------------------


@router.get("/ssh-keys", response_model=list[SshKeyOut], tags=["ssh keys"])
def list_ssh_keys(access: Viewer, db: DbDep, response: Response, page: PageDep) -> list[SshKey]:
    query = service.list_ssh_keys(access.project_id)
    return list(db.scalars(paged(db, response, query, page, _KEY_ORDER, SshKey.created_at.asc())))


@router.post(
    "/ssh-keys",
    status_code=status.HTTP_201_CREATED,
    response_model=SshKeyOut,
    tags=["ssh keys"],
    responses=_errors(
        e409="SSH_KEY_EXISTS", e422="INVALID_SSH_KEY, SSH_KEY_ENCRYPTED or VALIDATION_ERROR"
    ),
)
def create_ssh_key(
    access: Admin, body: SshKeyCreate, db: DbDep, runtime: RuntimeDep, request: Request
) -> SshKey:
    row = service.create_ssh_key(
        db,
        runtime.secrets,
        access.project_id,
        name=body.name,
        description=body.description,
        private_key=body.private_key,
    )
    db.commit()
    request.state.audit_resource_id = row.id
    return row


@router.get(
    "/ssh-keys/{key_id}",
    response_model=SshKeyOut,
    tags=["ssh keys"],
    responses=_errors(e404="SSH_KEY_NOT_FOUND"),
)
def get_ssh_key(access: Viewer, key_id: RowId, db: DbDep) -> SshKey:
    return service.get_ssh_key(db, access.project_id, key_id)


@router.patch(
    "/ssh-keys/{key_id}",
    response_model=SshKeyOut,
    tags=["ssh keys"],
    responses=_errors(e404="SSH_KEY_NOT_FOUND", e409="SSH_KEY_EXISTS"),
)
def update_ssh_key(access: Admin, key_id: RowId, body: SshKeyUpdate, db: DbDep) -> SshKey:
    row = service.update_ssh_key(db, access.project_id, key_id, body.changes())
    db.commit()
    return row


@router.delete(
    "/ssh-keys/{key_id}",
    status_code=status.HTTP_204_NO_CONTENT,
    tags=["ssh keys"],
    responses=_errors(e404="SSH_KEY_NOT_FOUND", e409="SSH_KEY_IN_USE"),
)
def delete_ssh_key(access: Admin, key_id: RowId, db: DbDep) -> None:
    service.delete_ssh_key(db, access.project_id, key_id)
    db.commit()


# --- GitHub repositories --------------------------------------------------------------


@router.get(
    "/github-repositories", response_model=list[GithubRepositoryOut], tags=["github repositories"]
)
def list_repositories(
    access: Viewer, db: DbDep, response: Response, page: PageDep
) -> list[GithubRepository]:
    query = service.list_repositories(access.project_id)
    default = GithubRepository.created_at.asc()
    return list(db.scalars(paged(db, response, query, page, _REPOSITORY_ORDER, default)))


@router.post(
    "/github-repositories",
    status_code=status.HTTP_201_CREATED,
    response_model=GithubRepositoryOut,
    tags=["github repositories"],
    responses=_errors(e422=_REFERENCE_422),
)
def create_repository(
    access: Admin,
    body: GithubRepositoryCreate,
    db: DbDep,
    runtime: RuntimeDep,
    request: Request,
) -> GithubRepository:
    row = service.create_repository(db, runtime.secrets, access.project_id, body.model_dump())
    db.commit()
    request.state.audit_resource_id = row.id
    return row


@router.get(
    "/github-repositories/{repository_id}",
    response_model=GithubRepositoryOut,
    tags=["github repositories"],
    responses=_errors(e404="GITHUB_REPOSITORY_NOT_FOUND"),
)
def get_repository(access: Viewer, repository_id: RowId, db: DbDep) -> GithubRepository:
    return service.get_repository(db, access.project_id, repository_id)


@router.patch(
    "/github-repositories/{repository_id}",
    response_model=GithubRepositoryOut,
    tags=["github repositories"],
    responses=_errors(e404="GITHUB_REPOSITORY_NOT_FOUND", e422=_REFERENCE_422),
)
def update_repository(
    access: Admin,
    repository_id: RowId,
    body: GithubRepositoryUpdate,
    db: DbDep,
    runtime: RuntimeDep,
) -> GithubRepository:
    row = service.update_repository(
        db, runtime.secrets, access.project_id, repository_id, body.changes()
    )
    db.commit()
    return row


@router.delete(
    "/github-repositories/{repository_id}",
    status_code=status.HTTP_204_NO_CONTENT,
    tags=["github repositories"],
    responses=_errors(e404="GITHUB_REPOSITORY_NOT_FOUND", e409="REPOSITORY_IN_USE"),
)
def delete_repository(access: Admin, repository_id: RowId, db: DbDep) -> None:
    service.delete_repository(db, access.project_id, repository_id)
    db.commit()


# --- web servers ----------------------------------------------------------------------


@router.get("/web-servers", response_model=list[WebServerOut], tags=["web servers"])
def list_web_servers(
    access: Viewer, db: DbDep, response: Response, page: PageDep
) -> list[WebServer]:
    query = service.list_web_servers(access.project_id)
    default = WebServer.created_at.asc()
    return list(db.scalars(paged(db, response, query, page, _SERVER_ORDER, default)))


@router.post(
    "/web-servers",
    status_code=status.HTTP_201_CREATED,
    response_model=WebServerOut,
    tags=["web servers"],
    responses=_errors(e422=_REFERENCE_422),
)
def create_web_server(
    access: Developer, body: WebServerCreate, db: DbDep, request: Request
) -> WebServer:
    row = service.create_web_server(db, access.project_id, body.model_dump())
    db.commit()
    request.state.audit_resource_id = row.id
    return row


@router.get(
    "/web-servers/{server_id}",
    response_model=WebServerOut,
    tags=["web servers"],
    responses=_errors(e404="WEB_SERVER_NOT_FOUND"),
)
def get_web_server(access: Viewer, server_id: RowId, db: DbDep) -> WebServer:
    return service.get_web_server(db, access.project_id, server_id)


@router.patch(
    "/web-servers/{server_id}",
    response_model=WebServerOut,
    tags=["web servers"],
    responses=_errors(e404="WEB_SERVER_NOT_FOUND", e422=_REFERENCE_422),
)
def update_web_server(
    access: Developer, server_id: RowId, body: WebServerUpdate, db: DbDep
) -> WebServer:
    row = service.update_web_server(db, access.project_id, server_id, body.changes())
    db.commit()
    return row


@router.delete(
    "/web-servers/{server_id}",
    status_code=status.HTTP_204_NO_CONTENT,
    tags=["web servers"],
    responses=_errors(e404="WEB_SERVER_NOT_FOUND", e409="WEB_SERVER_IN_USE"),
)
def delete_web_server(access: Developer, server_id: RowId, db: DbDep) -> None:
    service.delete_web_server(db, access.project_id, server_id)
    db.commit()


# --- deployments ----------------------------------------------------------------------


@router.get("/deployments", response_model=list[DeploymentOut], tags=["deployments"])
def list_deployments(
    access: Viewer, db: DbDep, response: Response, page: PageDep
) -> list[Deployment]:
    query = service.list_deployments(access.project_id)
    default = Deployment.created_at.asc()
    return list(db.scalars(paged(db, response, query, page, _DEPLOYMENT_ORDER, default)))


@router.post(
    "/deployments",
    status_code=status.HTTP_201_CREATED,
    response_model=DeploymentOut,
    tags=["deployments"],
    responses=_errors(e422=_REFERENCE_422),
)
def create_deployment(
    access: Developer, body: DeploymentCreate, db: DbDep, request: Request
) -> Deployment:
    row = service.create_deployment(db, access.project_id, body.model_dump())
    db.commit()
    request.state.audit_resource_id = row.id
    return row


@router.get(
    "/deployments/{deployment_id}",
    response_model=DeploymentOut,
    tags=["deployments"],
    responses=_errors(e404="DEPLOYMENT_NOT_FOUND"),
)
def get_deployment(access: Viewer, deployment_id: RowId, db: DbDep) -> Deployment:
    return service.get_deployment(db, access.project_id, deployment_id)


@router.patch(
    "/deployments/{deployment_id}",
    response_model=DeploymentOut,
    tags=["deployments"],
    responses=_errors(e404="DEPLOYMENT_NOT_FOUND", e422=_REFERENCE_422),
)
def update_deployment(
    access: Developer, deployment_id: RowId, body: DeploymentUpdate, db: DbDep
) -> Deployment:
    row = service.update_deployment(db, access.project_id, deployment_id, body.changes())
    db.commit()
    return row


@router.delete(
    "/deployments/{deployment_id}",
    status_code=status.HTTP_204_NO_CONTENT,
    tags=["deployments"],
    responses=_errors(e404="DEPLOYMENT_NOT_FOUND"),
)
def delete_deployment(access: Developer, deployment_id: RowId, db: DbDep) -> None:
    service.delete_deployment(db, access.project_id, deployment_id)
    db.commit()

"""Restore endpoints: the spec's `POST /api/backups/{id}/restore`, plus restore status,
listing and undo."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Path, Request, Response, status
from fastapi.responses import JSONResponse

from cloudbox.api.deps import (
    DbDep,
    PrincipalDep,
    RuntimeDep,
    actor_of,
    authorize_resource,
    project_access,
)
from cloudbox.api.pagination import PageDep, paged
from cloudbox.backups.routes import BackupAdmin
from cloudbox.projects import service as projects
from cloudbox.projects.roles import Role, Scope
from cloudbox.projects.service import ProjectAccess
from cloudbox.restores import service
from cloudbox.restores.errors import RestoreNotFound
from cloudbox.restores.models import Restore
from cloudbox.restores.schemas import RestoreOut, RestoreRequest, RestoreResponse
from cloudbox.runtime import Runtime

router = APIRouter(tags=["restores"])
RestoreId = Annotated[int, Path(ge=1, le=2**31 - 1)]
_ORDER = {"created_at": Restore.created_at, "id": Restore.id}
ProjectDeveloper = Annotated[
    ProjectAccess, Depends(project_access(Role.developer, Scope.backups, guard_restore=False))
]
SUCCESS = "Backup restore completed successfully"
DRY_RUN = "Dry run completed; nothing was changed"
_ERRORS: dict[int | str, dict[str, Any]] = {
    202: {"description": "Accepted (wait=false): the restore object"},
    404: {"description": "BACKUP_NOT_FOUND or PROJECT_NOT_FOUND"},
    409: {"description": "BACKUP_INCOMPLETE or BACKUP_IN_PROGRESS"},
    422: {"description": "INVALID_ARCHIVE, UNSUPPORTED_BACKUP_VERSION or MASTER_KEY_MISMATCH"},
    500: {"description": "RESTORE_FAILED"},
}


@dataclass(frozen=True)
class RestoreAccess:
    restore: Restore
    access: ProjectAccess


def restore_access(min_role: Role) -> Callable[..., RestoreAccess]:
    def dependency(
        restore_id: RestoreId, request: Request, db: DbDep, principal: PrincipalDep
    ) -> RestoreAccess:
        row = db.get(Restore, restore_id)
        if row is None:
            raise RestoreNotFound()
        access = authorize_resource(
            request,
            db,
            principal,
            row.target_project_id,
            min_role,
            not_found=RestoreNotFound,
            resource="restores",
            resource_id=str(row.id),
        )
        return RestoreAccess(restore=row, access=access)

    return dependency


def _wait(runtime: Runtime, restore_id: int) -> Restore:
    """The spec's restore answers when the restore is done; the job runs in a worker."""
    delay = 0.05
    while True:
        with runtime.db.session() as db:
            row = service.get(db, restore_id)
            if row.status in (service.COMPLETED, service.FAILED):
                return row
        time.sleep(delay)
        delay = min(delay * 1.5, 1.0)


def _answer(runtime: Runtime, row: Restore, wait: bool) -> Response | RestoreResponse:
    runtime.enqueue("run_restore", row.id)
    if not wait:
        return JSONResponse(
            RestoreOut.of(row).model_dump(mode="json"), status_code=status.HTTP_202_ACCEPTED
        )
    done = _wait(runtime, row.id)
    if done.status == service.FAILED:
        raise service.error_of(done)
    return RestoreResponse(
        message=DRY_RUN if done.dry_run else SUCCESS,
        target_project_id=done.target_project_id,
        restore=RestoreOut.of(done),
    )


@router.post("/api/backups/{backup_id}/restore", response_model=RestoreResponse, responses=_ERRORS)
def restore_backup(
    found: BackupAdmin, body: RestoreRequest, db: DbDep, runtime: RuntimeDep, request: Request
) -> Response | RestoreResponse:
    backup = found.backup
    target = body.target_project_id or backup.project_id
    if target != backup.project_id:
        projects.authorize(db, found.access.principal, target, Role.admin, Scope.backups)
    row = service.start(
        db,
        backup,
        target,
        options=body.model_dump(exclude={"target_project_id", "wait"}),
        actor=actor_of(request, found.access.principal),
    )
    db.commit()
    request.state.audit_action = "backups.restore"
    return _answer(runtime, row, body.wait)


@router.get("/api/restores/{restore_id}", response_model=RestoreOut)
def get_restore(
    found: Annotated[RestoreAccess, Depends(restore_access(Role.developer))],
) -> RestoreOut:
    return RestoreOut.of(found.restore)


@router.get("/api/projects/{project_id}/restores", response_model=list[RestoreOut])
def list_restores(
    access: ProjectDeveloper, db: DbDep, response: Response, page: PageDep
) -> list[RestoreOut]:
    query = service.list_query(access.project_id)
    rows = db.scalars(
        paged(db, response, query, page, _ORDER, Restore.created_at.desc()).order_by(
            Restore.id.desc()
        )
    )
    return [RestoreOut.of(row) for row in rows]


@router.post("/api/restores/{restore_id}/undo", response_model=RestoreResponse, responses=_ERRORS)
def undo_restore(
    found: Annotated[RestoreAccess, Depends(restore_access(Role.admin))],
    db: DbDep,
    runtime: RuntimeDep,
    request: Request,
    wait: bool = True,
) -> Response | RestoreResponse:
    row = service.undo(db, found.restore, actor_of(request, found.access.principal))
    db.commit()
    return _answer(runtime, row, wait)

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Path, Request, Response, status

from cloudbox.api.deps import Admin, DbDep, Owner, PrincipalDep, RuntimeDep, Viewer, mark_audit
from cloudbox.api.pagination import PageDep, paged
from cloudbox.auth.models import User
from cloudbox.backups.service import remove_archive
from cloudbox.projects import service
from cloudbox.projects.models import Project, ProjectMember
from cloudbox.projects.roles import Role
from cloudbox.projects.schemas import (
    MemberCreate,
    MemberOut,
    MemberUpdate,
    ProjectCreate,
    ProjectOut,
    ProjectUpdate,
)

router = APIRouter(prefix="/api/projects", tags=["projects"])
UserId = Annotated[int, Path(ge=1, le=2**31 - 1)]

_PROJECT_ORDER = {"id": Project.id, "name": Project.name, "created_at": Project.created_at}
_MEMBER_ORDER = {
    "created_at": ProjectMember.created_at,
    "role": ProjectMember.role,
    "email": User.email,
}


def _project_out(project: Project, role: Role | str) -> ProjectOut:
    return ProjectOut(
        id=project.id,
        name=project.name,
        description=project.description,
        settings=project.settings or {},
        role=Role(role),
        created_by=project.created_by,
        created_at=project.created_at,
        updated_at=project.updated_at,
    )


def _member_out(member: ProjectMember, user: User) -> MemberOut:
    return MemberOut(
        user_id=user.id,
        email=user.email,
        name=user.name,
        role=Role(member.role),
        created_at=member.created_at,
    )


@router.post("", status_code=status.HTTP_201_CREATED, response_model=ProjectOut)
def create_project(
    body: ProjectCreate, principal: PrincipalDep, db: DbDep, request: Request
) -> ProjectOut:
    project = service.create_project(db, principal, name=body.name, description=body.description)
    db.commit()
    mark_audit(request, project.id, principal)
    request.state.audit_resource_id = str(project.id)
    return _project_out(project, Role.owner)


@router.get("", response_model=list[ProjectOut])
def list_projects(
    principal: PrincipalDep, db: DbDep, page: PageDep, response: Response
) -> list[ProjectOut]:
    query = service.list_projects(db, principal)
    rows = db.execute(paged(db, response, query, page, _PROJECT_ORDER, Project.id.asc())).all()
    return [_project_out(project, role) for project, role in rows]


@router.get("/{project_id}", response_model=ProjectOut)
def get_project(access: Viewer) -> ProjectOut:
    return _project_out(access.project, access.role)


@router.patch("/{project_id}", response_model=ProjectOut)
def update_project(body: ProjectUpdate, access: Admin, db: DbDep) -> ProjectOut:
    project = service.update_project(db, access.project, body.model_dump(exclude_unset=True))
    db.commit()
    return _project_out(project, access.role)


@router.delete("/{project_id}", status_code=status.HTTP_204_NO_CONTENT)
def delete_project(access: Owner, db: DbDep, runtime: RuntimeDep) -> None:
    archive_keys = service.delete_project(db, access.project)
    db.commit()
    for key in archive_keys:
        remove_archive(runtime.archives, key)


@router.get("/{project_id}/members", response_model=list[MemberOut])
def list_members(access: Viewer, db: DbDep, page: PageDep, response: Response) -> list[MemberOut]:
    query = service.members(db, access.project_id)
    rows = db.execute(
        paged(db, response, query, page, _MEMBER_ORDER, ProjectMember.created_at.asc())
    ).all()
    return [_member_out(member, user) for member, user in rows]


@router.post("/{project_id}/members", status_code=status.HTTP_201_CREATED, response_model=MemberOut)
def add_member(body: MemberCreate, access: Admin, db: DbDep, request: Request) -> MemberOut:
    member, user = service.add_member(db, access, email=body.email, role=body.role)
    db.commit()
    request.state.audit_resource_id = str(user.id)
    return _member_out(member, user)


@router.patch("/{project_id}/members/{user_id}", response_model=MemberOut)
def change_member(user_id: UserId, body: MemberUpdate, access: Admin, db: DbDep) -> MemberOut:
    member, user = service.change_role(db, access, user_id, body.role)
    db.commit()
    return _member_out(member, user)


@router.delete("/{project_id}/members/{user_id}", status_code=status.HTTP_204_NO_CONTENT)
def remove_member(user_id: UserId, access: Admin, db: DbDep) -> None:
    service.remove_member(db, access, user_id)
    db.commit()

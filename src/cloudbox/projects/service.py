"""Projects, members, and the one authorisation rule every project route goes through.

Non-members get `PROJECT_NOT_FOUND` whether or not the project exists, so probing ids
reveals nothing; members below the required role get `INSUFFICIENT_PERMISSIONS`.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Select, select
from sqlalchemy.orm import Session

from cloudbox.auth import repository as auth_repo
from cloudbox.auth.models import User
from cloudbox.auth.principal import Principal
from cloudbox.backups.models import Backup
from cloudbox.errors import Forbidden, ProjectNotFound
from cloudbox.files.blobrefs import release_files
from cloudbox.projects import repository as repo
from cloudbox.projects.errors import AlreadyMember, LastOwner, MemberNotFound, UserNotFound
from cloudbox.projects.models import Project, ProjectMember
from cloudbox.projects.roles import SCOPE_FOR_ROLE, Role, Scope


@dataclass(frozen=True)
class ProjectAccess:
    """The project a request acts on and the role it acts with."""

    project: Project
    principal: Principal
    role: Role

    @property
    def project_id(self) -> int:
        return self.project.id


def authorize(
    db: Session,
    principal: Principal,
    project_id: int,
    min_role: Role = Role.viewer,
    scope: Scope | None = None,
) -> ProjectAccess:
    project = repo.get_project(db, project_id)
    if principal.kind == "api_key":
        if project is None or principal.api_key_project_id != project_id:
            raise ProjectNotFound()
        needed = scope or SCOPE_FOR_ROLE.get(min_role, Scope.admin)
        if needed.value not in principal.scopes:
            raise Forbidden(details={"required_scope": needed.value})
        if min_role == Role.owner:
            raise Forbidden(details={"required_role": min_role.value})
        if Scope.admin.value in principal.scopes:
            role = Role.admin
        elif Scope.write.value in principal.scopes:
            role = Role.developer
        else:
            role = Role.viewer
        return ProjectAccess(project=project, principal=principal, role=role)
    member = repo.get_member(db, project_id, principal.user_id) if principal.user_id else None
    if project is None or member is None:
        raise ProjectNotFound()
    role = Role(member.role)
    if not role.at_least(min_role):
        raise Forbidden(details={"required_role": min_role.value, "your_role": role.value})
    return ProjectAccess(project=project, principal=principal, role=role)


def create_project(db: Session, principal: Principal, *, name: str, description: str) -> Project:
    if principal.user_id is None:
        raise Forbidden("Only platform users can create projects")
    project = Project(name=name, description=description, settings={}, created_by=principal.user_id)
    db.add(project)
    db.flush()
    db.add(ProjectMember(project_id=project.id, user_id=principal.user_id, role=Role.owner.value))
    db.flush()
    return project


def list_projects(db: Session, principal: Principal) -> Select[Project, str]:
    if principal.user_id is None:
        raise Forbidden("API keys cannot list projects")
    return repo.projects_of_user(db, principal.user_id)


def update_project(db: Session, project: Project, changes: dict[str, Any]) -> Project:
    for key in ("name", "description", "settings"):
        if key in changes:
            setattr(project, key, changes[key])
    db.flush()
    return project


def delete_project(db: Session, project: Project) -> list[str]:
    """Delete the project and, by cascade, every row it holds. Its files' blob references
    are released first, so the collector can reclaim the bytes after the grace period.
    Returns the storage keys of its backup archives, for the caller to remove after the
    commit."""
    keys = list(db.scalars(select(Backup.file_path).where(Backup.project_id == project.id)))
    release_files(db, project.id)
    repo.delete_project(db, project.id)
    db.flush()
    return keys


def add_member(
    db: Session, access: ProjectAccess, *, email: str, role: Role
) -> tuple[ProjectMember, User]:
    if role == Role.owner and access.role != Role.owner:
        raise Forbidden("Only an owner can add an owner")
    project_id = access.project_id
    user = auth_repo.get_user_by_email(db, email.strip().lower())
    if user is None:
        raise UserNotFound()
    if repo.get_member(db, project_id, user.id) is not None:
        raise AlreadyMember()
    member = ProjectMember(project_id=project_id, user_id=user.id, role=role.value)
    db.add(member)
    db.flush()
    return member, user


def _require_member(db: Session, project_id: int, user_id: int) -> ProjectMember:
    member = repo.get_member(db, project_id, user_id)
    if member is None:
        raise MemberNotFound()
    return member


def _guard_owner_change(db: Session, access: ProjectAccess, member: ProjectMember) -> None:
    """Only owners touch owners, and the last owner stays."""
    if member.role != Role.owner.value:
        return
    if access.role != Role.owner:
        raise Forbidden("Only an owner can change or remove an owner")
    if list(repo.owner_ids(db, member.project_id)) == [member.user_id]:
        raise LastOwner()


def change_role(
    db: Session, access: ProjectAccess, user_id: int, role: Role
) -> tuple[ProjectMember, User]:
    member = _require_member(db, access.project_id, user_id)
    if role == Role.owner and access.role != Role.owner:
        raise Forbidden("Only an owner can make someone an owner")
    if role != Role.owner:
        _guard_owner_change(db, access, member)
    member.role = role.value
    db.flush()
    user = auth_repo.get_user(db, user_id)
    assert user is not None
    return member, user


def remove_member(db: Session, access: ProjectAccess, user_id: int) -> None:
    member = _require_member(db, access.project_id, user_id)
    _guard_owner_change(db, access, member)
    db.delete(member)
    db.flush()


def members(db: Session, project_id: int) -> Select[ProjectMember, User]:
    return repo.members_of_project(db, project_id)


def owners(db: Session, project_id: int) -> Sequence[int]:
    return repo.owner_ids(db, project_id)

"""SQL for projects and memberships."""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy import Select, delete, select
from sqlalchemy.orm import Session

from cloudbox.auth.models import User
from cloudbox.projects.models import Project, ProjectMember


def get_project(db: Session, project_id: int) -> Project | None:
    return db.get(Project, project_id)


def get_member(db: Session, project_id: int, user_id: int) -> ProjectMember | None:
    return db.get(ProjectMember, (project_id, user_id))


def projects_of_user(db: Session, user_id: int) -> Select[Project, str]:
    return (
        select(Project, ProjectMember.role)
        .join(ProjectMember, ProjectMember.project_id == Project.id)
        .where(ProjectMember.user_id == user_id)
    )


def members_of_project(db: Session, project_id: int) -> Select[ProjectMember, User]:
    return (
        select(ProjectMember, User)
        .join(User, User.id == ProjectMember.user_id)
        .where(ProjectMember.project_id == project_id)
    )


def owner_ids(db: Session, project_id: int) -> Sequence[int]:
    return db.scalars(
        select(ProjectMember.user_id).where(
            ProjectMember.project_id == project_id, ProjectMember.role == "owner"
        )
    ).all()


def delete_project(db: Session, project_id: int) -> None:
    db.execute(delete(Project).where(Project.id == project_id))

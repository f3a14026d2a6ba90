"""SQL for app users, their sessions, auth settings and sign-in failure counters."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Select, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from cloudbox.appusers.models import AppAuthSettings, AppLoginFailure, AppSession, AppUser
from cloudbox.projects.models import Project


def project_exists(db: Session, project_id: int) -> bool:
    return db.scalar(select(Project.id).where(Project.id == project_id)) is not None


def get_user(db: Session, project_id: int, user_id: str) -> AppUser | None:
    return db.get(AppUser, (project_id, user_id))


def get_user_by_email(db: Session, project_id: int, email: str) -> AppUser | None:
    return db.scalar(
        select(AppUser).where(AppUser.project_id == project_id, AppUser.email == email)
    )


def get_user_by_username(db: Session, project_id: int, username: str) -> AppUser | None:
    return db.scalar(
        select(AppUser).where(AppUser.project_id == project_id, AppUser.username == username)
    )


def users_of_project(project_id: int) -> Select[AppUser]:
    return select(AppUser).where(AppUser.project_id == project_id)


def find_session(
    db: Session, project_id: int, token_hash: str
) -> tuple[AppSession, AppUser] | None:
    row = db.execute(
        select(AppSession, AppUser)
        .join(
            AppUser,
            (AppUser.project_id == AppSession.project_id) & (AppUser.id == AppSession.user_id),
        )
        .where(AppSession.project_id == project_id, AppSession.token_hash == token_hash)
    ).first()
    return (row[0], row[1]) if row else None


def revoke_session(db: Session, project_id: int, session_id: str, when: datetime) -> None:
    db.execute(
        update(AppSession)
        .where(
            AppSession.project_id == project_id,
            AppSession.id == session_id,
            AppSession.revoked_at.is_(None),
        )
        .values(revoked_at=when)
    )


def revoke_user_sessions(db: Session, project_id: int, user_id: str, when: datetime) -> None:
    db.execute(
        update(AppSession)
        .where(
            AppSession.project_id == project_id,
            AppSession.user_id == user_id,
            AppSession.revoked_at.is_(None),
        )
        .values(revoked_at=when)
    )


def get_settings(db: Session, project_id: int) -> AppAuthSettings | None:
    return db.get(AppAuthSettings, (project_id, "default"))


def get_login_failure(db: Session, project_id: int, email: str) -> AppLoginFailure | None:
    return db.get(AppLoginFailure, (project_id, email))


def lock_login_failure(db: Session, project_id: int, email: str, now: datetime) -> AppLoginFailure:
    """The counter row for (project, email), created if missing and locked for update, so
    concurrent failed sign-ins neither collide on insert nor lose increments."""
    values = {
        "project_id": project_id,
        "email": email,
        "failures": 0,
        "window_started_at": now,
        "locked_until": None,
    }
    dialect = db.get_bind().dialect.name
    if dialect == "postgresql":
        db.execute(postgresql.insert(AppLoginFailure).values(**values).on_conflict_do_nothing())
    elif dialect == "sqlite":
        db.execute(sqlite.insert(AppLoginFailure).values(**values).on_conflict_do_nothing())
    elif get_login_failure(db, project_id, email) is None:
        db.add(AppLoginFailure(**values))
        db.flush()
    row = db.scalar(
        select(AppLoginFailure)
        .where(AppLoginFailure.project_id == project_id, AppLoginFailure.email == email)
        .with_for_update()
        .execution_options(populate_existing=True)
    )
    assert row is not None
    return row


def delete_login_failure(db: Session, project_id: int, email: str) -> None:
    row = get_login_failure(db, project_id, email)
    if row is not None:
        db.delete(row)

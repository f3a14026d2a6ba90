"""The per-project job lock: a row whose primary key is the project id."""

from __future__ import annotations

from sqlalchemy import delete, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from cloudbox.errors import Conflict
from cloudbox.jobs.models import ProjectJobLock


class JobInProgress(Conflict):
    code = "BACKUP_IN_PROGRESS"
    message = "A backup or restore is already running on this project"


def holder(db: Session, project_id: int) -> ProjectJobLock | None:
    return db.get(ProjectJobLock, project_id)


def acquire(db: Session, project_id: int, kind: str, job_id: int) -> None:
    """Take the lock inside the caller's transaction; a concurrent holder → 409.

    The savepoint keeps the caller's transaction usable on PostgreSQL when the insert
    loses a race with another process.
    """
    current = holder(db, project_id)
    if current is not None:
        raise JobInProgress(details={"running": {"kind": current.kind, "id": current.job_id}})
    try:
        with db.begin_nested():
            db.add(ProjectJobLock(project_id=project_id, kind=kind, job_id=job_id))
            db.flush()
    except IntegrityError as exc:
        raise JobInProgress() from exc


def release(db: Session, project_id: int, kind: str, job_id: int) -> None:
    db.execute(
        delete(ProjectJobLock).where(
            ProjectJobLock.project_id == project_id,
            ProjectJobLock.kind == kind,
            ProjectJobLock.job_id == job_id,
        )
    )


def locked_projects(db: Session) -> list[ProjectJobLock]:
    return list(db.scalars(select(ProjectJobLock)))

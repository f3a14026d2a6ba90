"""SQL for delivery configuration."""

from __future__ import annotations

from typing import Any, TypeVar

from sqlalchemy import Select, select
from sqlalchemy.orm import InstrumentedAttribute, Session

from cloudbox.delivery.models import Deployment, GithubRepository, SshKey, WebServer

Row = TypeVar("Row", SshKey, GithubRepository, WebServer, Deployment)

#: How many referencing ids an "in use" error names; enough to act on, bounded in size.
MAX_LISTED_REFERENCES = 20


def get(db: Session, model: type[Row], project_id: int, row_id: str) -> Row | None:
    return db.get(model, (project_id, row_id))


def of_project(model: type[Row], project_id: int) -> Select[Row]:
    return select(model).where(model.project_id == project_id)


def ssh_key_named(db: Session, project_id: int, name: str) -> SshKey | None:
    return db.scalar(select(SshKey).where(SshKey.project_id == project_id, SshKey.name == name))


def referencing_ids(
    db: Session, model: type[Row], column: InstrumentedAttribute[Any], project_id: int, ref: str
) -> list[str]:
    """Ids of `model` rows of the project whose `column` points at `ref` (bounded)."""
    query = (
        select(model.id)
        .where(model.project_id == project_id, column == ref)
        .order_by(model.id)
        .limit(MAX_LISTED_REFERENCES)
    )
    return list(db.scalars(query))

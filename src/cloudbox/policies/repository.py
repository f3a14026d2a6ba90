"""Every SQL statement of the policies domain."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import Select, delete, func, select, update
from sqlalchemy.orm import Session

from cloudbox.backups.models import Backup
from cloudbox.db.query import rowcount
from cloudbox.policies.models import BackupPolicy, DrillProject, PolicyRun, WebhookDelivery
from cloudbox.policies.retention import BackupInfo
from cloudbox.projects.models import Project
from cloudbox.restores.models import Restore

COMPLETED = "completed"


def get_policy(db: Session, policy_id: str) -> BackupPolicy | None:
    return db.scalar(select(BackupPolicy).where(BackupPolicy.id == policy_id))


def policies_of_project(project_id: int) -> Select[BackupPolicy]:
    return select(BackupPolicy).where(BackupPolicy.project_id == project_id)


def count_policies(db: Session, project_id: int) -> int:
    return int(
        db.scalar(
            select(func.count())
            .select_from(BackupPolicy)
            .where(BackupPolicy.project_id == project_id)
        )
        or 0
    )


def due_policies(db: Session, now: datetime) -> Sequence[tuple[int, str]]:
    return db.execute(
        select(BackupPolicy.project_id, BackupPolicy.id).where(
            BackupPolicy.enabled.is_(True), BackupPolicy.next_run_at <= now
        )
    ).all()


def watched_policies(db: Session) -> Sequence[BackupPolicy]:
    """Enabled policies that want a stale-backup notification."""
    return db.scalars(
        select(BackupPolicy).where(
            BackupPolicy.enabled.is_(True),
            BackupPolicy.stale_after_hours.is_not(None),
            BackupPolicy.webhook_url_encrypted.is_not(None),
        )
    ).all()


def claim_stale_notice(
    db: Session, policy: BackupPolicy, reference: datetime, now: datetime
) -> bool:
    """Mark the policy notified for this staleness; the one UPDATE that matches wins."""
    return (
        rowcount(
            db.execute(
                update(BackupPolicy)
                .where(
                    BackupPolicy.project_id == policy.project_id,
                    BackupPolicy.id == policy.id,
                    (BackupPolicy.stale_notified_at.is_(None))
                    | (BackupPolicy.stale_notified_at < reference),
                )
                .values(stale_notified_at=now)
                .execution_options(synchronize_session=False)
            )
        )
        == 1
    )


def newest_completed_at(db: Session, project_id: int) -> datetime | None:
    return db.scalar(
        select(func.max(Backup.created_at)).where(
            Backup.project_id == project_id, Backup.status == COMPLETED
        )
    )


def backup_infos(db: Session, project_id: int) -> list[BackupInfo]:
    rows = db.execute(
        select(Backup.id, Backup.created_at, Backup.type, Backup.status, Backup.policy_id).where(
            Backup.project_id == project_id
        )
    )
    return [BackupInfo(id=i, created_at=c, type=t, status=s, policy_id=p) for i, c, t, s, p in rows]


def backups_in_use(db: Session, project_id: int) -> set[int]:
    """Backups of the project that a pending or running restore reads."""
    return {
        int(b)
        for b in db.scalars(
            select(Restore.backup_id)
            .join(Backup, Backup.id == Restore.backup_id)
            .where(Backup.project_id == project_id, Restore.status.in_(("pending", "running")))
        )
        if b is not None
    }


def backups_by_id(db: Session, ids: Sequence[int]) -> dict[int, Backup]:
    if not ids:
        return {}
    return {b.id: b for b in db.scalars(select(Backup).where(Backup.id.in_(ids)))}


def run_for_backup(db: Session, backup_id: int, *, lock: bool = False) -> PolicyRun | None:
    query = select(PolicyRun).where(PolicyRun.backup_id == backup_id)
    return db.scalar(query.with_for_update() if lock else query)


def started_runs_with_failed_backup(db: Session) -> list[int]:
    return [
        int(b)
        for b in db.scalars(
            select(PolicyRun.backup_id)
            .join(Backup, Backup.id == PolicyRun.backup_id)
            .where(PolicyRun.status == "started", Backup.status == "failed")
        )
        if b is not None
    ]


def runs_of_policy(policy: BackupPolicy) -> Select[PolicyRun]:
    return select(PolicyRun).where(
        PolicyRun.project_id == policy.project_id, PolicyRun.policy_id == policy.id
    )


def prune_history(db: Session, before: datetime) -> None:
    db.execute(delete(PolicyRun).where(PolicyRun.created_at < before))
    db.execute(
        delete(WebhookDelivery).where(
            WebhookDelivery.created_at < before, WebhookDelivery.status != "pending"
        )
    )


def get_delivery(db: Session, project_id: int, delivery_id: str) -> WebhookDelivery | None:
    return db.get(WebhookDelivery, (project_id, delivery_id), with_for_update=True)


def abandoned_drill_projects(db: Session, before: datetime) -> list[int]:
    return list(db.scalars(select(DrillProject.project_id).where(DrillProject.created_at < before)))


# -- usage -----------------------------------------------------------------------------


def _usage_columns() -> tuple[Any, ...]:
    return (
        func.count(Backup.id),
        func.coalesce(func.sum(Backup.size), 0),
        func.min(Backup.created_at),
        func.max(Backup.created_at),
        func.max(Backup.verified_at),
    )


def usage_by_type(db: Session, project_id: int | None) -> list[tuple[Any, ...]]:
    """(type, count, bytes, oldest, newest, newest_verified) of completed backups."""
    query = select(Backup.type, *_usage_columns()).where(Backup.status == COMPLETED)
    if project_id is not None:
        query = query.where(Backup.project_id == project_id)
    return [tuple(r) for r in db.execute(query.group_by(Backup.type).order_by(Backup.type))]


def usage_projects_query() -> Select[Any]:
    """(project_id, name, count, bytes, oldest, newest, newest_verified) per project with
    completed backups, biggest first."""
    return (
        select(Backup.project_id, Project.name, *_usage_columns())
        .join(Project, Project.id == Backup.project_id)
        .where(Backup.status == COMPLETED)
        .group_by(Backup.project_id, Project.name)
    )


def usage_projects_total(db: Session) -> int:
    return int(
        db.scalar(
            select(func.count(func.distinct(Backup.project_id))).where(Backup.status == COMPLETED)
        )
        or 0
    )


def usage_by_type_per_project(db: Session, project_ids: Sequence[int]) -> list[tuple[Any, ...]]:
    if not project_ids:
        return []
    return [
        tuple(r)
        for r in db.execute(
            select(
                Backup.project_id,
                Backup.type,
                func.count(Backup.id),
                func.coalesce(func.sum(Backup.size), 0),
            )
            .where(Backup.status == COMPLETED, Backup.project_id.in_(project_ids))
            .group_by(Backup.project_id, Backup.type)
        )
    ]

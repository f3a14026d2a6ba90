"""Backup policy use cases: create, update, delete, retention (dry run and apply), and
storage usage. Request-side functions never commit; `apply_retention` is a job step and
owns its transaction."""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any

from sqlalchemy import Select
from sqlalchemy.orm import Session

from cloudbox.audit import service as audit
from cloudbox.audit.service import SYSTEM
from cloudbox.backups import service as backups
from cloudbox.backups.models import Backup
from cloudbox.db.ids import new_id
from cloudbox.db.types import utcnow
from cloudbox.errors import InvalidInput
from cloudbox.policies import cron, retention, webhooks
from cloudbox.policies import repository as repo
from cloudbox.policies.errors import PolicyLimitReached, PolicyNotFound
from cloudbox.policies.models import BackupPolicy

if TYPE_CHECKING:
    from cloudbox.runtime import Runtime

log = logging.getLogger(__name__)

#: policies per project; a handful covers every sensible need (hourly, daily, ...)
MAX_POLICIES_PER_PROJECT = 20
RETENTION_FIELDS = ("keep_last", "keep_daily", "keep_weekly", "keep_monthly", "max_age_days")
Clock = Callable[[], datetime]


def get(db: Session, policy_id: str) -> BackupPolicy:
    row = repo.get_policy(db, policy_id)
    if row is None:
        raise PolicyNotFound()
    return row


def list_query(project_id: int) -> Select[BackupPolicy]:
    return repo.policies_of_project(project_id)


def _set_webhook(runtime: Runtime, row: BackupPolicy, url: str | None, secret: str | None) -> None:
    if url is None:
        row.webhook_url_encrypted = row.webhook_secret_encrypted = row.webhook_origin = None
        return
    target, _ = webhooks.check_target(url, runtime.settings.webhook_allowed_hosts)
    if secret is None and not row.webhook_secret_encrypted:
        raise InvalidInput(
            "A webhook needs a webhook_secret (16 characters or more) to sign its events",
            details={"field": "webhook_secret"},
        )
    row.webhook_url_encrypted = runtime.secrets.encrypt(url.strip(), webhooks.URL_PURPOSE)
    row.webhook_origin = target.origin[:300]
    if secret is not None:
        row.webhook_secret_encrypted = runtime.secrets.encrypt(secret, webhooks.SECRET_PURPOSE)


def _reschedule(row: BackupPolicy, now: datetime) -> None:
    """From now on: a policy saved or re-enabled never fires for slots before it."""
    row.next_run_at = cron.next_slot(row.schedule, cron.zone(row.timezone), now)


def create(
    db: Session,
    runtime: Runtime,
    project_id: int,
    values: dict[str, Any],
    *,
    user_id: int | None,
    now: Clock = utcnow,
) -> BackupPolicy:
    """Validate everything, then insert; the caller commits."""
    schedule = cron.validate(values["schedule"], values["timezone"])
    if repo.count_policies(db, project_id) >= MAX_POLICIES_PER_PROJECT:
        raise PolicyLimitReached(details={"max_policies": MAX_POLICIES_PER_PROJECT})
    row = BackupPolicy(
        project_id=project_id,
        id=new_id(),
        name=values["name"],
        schedule=schedule,
        timezone=values["timezone"],
        enabled=values["enabled"],
        verify_after_backup=values["verify_after_backup"],
        restore_drill=values["restore_drill"],
        stale_after_hours=values.get("stale_after_hours"),
        created_by=user_id,
        **{name: values["retention"].get(name) for name in RETENTION_FIELDS},
    )
    _set_webhook(runtime, row, values.get("webhook_url"), values.get("webhook_secret"))
    if row.stale_after_hours is not None and row.webhook_url_encrypted is None:
        raise InvalidInput(
            "stale_after_hours needs a webhook_url to notify",
            details={"field": "stale_after_hours"},
        )
    _reschedule(row, now())
    db.add(row)
    db.flush()
    return row


_NOT_NULL = (
    "name",
    "schedule",
    "timezone",
    "enabled",
    "verify_after_backup",
    "restore_drill",
    "retention",
)


def update(
    db: Session,
    runtime: Runtime,
    row: BackupPolicy,
    changes: dict[str, Any],
    *,
    now: Clock = utcnow,
) -> BackupPolicy:
    """Apply the fields present in `changes` (null clears webhook and stale settings)."""
    for name in _NOT_NULL:
        if name in changes and changes[name] is None:
            raise InvalidInput(f"{name} cannot be null", details={"field": name})
    schedule = changes.get("schedule", row.schedule)
    timezone = changes.get("timezone", row.timezone)
    schedule = cron.validate(schedule, timezone)
    if "webhook_url" in changes or changes.get("webhook_secret") is not None:
        url = changes.get("webhook_url") if "webhook_url" in changes else _current_url(runtime, row)
        _set_webhook(runtime, row, url, changes.get("webhook_secret"))
    stale = changes.get("stale_after_hours", row.stale_after_hours)
    if stale is not None and row.webhook_url_encrypted is None:
        raise InvalidInput(
            "stale_after_hours needs a webhook_url to notify",
            details={"field": "stale_after_hours"},
        )
    timing_changed = (
        schedule != row.schedule
        or timezone != row.timezone
        or (changes.get("enabled") is True and not row.enabled)
    )
    row.schedule, row.timezone = schedule, timezone
    for name in ("name", "enabled", "verify_after_backup", "restore_drill"):
        if name in changes:
            setattr(row, name, changes[name])
    if "stale_after_hours" in changes:
        row.stale_after_hours = changes["stale_after_hours"]
    for name, value in (changes.get("retention") or {}).items():
        if name in RETENTION_FIELDS:
            setattr(row, name, value)
    if timing_changed:
        _reschedule(row, now())
    row.updated_at = utcnow()
    db.flush()
    return row


def _current_url(runtime: Runtime, row: BackupPolicy) -> str | None:
    if not row.webhook_url_encrypted:
        return None
    return runtime.secrets.decrypt_text(row.webhook_url_encrypted, webhooks.URL_PURPOSE)


def delete(db: Session, row: BackupPolicy) -> None:
    """The policy and its history go; its backups stay (as automatic backups whose
    `policy_id` names a policy that no longer exists, never pruned again)."""
    db.delete(row)
    db.flush()


# -- retention -------------------------------------------------------------------------


def rule_of(row: BackupPolicy, overrides: Mapping[str, int | None] | None = None) -> retention.Rule:
    values = {name: getattr(row, name) for name in RETENTION_FIELDS}
    values.update(overrides or {})
    return retention.Rule(**values)


def plan_retention(
    db: Session,
    row: BackupPolicy,
    now: datetime,
    rule: retention.Rule | None = None,
) -> retention.Plan:
    return retention.plan(
        repo.backup_infos(db, row.project_id),
        row.id,
        rule or rule_of(row),
        now=now,
        tz=cron.zone(row.timezone),
        in_use=repo.backups_in_use(db, row.project_id),
    )


@dataclass(frozen=True)
class Pruned:
    backup_id: int
    size: int | None
    reason: str


def apply_retention(runtime: Runtime, policy_id: str, now: datetime) -> list[Pruned]:
    """Delete what the policy's rule says, in one transaction, then the archives."""
    pruned: list[Pruned] = []
    keys: list[str] = []
    with runtime.db.transaction() as db:
        row = repo.get_policy(db, policy_id)
        if row is None:
            return []
        plan = plan_retention(db, row, now)
        found = repo.backups_by_id(db, sorted(plan.delete))
        for backup_id, reason in sorted(plan.delete.items()):
            backup = found.get(backup_id)
            if backup is None or backup.status != backups.STATUS_COMPLETED:
                continue
            keys.append(backups.delete(db, backup))
            pruned.append(Pruned(backup_id, backup.size, reason))
            audit.record(
                db,
                row.project_id,
                action="backups.retention_delete",
                resource="backups",
                resource_id=str(backup_id),
                actor=SYSTEM,
                details={
                    "policy_id": row.id,
                    "name": backup.name,
                    "size": backup.size,
                    "reason": reason,
                },
            )
    for key in keys:
        backups.remove_archive(runtime.archives, key)
    return pruned


def retention_items(
    db: Session, plan: retention.Plan
) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    found = repo.backups_by_id(db, [*plan.keep, *plan.delete])

    def item(backup: Backup, reasons: list[str]) -> dict[str, Any]:
        return {
            "backup_id": backup.id,
            "name": backup.name,
            "created_at": backup.created_at,
            "size": backup.size,
            "reasons": reasons,
        }

    def newest_first(items: list[dict[str, Any]]) -> list[dict[str, Any]]:
        return sorted(items, key=lambda i: (i["created_at"], i["backup_id"]), reverse=True)

    keep = [item(found[i], r) for i, r in plan.keep.items() if i in found]
    delete_ = [item(found[i], [r]) for i, r in plan.delete.items() if i in found]
    return newest_first(keep), newest_first(delete_)


# -- usage -----------------------------------------------------------------------------


def _summary(rows: list[tuple[Any, ...]], quota: int) -> dict[str, Any]:
    by_type = {str(r[0]): {"count": int(r[1]), "total_bytes": int(r[2])} for r in rows}
    oldest = [r[3] for r in rows if r[3] is not None]
    newest = [r[4] for r in rows if r[4] is not None]
    verified = [r[5] for r in rows if r[5] is not None]
    return {
        "count": sum(v["count"] for v in by_type.values()),
        "total_bytes": sum(v["total_bytes"] for v in by_type.values()),
        "by_type": by_type,
        "oldest": min(oldest) if oldest else None,
        "newest": max(newest) if newest else None,
        "newest_verified_at": max(verified) if verified else None,
        "quota_bytes": quota or None,
    }


def project_usage(db: Session, runtime: Runtime, project_id: int) -> dict[str, Any]:
    return _summary(repo.usage_by_type(db, project_id), runtime.settings.backup_quota_bytes)


def server_usage(db: Session, runtime: Runtime) -> dict[str, Any]:
    out = _summary(repo.usage_by_type(db, None), runtime.settings.backup_quota_bytes)
    try:
        out["storage_free_bytes"] = runtime.archives.free_bytes()
    except Exception:
        log.exception("could not read the archive storage's free space")
        out["storage_free_bytes"] = None
    return out


def project_usage_rows(
    db: Session, runtime: Runtime, rows: list[tuple[Any, ...]]
) -> list[dict[str, Any]]:
    """Per-project summaries for one page of `repository.usage_projects_query()`."""
    quota = runtime.settings.backup_quota_bytes or None
    by_type: dict[int, dict[str, dict[str, int]]] = {}
    for project_id, type_, count, size in repo.usage_by_type_per_project(
        db, [int(r[0]) for r in rows]
    ):
        by_type.setdefault(int(project_id), {})[str(type_)] = {
            "count": int(count),
            "total_bytes": int(size),
        }
    return [
        {
            "project_id": int(r[0]),
            "project_name": r[1],
            "count": int(r[2]),
            "total_bytes": int(r[3]),
            "by_type": by_type.get(int(r[0]), {}),
            "oldest": r[4],
            "newest": r[5],
            "newest_verified_at": r[6],
            "quota_bytes": quota,
        }
        for r in rows
    ]

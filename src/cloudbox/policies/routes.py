"""Backup policy endpoints (admins), storage usage (project developers; the server-wide
view for platform admins)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Path, Query, Request, Response, status
from sqlalchemy import func

from cloudbox.api.deps import (
    DbDep,
    PrincipalDep,
    RuntimeDep,
    authorize_resource,
    project_access,
)
from cloudbox.api.pagination import PageDep, paged
from cloudbox.backups.models import Backup
from cloudbox.db.types import utcnow
from cloudbox.errors import Forbidden
from cloudbox.policies import repository as repo
from cloudbox.policies import service
from cloudbox.policies.errors import PolicyNotFound
from cloudbox.policies.models import BackupPolicy, PolicyRun
from cloudbox.policies.schemas import (
    MAX_KEEP,
    PolicyCreate,
    PolicyOut,
    PolicyUpdate,
    ProjectUsageOut,
    RetentionItem,
    RetentionOut,
    RetentionPreview,
    RunOut,
    ServerUsageOut,
    UsageOut,
)
from cloudbox.projects.roles import Role, Scope
from cloudbox.projects.service import ProjectAccess

router = APIRouter(tags=["backup policies"])
_NOT_FOUND: dict[int | str, dict[str, Any]] = {
    404: {"description": "POLICY_NOT_FOUND (also for non-members)"}
}
PolicyId = Annotated[str, Path(min_length=1, max_length=40, pattern=r"^[0-9a-z]+$")]
ProjectAdmin = Annotated[
    ProjectAccess, Depends(project_access(Role.admin, Scope.backups, guard_restore=False))
]
ProjectDeveloper = Annotated[
    ProjectAccess, Depends(project_access(Role.developer, Scope.backups, guard_restore=False))
]
_ORDER = {
    "created_at": BackupPolicy.created_at,
    "name": BackupPolicy.name,
    "next_run_at": BackupPolicy.next_run_at,
}
_RUN_ORDER = {"slot_time": PolicyRun.slot_time, "created_at": PolicyRun.created_at}
_VERBS = {"PATCH": "update", "DELETE": "delete"}


@dataclass(frozen=True)
class PolicyAccess:
    policy: BackupPolicy
    access: ProjectAccess


def policy_access(min_role: Role) -> Callable[..., PolicyAccess]:
    """The policy named in the path, if the caller may manage its project; someone who is
    not a member gets POLICY_NOT_FOUND, as for a policy that does not exist."""

    def dependency(
        policy_id: PolicyId, request: Request, db: DbDep, principal: PrincipalDep
    ) -> PolicyAccess:
        row = repo.get_policy(db, policy_id)
        if row is None:
            raise PolicyNotFound()
        access = authorize_resource(
            request,
            db,
            principal,
            row.project_id,
            min_role,
            not_found=PolicyNotFound,
            resource="backup_policies",
            resource_id=row.id,
        )
        if request.method in _VERBS:
            request.state.audit_action = f"backup_policies.{_VERBS[request.method]}"
        return PolicyAccess(policy=row, access=access)

    return dependency


PolicyAdmin = Annotated[PolicyAccess, Depends(policy_access(Role.admin))]


@router.get("/api/projects/{project_id}/backup-policies", response_model=list[PolicyOut])
def list_policies(
    access: ProjectAdmin, db: DbDep, response: Response, page: PageDep
) -> list[PolicyOut]:
    query = service.list_query(access.project_id)
    rows = db.scalars(
        paged(db, response, query, page, _ORDER, BackupPolicy.created_at.asc()).order_by(
            BackupPolicy.id
        )
    )
    return [PolicyOut.of(row) for row in rows]


@router.post(
    "/api/projects/{project_id}/backup-policies",
    status_code=status.HTTP_201_CREATED,
    response_model=PolicyOut,
    responses={
        409: {"description": "POLICY_LIMIT_REACHED"},
        422: {
            "description": "VALIDATION_ERROR, INVALID_SCHEDULE, INVALID_TIMEZONE, "
            "INVALID_WEBHOOK_URL or WEBHOOK_TARGET_FORBIDDEN"
        },
    },
)
def create_policy(
    access: ProjectAdmin, body: PolicyCreate, db: DbDep, runtime: RuntimeDep, request: Request
) -> PolicyOut:
    values = body.model_dump()
    values["webhook_secret"] = (
        body.webhook_secret.get_secret_value() if body.webhook_secret else None
    )
    row = service.create(db, runtime, access.project_id, values, user_id=access.principal.user_id)
    db.commit()
    request.state.audit_resource_id = row.id
    return PolicyOut.of(row)


@router.get("/api/backup-policies/{policy_id}", response_model=PolicyOut, responses=_NOT_FOUND)
def get_policy(found: PolicyAdmin) -> PolicyOut:
    return PolicyOut.of(found.policy)


@router.patch(
    "/api/backup-policies/{policy_id}",
    response_model=PolicyOut,
    responses={
        **_NOT_FOUND,
        422: {
            "description": "VALIDATION_ERROR, INVALID_SCHEDULE, INVALID_TIMEZONE, "
            "INVALID_WEBHOOK_URL or WEBHOOK_TARGET_FORBIDDEN"
        },
    },
)
def update_policy(
    found: PolicyAdmin, body: PolicyUpdate, db: DbDep, runtime: RuntimeDep
) -> PolicyOut:
    changes = {name: getattr(body, name) for name in body.model_fields_set}
    if "retention" in changes and body.retention is not None:
        changes["retention"] = {
            name: getattr(body.retention, name) for name in body.retention.model_fields_set
        }
    if body.webhook_secret is not None:
        changes["webhook_secret"] = body.webhook_secret.get_secret_value()
    row = service.update(db, runtime, found.policy, changes)
    db.commit()
    return PolicyOut.of(row)


@router.delete(
    "/api/backup-policies/{policy_id}",
    status_code=status.HTTP_204_NO_CONTENT,
    responses=_NOT_FOUND,
)
def delete_policy(found: PolicyAdmin, db: DbDep) -> None:
    service.delete(db, found.policy)
    db.commit()


@router.get(
    "/api/backup-policies/{policy_id}/runs", response_model=list[RunOut], responses=_NOT_FOUND
)
def list_runs(found: PolicyAdmin, db: DbDep, response: Response, page: PageDep) -> list[RunOut]:
    query = repo.runs_of_policy(found.policy)
    rows = db.scalars(
        paged(db, response, query, page, _RUN_ORDER, PolicyRun.slot_time.desc()).order_by(
            PolicyRun.id.desc()
        )
    )
    return [RunOut.of(row) for row in rows]


KeepParam = Annotated[int | None, Query(ge=1, le=MAX_KEEP)]


@router.get(
    "/api/backup-policies/{policy_id}/retention/dry-run",
    response_model=RetentionPreview,
    responses=_NOT_FOUND,
)
def retention_dry_run(
    found: PolicyAdmin,
    db: DbDep,
    keep_last: KeepParam = None,
    keep_daily: KeepParam = None,
    keep_weekly: KeepParam = None,
    keep_monthly: KeepParam = None,
    max_age_days: Annotated[int | None, Query(ge=1, le=36_500)] = None,
) -> RetentionPreview:
    """What retention would delete now, without deleting anything. Query parameters
    replace the policy's saved values for this preview only."""
    overrides = {
        name: value
        for name, value in {
            "keep_last": keep_last,
            "keep_daily": keep_daily,
            "keep_weekly": keep_weekly,
            "keep_monthly": keep_monthly,
            "max_age_days": max_age_days,
        }.items()
        if value is not None
    }
    rule = service.rule_of(found.policy, overrides)
    now = utcnow()
    plan = service.plan_retention(db, found.policy, now, rule)
    keep, delete = service.retention_items(db, plan)
    return RetentionPreview(
        policy_id=found.policy.id,
        evaluated_at=now,
        retention=RetentionOut(
            keep_last=rule.keep_last,
            keep_daily=rule.keep_daily,
            keep_weekly=rule.keep_weekly,
            keep_monthly=rule.keep_monthly,
            max_age_days=rule.max_age_days,
        ),
        keep=[RetentionItem(**item) for item in keep],
        delete=[RetentionItem(**item) for item in delete],
        delete_bytes=sum(int(item["size"] or 0) for item in delete),
    )


@router.get("/api/projects/{project_id}/backups/usage", response_model=UsageOut)
def project_usage(access: ProjectDeveloper, db: DbDep, runtime: RuntimeDep) -> UsageOut:
    return UsageOut(**service.project_usage(db, runtime, access.project_id))


_USAGE_ORDER: dict[str, Any] = {
    "total_bytes": func.coalesce(func.sum(Backup.size), 0),
    "count": func.count(Backup.id),
    "newest": func.max(Backup.created_at),
    "project_id": Backup.project_id,
}


@router.get(
    "/api/admin/backups/usage",
    response_model=ServerUsageOut,
    responses={403: {"description": "INSUFFICIENT_PERMISSIONS: not a platform admin"}},
)
def server_usage(
    principal: PrincipalDep, db: DbDep, runtime: RuntimeDep, response: Response, page: PageDep
) -> ServerUsageOut:
    """Every project's backup storage. Platform admins only."""
    if principal.kind != "user" or not principal.is_platform_admin:
        raise Forbidden("Only platform admins can see the server's backup usage")
    totals = service.server_usage(db, runtime)
    query = repo.usage_projects_query()
    rows = [
        tuple(r)
        for r in db.execute(
            paged(
                db, response, query, page, _USAGE_ORDER, _USAGE_ORDER["total_bytes"].desc()
            ).order_by(Backup.project_id)
        )
    ]
    per_project = service.project_usage_rows(db, runtime, rows)
    return ServerUsageOut(**totals, projects=[ProjectUsageOut(**p) for p in per_project])

"""The restore drill: the new backup is restored into a throwaway project and compared;
the result lands on the backup (`drill: {ok, checked_at}`), the throwaway project is
gone afterwards, and a drill that finds a difference fails and notifies."""

from __future__ import annotations

from typing import Any

import pytest
from sqlalchemy import delete, func, select

from cloudbox.backups.models import Backup
from cloudbox.policies import drill, runner, scheduler, service, webhooks
from cloudbox.policies.models import PolicyRun, WebhookDelivery
from cloudbox.projects.models import Project
from cloudbox.runtime import Runtime
from tests.plugins.api import Account
from tests.plugins.populate import populate
from tests.policies.helpers import SECRET, Clock, make_policy


def _fire(runtime: Runtime, policy_id: str) -> int:
    with runtime.db.session() as db:
        due = service.get(db, policy_id).next_run_at
    assert due is not None
    clock = Clock(due)
    (fired,) = scheduler.tick(
        runtime,
        now=clock,
        enqueue=lambda backup_id: runner.run_policy_backup(runtime, backup_id, now=clock),
    )
    assert fired.backup_id is not None
    return fired.backup_id


def _projects(runtime: Runtime) -> int:
    with runtime.db.session() as db:
        return int(db.scalar(select(func.count()).select_from(Project)) or 0)


def test_drill_restores_compares_and_cleans_up(
    account: Account, project: dict[str, Any], runtime: Runtime
) -> None:
    pid = project["id"]
    populate(account, pid, file_sizes=(70_000, 10, 0), documents=5)
    policy = make_policy(account, pid, restore_drill=True, retention={"keep_last": 3})
    backup_id = _fire(runtime, policy["id"])
    backup = account.get(f"/api/backups/{backup_id}").json()
    assert backup["status"] == "completed" and backup["verified_at"] is not None
    assert backup["drill"]["ok"] is True, backup["drill"]
    assert backup["drill"]["problems"] == [] and backup["drill"]["checked_at"]
    assert _projects(runtime) == 1 and drill.drill_projects_count(runtime) == 0
    with runtime.db.session() as db:
        run = db.scalar(select(PolicyRun))
        assert run is not None and run.status == "completed"
        assert run.details["pruned"] == []


def test_a_drill_that_finds_a_difference_fails(
    account: Account,
    project: dict[str, Any],
    runtime: Runtime,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    pid = project["id"]
    populate(account, pid, file_sizes=(10,), documents=3)
    policy = make_policy(
        account,
        pid,
        restore_drill=True,
        retention={"keep_last": 1},
        webhook_url="http://127.0.0.1:9/x",
        webhook_secret=SECRET,
    )
    real_restore = drill.restores.run_restore

    def lossy_restore(rt: Runtime, restore_id: int) -> None:
        real_restore(rt, restore_id)
        with rt.db.transaction() as db:
            target = drill.restores.get(db, restore_id).target_project_id
            documents = Backup.metadata.tables["documents"]
            db.execute(delete(documents).where(documents.c.project_id == target))

    monkeypatch.setattr(drill.restores, "run_restore", lossy_restore)
    first = _fire(runtime, policy["id"])
    body = account.get(f"/api/backups/{first}").json()
    assert body["drill"]["ok"] is False
    assert body["drill"]["problems"] == ["documents: restored rows differ from the archive"]
    assert _projects(runtime) == 1 and drill.drill_projects_count(runtime) == 0
    with runtime.db.session() as db:
        (delivery,) = db.scalars(select(WebhookDelivery))
        assert delivery.event == webhooks.EVENT_DRILL_FAILED
        run = db.scalar(select(PolicyRun).where(PolicyRun.backup_id == first))
        assert run is not None and (run.status, run.reason) == ("failed", "DRILL_FAILED")
    # retention does not run after a failed drill
    second = _fire(runtime, policy["id"])
    assert account.get(f"/api/backups/{first}").status_code == 200
    assert account.get(f"/api/backups/{second}").json()["drill"]["ok"] is False


def test_abandoned_drill_projects_are_removed(runtime: Runtime) -> None:
    from datetime import timedelta

    from cloudbox.db.types import utcnow

    now = utcnow()
    with runtime.db.transaction() as db:
        fresh = Project(name="fresh drill", description="", settings={})
        stale = Project(name="stale drill", description="", settings={})
        db.add_all([fresh, stale])
        db.flush()
        db.add(drill.DrillProject(project_id=fresh.id, backup_id=1, created_at=now))
        db.add(
            drill.DrillProject(project_id=stale.id, backup_id=2, created_at=now - timedelta(days=1))
        )
        ids = (fresh.id, stale.id)
    assert drill.clean_abandoned(runtime, now) == [ids[1]]
    with runtime.db.session() as db:
        assert db.get(Project, ids[0]) is not None and db.get(Project, ids[1]) is None

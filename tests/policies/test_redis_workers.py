"""The scale-out shape: two `cloudbox worker` processes on Redis tick concurrently (their
own periodic ticks at start plus many queued ones); every due slot fires exactly once,
counted in backups."""

from __future__ import annotations

import time
import uuid
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import pytest
from sqlalchemy import func, select, update

from cloudbox.backups.models import Backup
from cloudbox.config import Settings
from cloudbox.db.types import utcnow
from cloudbox.policies import service
from cloudbox.policies.models import BackupPolicy, PolicyRun
from cloudbox.projects.models import Project
from cloudbox.runtime import Runtime
from tests.plugins.server import redis_url_or_skip, start_worker

pytestmark = [pytest.mark.integration]


@pytest.fixture
def redis_runtime(settings: Settings) -> Iterator[Runtime]:
    if settings.is_sqlite:
        pytest.skip("the scale-out shape is PostgreSQL and Redis")
    scaled = settings.model_copy(
        update={"redis_url": redis_url_or_skip(), "queue_name": f"test-{uuid.uuid4().hex}"}
    )
    rt = Runtime.build(scaled)
    yield rt
    rt.queue.flush()
    rt.close()


def _due_policy(runtime: Runtime, name: str) -> str:
    """A project with a yearly policy whose 1 January slot is due now."""
    with runtime.db.transaction() as db:
        project = Project(name=name, description="", settings={})
        db.add(project)
        db.flush()
        policy = service.create(
            db,
            runtime,
            project.id,
            {
                "name": name,
                "schedule": "0 0 1 1 *",
                "timezone": "UTC",
                "enabled": True,
                "verify_after_backup": True,
                "restore_drill": False,
                "retention": {"keep_last": 5},
            },
            user_id=None,
        )
        policy_id = policy.id
        db.execute(
            update(BackupPolicy)
            .where(BackupPolicy.id == policy_id)
            .values(next_run_at=utcnow() - timedelta(days=800))  # missed two slots
        )
    return policy_id


def test_two_workers_never_run_a_slot_twice(redis_runtime: Runtime, tmp_path: Path) -> None:
    runtime = redis_runtime
    settings = runtime.settings
    policies = [_due_policy(runtime, f"p{n}") for n in range(3)]
    env = {
        "CLOUDBOX_REDIS_URL": settings.redis_url or "",
        "CLOUDBOX_QUEUE_NAME": settings.queue_name,
        "CLOUDBOX_DATABASE_URL": settings.resolved_database_url,
        "CLOUDBOX_JOB_PROGRESS_INTERVAL_SECONDS": "0.1",
    }
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    workers = [start_worker(settings.data_dir, env) for _ in range(2)]
    try:
        for _ in range(20):  # more ticks racing, as a minute's worth from many workers
            runtime.enqueue("policy_tick")
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            with runtime.db.session() as db:
                done = db.scalar(
                    select(func.count())
                    .select_from(Backup)
                    .where(Backup.status == "completed", Backup.verified_at.is_not(None))
                )
            if done == 3 and runtime.queue.pending_count() == 0:
                break
            time.sleep(0.2)
        time.sleep(1)  # any straggling tick would have fired by now
    finally:
        for worker in workers:
            worker.terminate()
        for worker in workers:
            worker.wait(30)
    with runtime.db.session() as db:
        backups = list(db.scalars(select(Backup)))
        runs = list(db.scalars(select(PolicyRun)))
    assert sorted(b.policy_id or "" for b in backups) == sorted(policies)
    assert all(b.status == "completed" and b.type == "automatic" for b in backups)
    assert sorted(r.policy_id for r in runs) == sorted(policies)
    assert {r.slot_time.strftime("%m-%d %H:%M") for r in runs} == {"01-01 00:00"}
    logs = [p.read_text(errors="replace") for p in settings.data_dir.glob("worker-*.log")]
    assert len(logs) == 2
    assert all("cloudbox.policies.tick" in log for log in logs), logs  # both raced

"""The scheduler with an injected clock: a simulated day of a `*/5` policy, missed slots
collapsing into one run, slots skipped while a job runs, one slot fired once by many
concurrent ticks, and cron evaluation across DST changes."""

from __future__ import annotations

import itertools
import threading
from datetime import datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import func, select

from cloudbox.backups.models import Backup
from cloudbox.jobs import locks
from cloudbox.policies import cron, retention, runner, scheduler, service
from cloudbox.policies.models import BackupPolicy, PolicyRun
from cloudbox.projects.models import Project
from cloudbox.runtime import Runtime
from tests.policies.helpers import Clock, at


def _start_at(runtime: Runtime, policy_id: str, now: datetime) -> None:
    """Make the policy's schedule start at the simulated `now`."""
    with runtime.db.transaction() as db:
        policy = db.scalar(select(BackupPolicy).where(BackupPolicy.id == policy_id))
        assert policy is not None
        policy.next_run_at = cron.next_slot(policy.schedule, cron.zone(policy.timezone), now)


def _sync(runtime: Runtime, clock: Clock) -> scheduler.Enqueue:
    def run(backup_id: int) -> None:
        runner.run_policy_backup(runtime, backup_id, now=clock)

    return run


def fake_run_backup(runtime: Runtime, backup_id: int) -> None:
    """Completes the backup at once with a made-up archive: the simulated day tests
    scheduling and retention; real archives are tested once per policy elsewhere."""
    with runtime.db.transaction() as db:
        row = db.get(Backup, backup_id)
        assert row is not None and row.status == "creating"
        row.status, row.phase = "completed", "completed"
        row.size, row.checksum = 1000 + backup_id, "sha256:" + "0" * 64
        row.completed_at = row.created_at
        locks.release(db, row.project_id, "backup", backup_id)


@pytest.fixture
def fast_backups(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(runner.backups, "run_backup", fake_run_backup)


def _runs(runtime: Runtime, policy_id: str) -> list[PolicyRun]:
    with runtime.db.session() as db:
        return list(
            db.scalars(
                select(PolicyRun)
                .where(PolicyRun.policy_id == policy_id)
                .order_by(PolicyRun.slot_time)
            )
        )


def _policy_backups(runtime: Runtime, policy_id: str) -> list[Backup]:
    with runtime.db.session() as db:
        return list(db.scalars(select(Backup).where(Backup.policy_id == policy_id)))


def _project(runtime: Runtime, name: str = "Main") -> int:
    with runtime.db.transaction() as db:
        project = Project(name=name, description="", settings={})
        db.add(project)
        db.flush()
        return project.id


def _policy(runtime: Runtime, project_id: int, clock: Clock, **values: Any) -> str:
    """A policy created at the simulated time."""
    fields = {
        "name": "five",
        "schedule": "*/5 * * * *",
        "timezone": "UTC",
        "enabled": True,
        "verify_after_backup": False,
        "restore_drill": False,
        "retention": {},
        **values,
    }
    with runtime.db.transaction() as db:
        return service.create(db, runtime, project_id, fields, user_id=None, now=clock).id


def test_simulated_day_every_five_minutes(runtime: Runtime, fast_backups: None) -> None:
    """Ticks every simulated minute for a day: 288 slots, each one backup, and retention
    leaves exactly what the documented rule keeps of the whole history. (SQLite only:
    the rule and the clock do not depend on the engine; firing once per slot on
    PostgreSQL is tested with concurrent ticks and with worker processes.)"""
    if not runtime.db.is_sqlite:
        pytest.skip("engine-independent; covered on SQLite")
    pid = _project(runtime)
    clock = Clock(at("2026-03-01T23:00:30"))
    policy_id = _policy(runtime, pid, clock, retention={"keep_last": 3, "keep_daily": 2})
    end = clock() + timedelta(days=1)
    fired: list[scheduler.Fired] = []
    while clock() <= end:
        fired += scheduler.tick(runtime, now=clock, enqueue=_sync(runtime, clock))
        clock.advance(minutes=1)

    # one backup per slot: 23:05 on day one through 23:00 on day two
    assert len(fired) == 288
    slots = [f.slot_time for f in fired]
    assert slots[0] == at("2026-03-01T23:05:00") and slots[-1] == at("2026-03-02T23:00:00")
    assert all(b - a == timedelta(minutes=5) for a, b in itertools.pairwise(slots))
    runs = _runs(runtime, policy_id)
    assert [r.status for r in runs] == ["completed"] * 288
    created = {r.backup_id: r.slot_time for r in runs}
    assert len(created) == 288

    # retention after each run left exactly what the rule keeps of the whole history
    remaining = _policy_backups(runtime, policy_id)
    assert all(b.type == "automatic" and b.status == "completed" for b in remaining)
    history = [
        retention.BackupInfo(id=i, created_at=t, policy_id=policy_id)
        for i, t in created.items()
        if i is not None
    ]
    expected = retention.plan(
        history,
        policy_id,
        retention.Rule(keep_last=3, keep_daily=2),
        now=clock(),
        tz=ZoneInfo("UTC"),
    )
    assert {b.id for b in remaining} == set(expected.keep)
    # the three newest, and the newest of the previous day
    assert sorted(created[b.id] for b in remaining) == [
        at("2026-03-01T23:55:00"),
        at("2026-03-02T22:50:00"),
        at("2026-03-02T22:55:00"),
        at("2026-03-02T23:00:00"),
    ]
    assert "five 2026-03-02 23:00 UTC" in {b.name for b in remaining}
    pruned = sum(len(r.details.get("pruned", [])) for r in runs)
    assert pruned == 288 - 4


def test_missed_slots_run_once_at_start(runtime: Runtime, fast_backups: None) -> None:
    """Down from 01:02 to 09:41: the first tick after start fires one backup, for the
    latest slot, and the schedule carries on from there."""
    pid = _project(runtime)
    clock = Clock(at("2026-05-10T00:58:00"))
    policy_id = _policy(runtime, pid, clock, schedule="*/10 * * * *")
    sync = _sync(runtime, clock)
    assert [f.slot_time for f in scheduler.tick(runtime, now=clock, enqueue=sync)] == []
    clock.advance(minutes=3)  # 01:01
    assert [f.slot_time for f in scheduler.tick(runtime, now=clock, enqueue=sync)] == [
        at("2026-05-10T01:00:00")
    ]
    clock.current = at("2026-05-10T09:41:10")  # the server was down
    first = scheduler.tick(runtime, now=clock, enqueue=sync)
    assert [f.slot_time for f in first] == [at("2026-05-10T09:40:00")]
    assert scheduler.tick(runtime, now=clock, enqueue=sync) == []
    clock.advance(minutes=9)  # 09:50:10
    assert [f.slot_time for f in scheduler.tick(runtime, now=clock, enqueue=sync)] == [
        at("2026-05-10T09:50:00")
    ]
    assert len(_policy_backups(runtime, policy_id)) == 3
    assert [r.status for r in _runs(runtime, policy_id)] == ["completed"] * 3


def test_a_slot_that_finds_a_job_running_is_skipped_and_recorded(runtime: Runtime) -> None:
    pid = _project(runtime)
    clock = Clock(at("2026-05-10T11:59:00"))
    policy_id = _policy(runtime, pid, clock, schedule="0 * * * *")
    with runtime.db.transaction() as db:
        locks.acquire(db, pid, "restore", 77)
    queued: list[int] = []
    clock.advance(minutes=1, seconds=5)
    fired = scheduler.tick(runtime, now=clock, enqueue=queued.append)
    assert [(f.status, f.reason) for f in fired] == [("skipped", "JOB_IN_PROGRESS")]
    assert queued == [] and _policy_backups(runtime, policy_id) == []
    (run,) = _runs(runtime, policy_id)
    assert run.details == {"running": {"kind": "restore", "id": 77}}
    # not retried later for that slot: the next slot is the next hour
    clock.advance(minutes=30)
    assert scheduler.tick(runtime, now=clock, enqueue=queued.append) == []
    with runtime.db.transaction() as db:
        locks.release(db, pid, "restore", 77)
    clock.advance(minutes=30)
    (next_fired,) = scheduler.tick(runtime, now=clock, enqueue=queued.append)
    assert next_fired.status == "started" and queued == [next_fired.backup_id]


def test_concurrent_ticks_fire_a_slot_once(runtime: Runtime, fast_backups: None) -> None:
    """Eight threads tick at the same instant (as eight workers would): one backup."""
    pid = _project(runtime)
    clock = Clock(at("2026-05-10T11:59:00"))
    policy_id = _policy(runtime, pid, clock, schedule="0 * * * *")
    clock.advance(minutes=1)
    queued: list[int] = []
    barrier = threading.Barrier(8)
    results: list[list[scheduler.Fired]] = []

    def worker() -> None:
        barrier.wait()
        results.append(scheduler.tick(runtime, now=clock, enqueue=queued.append))

    threads = [threading.Thread(target=worker) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(30)
    assert len(results) == 8
    assert sum(len(r) for r in results) == 1
    assert len(queued) == 1 and len(_runs(runtime, policy_id)) == 1
    with runtime.db.session() as db:
        assert db.scalar(select(func.count()).select_from(Backup)) == 1


def test_disabled_policies_do_not_fire_and_reenabling_starts_afresh(runtime: Runtime) -> None:
    pid = _project(runtime)
    clock = Clock(at("2026-05-10T11:59:00"))
    policy_id = _policy(runtime, pid, clock, schedule="0 * * * *", enabled=False)
    clock.advance(hours=5)
    assert scheduler.tick(runtime, now=clock, enqueue=lambda b: None) == []
    with runtime.db.transaction() as db:
        policy = service.get(db, policy_id)
        service.update(db, runtime, policy, {"enabled": True}, now=clock)
        assert policy.next_run_at == at("2026-05-10T17:00:00")
    # the slots missed while disabled are not made up for
    assert scheduler.tick(runtime, now=clock, enqueue=lambda b: None) == []


@pytest.mark.parametrize(
    ("schedule", "tz", "start", "expected"),
    [
        # spring forward in Berlin (02:00 -> 03:00): 02:30 does not exist, runs at 03:30
        ("30 2 * * *", "Europe/Berlin", "2026-03-28T12:00", ["03-29 01:30", "03-30 00:30"]),
        # fall back (03:00 -> 02:00): 02:30 happens twice, runs at the first only
        ("30 2 * * *", "Europe/Berlin", "2026-10-24T12:00", ["10-25 00:30", "10-26 01:30"]),
        # every 30 minutes across the fall-back hour: each wall-clock time once
        (
            "*/30 * * * *",
            "Europe/Berlin",
            "2026-10-24T23:10",
            ["10-24 23:30", "10-25 00:00", "10-25 00:30", "10-25 02:00", "10-25 02:30"],
        ),
        # Friday 08:00 in New York: 09:00 that day, then Monday
        ("0 9 * * mon-fri", "America/New_York", "2026-07-03T12:00", ["07-03 13:00", "07-06 13:00"]),
        ("15 4 1 * *", "UTC", "2026-01-31T05:00", ["02-01 04:15", "03-01 04:15"]),
    ],
)
def test_cron_slots_in_time_zones(schedule: str, tz: str, start: str, expected: list[str]) -> None:
    zone = ZoneInfo(tz)
    slots, after = [], at(start)
    for _ in expected:
        after = cron.next_slot(schedule, zone, after)
        slots.append(after.strftime("%m-%d %H:%M"))
        # and the latest slot at that instant is the slot itself
        assert cron.latest_slot(schedule, zone, after) == after
        assert cron.latest_slot(schedule, zone, after + timedelta(seconds=59)) == after
    assert slots == expected


@pytest.mark.parametrize(
    "schedule",
    [
        "* * * * * *",
        "@daily",
        "0 0 L * *",
        "0 0 * * 5#3",
        "H * * * *",
        "61 * * * *",
        "0 0 30 2 *",
        "*/0 * * * *",
        "0 0 ? * *",
        "0 mon * * *",
    ],
)
def test_invalid_schedules(schedule: str) -> None:
    with pytest.raises(cron.InvalidSchedule):
        cron.validate(schedule, "UTC")


def test_valid_schedule_is_normalised_and_time_zone_checked() -> None:
    assert cron.validate("  0   3 * *   sun ", "Europe/Paris") == "0 3 * * sun"
    for bad in ("Mars/Olympus", "../etc/passwd", "", "/UTC"):
        with pytest.raises(cron.InvalidTimezone):
            cron.validate("0 3 * * *", bad)

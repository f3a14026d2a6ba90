"""client.backups.policies and client.backups.usage against a live server, with both
clients; the error classes of the policy codes.

A policy fires at most once a minute, so run history and automatic backups of a policy
are seeded in the server's SQLite database (``seeded``) rather than waited for; those
tests are skipped against an external server (``CLOUDBOX_TEST_ENDPOINT``).
"""

from __future__ import annotations

import json
import sqlite3
import uuid
from collections.abc import Callable
from contextlib import closing
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest

from cloudbox_sdk import (
    Backup,
    BackupDrill,
    BackupPolicy,
    BackupUsage,
    CloudBox,
    CloudBoxError,
    Conflict,
    InsufficientPermissions,
    InvalidSchedule,
    InvalidTimezone,
    InvalidWebhookUrl,
    NotFound,
    Page,
    PolicyLimitReached,
    PolicyNotFound,
    PolicyRun,
    PolicyWebhook,
    RetentionItem,
    RetentionPreview,
    RetentionRule,
    ServerBackupUsage,
    TypeUsage,
    ValidationError,
    WebhookTargetForbidden,
    error_class_for,
)
from cloudbox_sdk.errors import error_from_response
from conftest import Account, Server, UserPool

#: never fires during a test run (1 January, 03:00)
YEARLY = "0 3 1 1 *"
SECRET = "a-long-random-shared-secret"
#: a public address literal: accepted without DNS, never contacted (nothing fails)
PUBLIC_HOOK = "https://1.1.1.1/cloudbox/hook-token"


def completed(account: Account, name: str, type: str = "manual") -> Backup:
    client = account.client
    backup = client.backups.create(name=name, type=type)
    done: Backup = client.backups.wait_for_completion(backup.id, interval=0.05, timeout=60)
    assert done.status == "completed", done.error
    return done


class Seeder:
    """Writes the server's SQLite database directly (WAL, so alongside the server)."""

    def __init__(self, server: Server) -> None:
        if server.data_dir is None:
            pytest.skip("needs the server's database (not with CLOUDBOX_TEST_ENDPOINT)")
        self.path = server.data_dir / "cloudbox.db"

    def execute(self, sql: str, *params: Any) -> None:
        with closing(sqlite3.connect(self.path, timeout=30)) as db, db:
            db.execute(sql, params)

    def adopt(self, policy: BackupPolicy, backups: list[Backup]) -> None:
        """Make backups the policy's own automatic backups (as if it had made them)."""
        for backup in backups:
            self.execute(
                "UPDATE backups SET type = 'automatic', policy_id = ? WHERE id = ?",
                policy.id,
                backup.id,
            )

    def run(self, policy: BackupPolicy, slot: datetime, status: str, **fields: Any) -> str:
        """One row of the policy's run history."""
        run_id = uuid.uuid4().hex[:26]
        stamp = slot.astimezone(UTC).replace(tzinfo=None).isoformat(sep=" ")
        self.execute(
            "INSERT INTO policy_runs (project_id, id, policy_id, slot_time, status, reason,"
            " message, backup_id, details, created_at, finished_at)"
            " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            policy.project_id,
            run_id,
            policy.id,
            stamp,
            status,
            fields.get("reason"),
            fields.get("message"),
            fields.get("backup_id"),
            json.dumps(fields.get("details", {})),
            stamp,
            stamp if status != "started" else None,
        )
        return run_id


@pytest.fixture
def seeded(server: Server) -> Seeder:
    return Seeder(server)


# -- CRUD ----------------------------------------------------------------------------------


def test_create_list_get_update_delete(owner: Account) -> None:
    policies = owner.client.backups.policies
    created = policies.create(
        "nightly",
        "30 2 * * *",
        timezone="Europe/Berlin",
        retention={"keep_last": 7, "keep_weekly": 4},
        verify_after_backup=True,
        restore_drill=False,
    )
    assert isinstance(created, BackupPolicy)
    assert created.project_id == owner.project_id
    assert (created.name, created.schedule, created.timezone) == (
        "nightly",
        "30 2 * * *",
        "Europe/Berlin",
    )
    assert created.enabled is True and created.verify_after_backup and not created.restore_drill
    assert created.retention == RetentionRule(keep_last=7, keep_weekly=4)
    assert created.webhook is None and created.stale_after_hours is None
    assert created.next_run_at is not None and created.next_run_at.tzinfo is not None
    assert created.next_run_at.minute == 30 and created.last_run_at is None

    policies.create("alpha", "0 * * * *", retention=RetentionRule(keep_daily=3))
    policies.create("zulu", YEARLY)

    listed = policies.list()
    assert isinstance(listed, Page) and listed.total == 3
    assert [p.name for p in listed] == ["nightly", "alpha", "zulu"]
    assert all(isinstance(p, BackupPolicy) for p in listed)
    page = policies.list(order_by="-name", limit=2, offset=1)
    assert [p.name for p in page] == ["nightly", "alpha"] and page.total == 3

    assert policies.get(created.id) == created
    assert policies.get(created) == created  # the object works as its id

    updated = policies.update(
        created, schedule="0 4 * * *", timezone="UTC", retention={"keep_daily": 3}
    )
    assert (updated.schedule, updated.timezone) == ("0 4 * * *", "UTC")
    assert updated.next_run_at is not None and updated.next_run_at.hour == 4
    # retention rules not named keep their values; None stops using one
    assert updated.retention == RetentionRule(keep_last=7, keep_daily=3, keep_weekly=4)
    updated = policies.update(created.id, retention={"keep_weekly": None}, name="renamed")
    assert updated.retention == RetentionRule(keep_last=7, keep_daily=3)
    assert updated.name == "renamed"

    disabled = policies.update(created.id, enabled=False, verify_after_backup=False)
    assert disabled.enabled is False and disabled.next_run_at is None
    assert disabled.verify_after_backup is False
    assert policies.update(created.id, enabled=True).next_run_at is not None

    assert policies.delete(created.id) is None
    with pytest.raises(PolicyNotFound):
        policies.get(created.id)
    assert [p.name for p in policies.list()] == ["alpha", "zulu"]


def test_webhook_is_write_only(owner: Account) -> None:
    policies = owner.client.backups.policies
    created = policies.create(
        "hooked",
        YEARLY,
        webhook_url=PUBLIC_HOOK,
        webhook_secret=SECRET,
        stale_after_hours=36,
    )
    assert created.webhook == PolicyWebhook(origin="https://1.1.1.1", has_secret=True)
    assert created.stale_after_hours == 36
    dumped = created.model_dump_json()
    assert SECRET not in dumped and "hook-token" not in dumped

    rotated = policies.update(created.id, webhook_secret="another-secret-0123456789")
    assert rotated.webhook == created.webhook

    # the threshold needs a webhook: remove both together
    with pytest.raises(ValidationError) as refused:
        policies.update(created.id, webhook_url=None)
    assert refused.value.code == "VALIDATION_ERROR"
    removed = policies.update(created.id, webhook_url=None, stale_after_hours=None)
    assert removed.webhook is None and removed.stale_after_hours is None


# -- errors -------------------------------------------------------------------------------


def test_policy_errors(owner: Account, stranger: Account) -> None:
    policies = owner.client.backups.policies
    missing = "0000000000000000000000000z"
    calls: list[Callable[[], object]] = [
        lambda: policies.get(missing),
        lambda: policies.update(missing, name="x"),
        lambda: policies.delete(missing),
        lambda: policies.runs(missing),
        lambda: policies.retention_dry_run(missing),
    ]
    for call in calls:
        with pytest.raises(PolicyNotFound) as not_found:
            call()
        assert isinstance(not_found.value, NotFound)
        assert (not_found.value.status, not_found.value.code) == (404, "POLICY_NOT_FOUND")

    with pytest.raises(WebhookTargetForbidden) as forbidden:
        policies.create(
            "loopback", YEARLY, webhook_url="http://127.0.0.1/hook", webhook_secret=SECRET
        )
    error = forbidden.value
    assert isinstance(error, InvalidWebhookUrl) and isinstance(error, ValidationError)
    assert (error.status, error.code) == (422, "WEBHOOK_TARGET_FORBIDDEN")
    for private in ("http://10.1.2.3/hook", "http://169.254.169.254/latest", "http://[::1]/h"):
        with pytest.raises(WebhookTargetForbidden):
            policies.create("private", YEARLY, webhook_url=private, webhook_secret=SECRET)
    with pytest.raises(InvalidWebhookUrl) as bad_url:
        policies.create("ftp", YEARLY, webhook_url="ftp://1.1.1.1/x", webhook_secret=SECRET)
    assert type(bad_url.value) is InvalidWebhookUrl

    with pytest.raises(InvalidSchedule) as bad_schedule:
        policies.create("bad", "every day at noon")
    assert (bad_schedule.value.status, bad_schedule.value.code) == (422, "INVALID_SCHEDULE")
    with pytest.raises(InvalidSchedule):
        policies.create("never", "0 0 30 2 *")
    with pytest.raises(InvalidTimezone) as bad_zone:
        policies.create("bad", YEARLY, timezone="Mars/Olympus_Mons")
    assert bad_zone.value.code == "INVALID_TIMEZONE"
    with pytest.raises(ValidationError):
        policies.create("bad", YEARLY, retention={"keep_last": 0})
    with pytest.raises(ValueError, match="keep_hourly"):
        policies.create("bad", YEARLY, retention={"keep_hourly": 1})
    assert policies.list().total == 0  # nothing refused was written

    # someone else's policy does not exist for a non-member
    mine = policies.create("mine", YEARLY)
    with pytest.raises(PolicyNotFound):
        stranger.client.backups.policies.get(mine.id)
    with pytest.raises(CloudBoxError) as outsider:
        stranger.client.backups.policies.list(project_id=owner.project_id)
    assert outsider.value.code == "PROJECT_NOT_FOUND"


def test_policy_limit_reached(owner: Account) -> None:
    policies = owner.client.backups.policies
    for n in range(20):
        policies.create(f"p{n:02d}", YEARLY)
    with pytest.raises(PolicyLimitReached) as limit:
        policies.create("one too many", YEARLY)
    assert isinstance(limit.value, Conflict)
    assert (limit.value.status, limit.value.code) == (409, "POLICY_LIMIT_REACHED")
    assert limit.value.details.get("max_policies") == 20


def test_developers_cannot_manage_policies(
    owner: Account, make_client: Callable[..., Any], users: UserPool
) -> None:
    email, token = users.get("Developer")
    owner.client.members.add(email, "developer")
    developer = make_client(token=token, project_id=owner.project_id)
    with pytest.raises(InsufficientPermissions):
        developer.backups.policies.create("nope", YEARLY)
    # ... but they can see the storage usage
    usage = developer.backups.usage()
    assert isinstance(usage, BackupUsage) and usage.count == 0


# -- runs and the retention dry run ---------------------------------------------------------


def test_runs_and_retention_dry_run(owner: Account, seeded: Seeder) -> None:
    policies = owner.client.backups.policies
    policy = policies.create("hourly", YEARLY, retention={"keep_last": 2})
    assert policies.runs(policy.id) == [] and policies.runs(policy.id).total == 0

    backups = [completed(owner, f"auto {n}", "automatic") for n in range(3)]
    manual = completed(owner, "by hand")
    seeded.adopt(policy, backups)
    slot = datetime(2026, 1, 1, 3, tzinfo=UTC)
    seeded.run(
        policy,
        slot,
        "completed",
        backup_id=backups[0].id,
        details={"deleted_backups": [41, 42]},
    )
    seeded.run(policy, slot + timedelta(hours=1), "skipped", reason="JOB_IN_PROGRESS")
    seeded.run(policy, slot + timedelta(hours=2), "failed", reason="VERIFY_FAILED", message="m")

    runs = policies.runs(policy)
    assert isinstance(runs, Page) and runs.total == 3
    assert all(isinstance(run, PolicyRun) for run in runs)
    assert [run.status for run in runs] == ["failed", "skipped", "completed"]  # newest first
    assert [run.reason for run in runs] == ["VERIFY_FAILED", "JOB_IN_PROGRESS", None]
    last = runs[-1]
    assert (last.policy_id, last.backup_id, last.slot_time) == (policy.id, backups[0].id, slot)
    assert last.details == {"deleted_backups": [41, 42]}
    assert last.finished_at is not None
    oldest_first = policies.runs(policy, order_by="slot_time", limit=1)
    assert [run.status for run in oldest_first] == ["completed"] and oldest_first.total == 3

    preview = policies.retention_dry_run(policy)
    assert isinstance(preview, RetentionPreview)
    assert preview.policy_id == policy.id
    assert preview.retention == RetentionRule(keep_last=2)
    assert [item.backup_id for item in preview.keep] == [backups[2].id, backups[1].id]
    assert [item.backup_id for item in preview.delete] == [backups[0].id]
    assert all(isinstance(item, RetentionItem) for item in preview.keep + preview.delete)
    assert "keep_last" in preview.keep[0].reasons
    assert preview.delete_bytes == backups[0].size
    assert manual.id not in [i.backup_id for i in preview.keep + preview.delete]

    narrower = policies.retention_dry_run(policy.id, keep_last=1)
    assert narrower.retention.keep_last == 1
    assert [item.backup_id for item in narrower.keep] == [backups[2].id]
    assert narrower.delete_bytes == (backups[0].size or 0) + (backups[1].size or 0)
    # nothing was deleted, and the saved rule did not change
    assert len(owner.client.backups.list()) == 4
    assert policies.get(policy.id).retention == RetentionRule(keep_last=2)


# -- storage usage ----------------------------------------------------------------------------


def test_project_usage(owner: Account) -> None:
    empty = owner.client.backups.usage()
    assert isinstance(empty, BackupUsage)
    assert (empty.count, empty.total_bytes, empty.by_type) == (0, 0, {})
    assert empty.oldest is None and empty.newest is None and empty.quota_bytes is None

    first = completed(owner, "one")
    second = completed(owner, "two", "automatic")
    owner.client.backups.verify(second.id)
    usage = owner.client.backups.usage(project_id=owner.project_id)
    assert usage.count == 2
    assert usage.total_bytes == (first.size or 0) + (second.size or 0)
    assert usage.by_type == {
        "manual": TypeUsage(count=1, total_bytes=first.size or 0),
        "automatic": TypeUsage(count=1, total_bytes=second.size or 0),
    }
    assert usage.oldest == first.created_at and usage.newest == second.created_at
    assert usage.newest_verified_at is not None


def test_server_usage_is_for_platform_admins(
    owner: Account, make_client: Callable[..., Any], users: UserPool, seeded: Seeder
) -> None:
    with pytest.raises(InsufficientPermissions):
        owner.client.backups.server_usage()
    backup = completed(owner, "counted")

    email, token = users.register("Admin")
    seeded.execute("UPDATE users SET is_platform_admin = 1 WHERE email = ?", email)
    admin = make_client(token=token)
    usage = admin.backups.server_usage(limit=1000)
    assert isinstance(usage, ServerBackupUsage)
    assert usage.projects_total is not None and usage.projects_total >= 1
    assert usage.count >= 1 and usage.total_bytes >= (backup.size or 0)
    assert usage.storage_free_bytes is None or usage.storage_free_bytes > 0
    mine = [p for p in usage.projects if p.project_id == owner.project_id]
    assert len(mine) == 1
    assert (mine[0].project_name, mine[0].count, mine[0].total_bytes) == (
        owner.project.name,
        1,
        backup.size,
    )
    one = admin.backups.server_usage(limit=1, order_by="-project_id")
    assert len(one.projects) == 1 and one.projects_total == usage.projects_total


def test_backup_drill_result(owner: Account, seeded: Seeder) -> None:
    backup = completed(owner, "drilled", "automatic")
    assert backup.drill is None
    drill = {"ok": False, "checked_at": "2026-06-30T00:31:40Z", "problems": ["documents differ"]}
    seeded.execute("UPDATE backups SET drill = ? WHERE id = ?", json.dumps(drill), backup.id)
    got = owner.client.backups.get(backup.id)
    assert got.drill == BackupDrill(
        ok=False,
        checked_at=datetime(2026, 6, 30, 0, 31, 40, tzinfo=UTC),
        problems=["documents differ"],
    )
    assert [b.drill for b in owner.client.backups.list()] == [got.drill]


# -- offline: error classes and request bodies -------------------------------------------------


@pytest.mark.parametrize(
    ("code", "status", "cls", "family"),
    [
        ("POLICY_NOT_FOUND", 404, PolicyNotFound, NotFound),
        ("POLICY_LIMIT_REACHED", 409, PolicyLimitReached, Conflict),
        ("INVALID_SCHEDULE", 422, InvalidSchedule, ValidationError),
        ("INVALID_TIMEZONE", 422, InvalidTimezone, ValidationError),
        ("INVALID_WEBHOOK_URL", 422, InvalidWebhookUrl, ValidationError),
        ("WEBHOOK_TARGET_FORBIDDEN", 422, WebhookTargetForbidden, InvalidWebhookUrl),
    ],
)
def test_policy_codes_map_to_classes(
    code: str, status: int, cls: type[CloudBoxError], family: type[CloudBoxError]
) -> None:
    body = {"error": {"code": code, "message": "m", "details": {"field": "x"}}}
    error = error_from_response(httpx.Response(status, json=body))
    assert type(error) is cls and error_class_for(code) is cls
    assert isinstance(error, family)
    assert (error.status, error.code, error.details) == (status, code, {"field": "x"})


def _recording_client() -> tuple[CloudBox, list[httpx.Request]]:
    sent: list[httpx.Request] = []
    policy = {
        "id": "p1",
        "project_id": 1,
        "name": "n",
        "schedule": YEARLY,
        "timezone": "UTC",
        "enabled": True,
        "retention": {},
        "verify_after_backup": True,
        "restore_drill": False,
        "webhook": None,
        "stale_after_hours": None,
        "next_run_at": None,
        "last_run_at": None,
        "created_at": "2026-01-01T00:00:00Z",
        "updated_at": "2026-01-01T00:00:00Z",
    }

    preview = {
        "policy_id": "p1",
        "evaluated_at": "2026-01-01T00:00:00Z",
        "retention": {"keep_daily": 7},
        "keep": [],
        "delete": [],
        "delete_bytes": 0,
    }

    def handler(request: httpx.Request) -> httpx.Response:
        sent.append(request)
        return httpx.Response(200, json=preview if request.method == "GET" else policy)

    client = CloudBox("http://cloudbox.test", 1, token="t", transport=httpx.MockTransport(handler))
    return client, sent


def test_update_sends_only_the_fields_given() -> None:
    client, sent = _recording_client()
    with client:
        client.backups.policies.update("p1", webhook_url=None, retention=RetentionRule(keep_last=3))
        client.backups.policies.update("p1", enabled=False)
        client.backups.policies.create("n", YEARLY, retention={"max_age_days": 30})
        client.backups.policies.retention_dry_run("p1", keep_daily=7)
    bodies = [json.loads(r.content) if r.content else None for r in sent]
    assert [r.method for r in sent] == ["PATCH", "PATCH", "POST", "GET"]
    assert bodies[0] == {"webhook_url": None, "retention": {"keep_last": 3}}
    assert bodies[1] == {"enabled": False}
    assert bodies[2] == {"name": "n", "schedule": YEARLY, "retention": {"max_age_days": 30}}
    assert sent[3].url.path == "/api/backup-policies/p1/retention/dry-run"
    assert dict(sent[3].url.params) == {"keep_daily": "7"}

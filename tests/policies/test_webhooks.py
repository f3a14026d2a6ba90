"""Failure notifications: a failing automatic backup delivers one signed event; verify
failures and stale projects notify; retries back off; targets are re-checked at every
attempt (DNS rebinding) and the connection goes to the checked address."""

from __future__ import annotations

import time
from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy import func, select

from cloudbox.backups import service as backups
from cloudbox.backups.models import Backup
from cloudbox.policies import runner, scheduler, service, webhooks
from cloudbox.policies.errors import InvalidWebhookUrl, WebhookTargetForbidden
from cloudbox.policies.models import BackupPolicy, PolicyRun, WebhookDelivery
from cloudbox.runtime import Runtime
from tests.plugins.api import Account
from tests.policies.helpers import (
    SECRET,
    Clock,
    make_policy,
    new_policy,
    new_project,
    real_backup,
    webhook_receiver,
)


def _policy_row(runtime: Runtime, policy_id: str) -> BackupPolicy:
    with runtime.db.session() as db:
        row = service.get(db, policy_id)
        db.expunge(row)
        return row


def _deliveries(runtime: Runtime, event: str | None = None) -> list[WebhookDelivery]:
    with runtime.db.session() as db:
        query = select(WebhookDelivery).order_by(WebhookDelivery.created_at)
        if event:
            query = query.where(WebhookDelivery.event == event)
        return list(db.scalars(query))


def test_a_failing_automatic_backup_delivers_one_signed_event(
    account: Account,
    project: dict[str, Any],
    runtime: Runtime,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    pid = project["id"]
    with webhook_receiver() as receiver:
        policy = make_policy(
            account, pid, schedule="0 3 * * *", webhook_url=receiver.url, webhook_secret=SECRET
        )

        def broken_writer(key: str) -> Any:
            raise OSError("disk on fire")

        monkeypatch.setattr(runtime.archives, "writer", broken_writer)
        due = _policy_row(runtime, policy["id"]).next_run_at
        assert due is not None
        # the real queue: the app's consumer threads run the backup and the delivery
        (fired,) = scheduler.tick(runtime, now=lambda: due + timedelta(seconds=3))
        (request,) = receiver.wait_for(1)
        assert request.signature_ok()
        assert not request.signature_ok("some-other-secret-value")
        assert request.headers["content-type"] == "application/json"
        assert request.headers["x-cloudbox-event"] == "backup.failed"
        event = request.json()
        assert event["type"] == "backup.failed" and event["project_id"] == pid
        assert event["id"] == request.headers["x-cloudbox-delivery"]
        assert event["policy"] == {"id": policy["id"], "name": "nightly"}
        assert event["data"]["backup"]["id"] == fired.backup_id
        assert event["data"]["backup"]["status"] == "failed"
        assert event["data"]["error"]["code"] == "BACKUP_FAILED"
        assert "disk on fire" not in request.body.decode()
        # exactly one, and recorded (once the sender has read the answer)
        deadline = time.monotonic() + 10
        while _deliveries(runtime)[0].status == "pending" and time.monotonic() < deadline:
            time.sleep(0.05)
        (delivery,) = _deliveries(runtime)
        assert delivery.status == "delivered" and delivery.attempts == 1
        assert len(receiver.received) == 1
    with runtime.db.session() as db:
        run = db.scalar(select(PolicyRun))
        assert run is not None
        assert (run.status, run.reason, run.backup_id) == (
            "failed",
            "BACKUP_FAILED",
            fired.backup_id,
        )
    failed = account.get(f"/api/backups/{fired.backup_id}").json()
    assert failed["status"] == "failed" and failed["type"] == "automatic"


def test_retries_back_off_and_resign(
    account: Account, project: dict[str, Any], runtime: Runtime
) -> None:
    """Through the real queue and its scheduler (engine-independent: SQLite only)."""
    if not runtime.db.is_sqlite:
        pytest.skip("engine-independent; covered on SQLite")
    with webhook_receiver() as receiver:
        receiver.statuses = [500, 503]
        policy = make_policy(
            account, project["id"], webhook_url=receiver.url, webhook_secret=SECRET
        )
        with runtime.db.transaction() as db:
            row = service.get(db, policy["id"])
            delivery_id = webhooks.queue_event(db, row, webhooks.EVENT_STALE, {"x": 1})
        assert delivery_id is not None
        webhooks.enqueue(runtime, project["id"], [delivery_id])
        received = receiver.wait_for(3)
        assert len({r.body for r in received}) == 1  # the same event every time
        assert all(r.signature_ok() for r in received)
        assert {r.headers["x-cloudbox-delivery"] for r in received} == {delivery_id}
        deadline = time.monotonic() + 10
        while _deliveries(runtime)[0].status == "pending" and time.monotonic() < deadline:
            time.sleep(0.05)
    (delivery,) = _deliveries(runtime)
    assert (delivery.status, delivery.attempts, delivery.response_status) == ("delivered", 3, 200)


def test_delivery_gives_up_after_the_last_attempt(runtime: Runtime) -> None:
    pid = new_project(runtime)
    policy = new_policy(runtime, pid, webhook_url="http://127.0.0.1:9/x", webhook_secret=SECRET)
    with runtime.db.transaction() as db:
        delivery_id = webhooks.queue_event(db, service.get(db, policy.id), webhooks.EVENT_STALE, {})
    assert delivery_id is not None
    calls: list[str] = []

    def refusing(target: Any, address: str, body: bytes, headers: Any, timeout: float) -> Any:
        calls.append(address)
        raise webhooks.httpx.ConnectError("refused")

    delays = []
    for _ in range(runtime.settings.webhook_max_attempts):
        attempt = webhooks.deliver(runtime, pid, delivery_id, post=refusing)
        delays.append(attempt.retry_in)
    assert delays == [0.2, 0.4, 0.8, 1.6, 3.2, None]
    (delivery,) = _deliveries(runtime)
    assert delivery.status == "failed" and delivery.attempts == 6
    assert delivery.last_error == "ConnectError: could not reach the receiver"
    # a finished delivery is never sent again
    assert webhooks.deliver(runtime, pid, delivery_id, post=refusing).retry_in is None
    assert len(calls) == 6


def test_targets_are_checked_again_at_delivery(runtime: Runtime) -> None:
    """A name that resolved to a public address at creation and to a private one later
    (DNS rebinding) is refused at delivery; the connection goes to the checked IP."""
    pid = new_project(runtime)
    with webhook_receiver() as receiver:
        port = receiver.url.split(":")[2].split("/")[0]
        answers = {"hooks.example.test": ["93.184.216.34"]}

        def resolver(host: str, _port: int) -> list[str]:
            return answers[host]

        url = f"http://hooks.example.test:{port}/in"
        webhooks.check_target(url, (), resolver)  # public at creation
        policy = new_policy(
            runtime, pid, webhook_url=f"http://127.0.0.1:{port}/in", webhook_secret=SECRET
        )
        with runtime.db.transaction() as db:
            row = service.get(db, policy.id)
            row.webhook_url_encrypted = runtime.secrets.encrypt(url, webhooks.URL_PURPOSE)
            delivery_id = webhooks.queue_event(db, row, webhooks.EVENT_STALE, {})
        assert delivery_id is not None
        answers["hooks.example.test"] = ["10.0.0.7"]
        refused = webhooks.deliver(runtime, pid, delivery_id, resolver=resolver)
        assert refused.retry_in is not None and receiver.received == []
        (delivery,) = _deliveries(runtime)
        assert delivery.last_error is not None and "private" in delivery.last_error
        # resolving to the allow-listed loopback: sent to that IP, with the real Host
        answers["hooks.example.test"] = ["127.0.0.1"]
        sent = webhooks.deliver(runtime, pid, delivery_id, resolver=resolver)
        assert sent.delivered
        (request,) = receiver.received
        assert request.headers["host"] == f"hooks.example.test:{port}"


def test_check_target() -> None:
    def resolver(answers: dict[str, list[str]]) -> webhooks.Resolver:
        return lambda host, port: answers[host]

    public = resolver({"ok.test": ["93.184.216.34", "2606:2800:220:1::1"]})
    target, addresses = webhooks.check_target("https://ok.test/hook?x=1", (), public)
    assert target.origin == "https://ok.test" and addresses == [
        "93.184.216.34",
        "2606:2800:220:1::1",
    ]
    assert (
        webhooks.check_target("https://ok.test:8443/x", (), public)[0].origin
        == "https://ok.test:8443"
    )
    mixed = resolver({"mixed.test": ["93.184.216.34", "10.0.0.1"]})
    with pytest.raises(WebhookTargetForbidden):
        webhooks.check_target("http://mixed.test/", (), mixed)
    # the allow-list: by host name, by address, by network
    webhooks.check_target("http://mixed.test/", ("mixed.test",), mixed)
    webhooks.check_target("http://mixed.test/", ("10.0.0.0/8",), mixed)
    webhooks.check_target("http://10.0.0.1/", ("10.0.0.1",))
    with pytest.raises(WebhookTargetForbidden):
        webhooks.check_target("http://10.0.0.2/", ("10.0.0.1", "not an address"))
    for url in ("http://[::ffff:127.0.0.1]/", "http://[fd00::1]/", "http://198.18.0.1/"):
        with pytest.raises(WebhookTargetForbidden):
            webhooks.check_target(url, ())

    def failing(host: str, port: int) -> list[str]:
        raise OSError("no such host")

    for bad in ("http://nowhere.test/", "gopher://x/", "http:///path", "http://a:99999/"):
        with pytest.raises(InvalidWebhookUrl):
            webhooks.check_target(bad, (), failing)


def test_verify_failure_notifies_and_skips_retention(runtime: Runtime) -> None:
    pid = new_project(runtime)
    policy = new_policy(
        runtime,
        pid,
        retention={"keep_last": 1},
        webhook_url="http://127.0.0.1:9/x",
        webhook_secret=SECRET,
    )
    real_backup(runtime, pid, "older")
    assert policy.next_run_at is not None
    clock = Clock(policy.next_run_at)
    queued: list[int] = []
    (fired,) = scheduler.tick(runtime, now=clock, enqueue=queued.append)
    assert fired.backup_id is not None
    backups.run_backup(runtime, fired.backup_id)
    with runtime.db.session() as db:
        row = db.get(Backup, fired.backup_id)
        assert row is not None and row.status == "completed"
        path = runtime.archives.local_path(row.file_path)
    assert path is not None
    with path.open("r+b") as f:  # flip a byte in the middle
        f.seek(path.stat().st_size // 2)
        byte = f.read(1)
        f.seek(-1, 1)
        f.write(bytes([byte[0] ^ 0xFF]))
    runner.after_backup(runtime, fired.backup_id, now=clock)
    (delivery,) = _deliveries(runtime, webhooks.EVENT_VERIFY_FAILED)
    assert delivery.payload["data"]["backup"]["id"] == fired.backup_id
    assert delivery.payload["data"]["problems"]
    with runtime.db.session() as db:
        run = db.scalar(select(PolicyRun))
        assert run is not None and (run.status, run.reason) == ("failed", "VERIFY_FAILED")
        backup = db.get(Backup, fired.backup_id)
        assert backup is not None and backup.verified_at is None
        # retention did not run: the older manual backup and the bad one are both there
        assert db.scalar(select(func.count()).select_from(Backup)) == 2


def test_stale_newest_backup_notifies_once(runtime: Runtime) -> None:
    pid = new_project(runtime)
    policy = new_policy(
        runtime,
        pid,
        schedule="0 3 1 1 *",
        stale_after_hours=24,
        webhook_url="http://127.0.0.1:9/x",
        webhook_secret=SECRET,
    )
    created = policy.created_at
    clock = Clock(created + timedelta(hours=23))
    none: list[int] = []
    scheduler.tick(runtime, now=clock, enqueue=none.append)
    assert _deliveries(runtime, webhooks.EVENT_STALE) == []
    clock.advance(hours=2)  # no backup at all for 25 hours
    for _ in range(3):
        scheduler.tick(runtime, now=clock, enqueue=none.append)
        clock.advance(minutes=1)
    (first,) = _deliveries(runtime, webhooks.EVENT_STALE)
    assert first.payload["data"]["newest_completed_backup_at"] is None
    # a backup arrives, then goes stale in turn: one more event
    backup = real_backup(runtime, pid)
    with runtime.db.transaction() as db:
        taken = db.get(Backup, backup.id)
        assert taken is not None
        taken.created_at = clock() + timedelta(hours=1)  # on the simulated clock
    clock.current = taken.created_at + timedelta(hours=12)
    scheduler.tick(runtime, now=clock, enqueue=none.append)
    assert len(_deliveries(runtime, webhooks.EVENT_STALE)) == 1
    clock.current = taken.created_at + timedelta(hours=25)
    scheduler.tick(runtime, now=clock, enqueue=none.append)
    scheduler.tick(runtime, now=clock, enqueue=none.append)
    second = _deliveries(runtime, webhooks.EVENT_STALE)[1]
    assert second.payload["data"]["newest_completed_backup_at"] is not None
    assert len(_deliveries(runtime, webhooks.EVENT_STALE)) == 2
    assert none == []


def test_a_backup_whose_worker_died_is_notified_once(runtime: Runtime) -> None:
    pid = new_project(runtime)
    policy = new_policy(runtime, pid, webhook_url="http://127.0.0.1:9/x", webhook_secret=SECRET)
    assert policy.next_run_at is not None
    clock = Clock(policy.next_run_at)
    queued: list[int] = []
    (fired,) = scheduler.tick(runtime, now=clock, enqueue=queued.append)
    assert fired.backup_id is not None and queued == [fired.backup_id]  # never runs
    # what the backups' recovery does to a job whose heartbeat stopped
    backups._fail(runtime, fired.backup_id, "BACKUP_INTERRUPTED", "The backup was interrupted")
    for _ in range(2):
        clock.advance(minutes=1)
        scheduler.tick(runtime, now=clock, enqueue=queued.append)
    runner.after_backup(runtime, fired.backup_id, now=clock)  # a late job changes nothing
    (delivery,) = _deliveries(runtime)
    assert delivery.event == "backup.failed"
    assert delivery.payload["data"]["error"]["code"] == "BACKUP_INTERRUPTED"
    with runtime.db.session() as db:
        run = db.scalar(select(PolicyRun))
        assert run is not None and (run.status, run.reason) == ("failed", "BACKUP_INTERRUPTED")

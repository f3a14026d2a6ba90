"""Shared helpers of the policy tests: a policy through the API, a local webhook receiver,
a settable clock."""

from __future__ import annotations

import hashlib
import hmac
import json
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from cloudbox.audit.service import SYSTEM
from cloudbox.backups import service as backups
from cloudbox.backups.models import Backup
from cloudbox.db.types import utcnow
from cloudbox.policies import service
from cloudbox.policies.models import BackupPolicy
from cloudbox.projects.models import Project
from cloudbox.runtime import Runtime
from tests.plugins.api import Account

SECRET = "hook-secret-0123456789-abcdef"


def make_policy(account: Account, project_id: int, **fields: Any) -> dict[str, Any]:
    body = {"name": "nightly", "schedule": "0 3 * * *", **fields}
    response = account.post(f"/api/projects/{project_id}/backup-policies", json=body)
    assert response.status_code == 201, response.text
    policy: dict[str, Any] = response.json()
    return policy


class Clock:
    """A settable, advanceable UTC clock to inject as `now`."""

    def __init__(self, start: datetime) -> None:
        self.current = start

    def __call__(self) -> datetime:
        return self.current

    def advance(self, **delta: float) -> datetime:
        self.current += timedelta(**delta)
        return self.current


def at(text: str) -> datetime:
    return datetime.fromisoformat(text).replace(tzinfo=UTC)


@dataclass
class Received:
    headers: dict[str, str]
    body: bytes

    def json(self) -> dict[str, Any]:
        data: dict[str, Any] = json.loads(self.body)
        return data

    def signature_ok(self, secret: str = SECRET) -> bool:
        timestamp = self.headers["x-cloudbox-timestamp"]
        mac = hmac.new(secret.encode(), timestamp.encode() + b"." + self.body, hashlib.sha256)
        return hmac.compare_digest(
            self.headers["x-cloudbox-signature"], "sha256=" + mac.hexdigest()
        )


@dataclass
class Receiver:
    url: str
    received: list[Received] = field(default_factory=list)
    #: statuses to answer, in order; 200 once exhausted
    statuses: list[int] = field(default_factory=list)

    def wait_for(self, n: int, timeout: float = 20) -> list[Received]:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if len(self.received) >= n:
                return self.received
            time.sleep(0.05)
        raise AssertionError(f"expected {n} webhook requests, got {len(self.received)}")


@contextmanager
def webhook_receiver() -> Iterator[Receiver]:
    """An HTTP server on 127.0.0.1 recording every POST."""
    receiver = Receiver(url="")
    lock = threading.Lock()

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            length = int(self.headers.get("content-length", "0"))
            body = self.rfile.read(length)
            with lock:
                status = receiver.statuses.pop(0) if receiver.statuses else 200
                receiver.received.append(
                    Received({k.lower(): v for k, v in self.headers.items()}, body)
                )
            self.send_response(status)
            self.send_header("content-length", "0")
            self.end_headers()

        def log_message(self, *args: Any) -> None:
            return None

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    receiver.url = f"http://127.0.0.1:{server.server_address[1]}/hooks/cloudbox?token=t0ken-in-url"
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield receiver
    finally:
        server.shutdown()
        server.server_close()
        thread.join(5)


# -- without the HTTP app: straight through the services (no consumer threads to stop) --


def new_project(runtime: Runtime, name: str = "Main") -> int:
    with runtime.db.transaction() as db:
        project = Project(name=name, description="", settings={})
        db.add(project)
        db.flush()
        return project.id


def new_policy(
    runtime: Runtime, project_id: int, now: Callable[[], datetime] = utcnow, **values: Any
) -> BackupPolicy:
    fields = {
        "name": "nightly",
        "schedule": "0 3 * * *",
        "timezone": "UTC",
        "enabled": True,
        "verify_after_backup": True,
        "restore_drill": False,
        "retention": {},
        **values,
    }
    with runtime.db.transaction() as db:
        row = service.create(db, runtime, project_id, fields, user_id=None, now=now)
    return row


def real_backup(runtime: Runtime, project_id: int, name: str = "manual") -> Backup:
    """A completed manual backup, made synchronously."""
    with runtime.db.transaction() as db:
        row = backups.create(
            db,
            runtime,
            project_id,
            name=name,
            description="",
            type="manual",
            actor=SYSTEM,
            user_id=None,
        )
    backups.run_backup(runtime, row.id)
    with runtime.db.session() as db:
        done = db.get(Backup, row.id)
    assert done is not None and done.status == "completed"
    return done

"""Helpers for tests that drive backups and restores through the API."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import pytest

from cloudbox.runtime import Runtime
from tests.plugins.api import Account


def create_backup(
    account: Account, project_id: int, name: str = "backup", **extra: Any
) -> dict[str, Any]:
    response = account.post(f"/api/projects/{project_id}/backups", json={"name": name, **extra})
    assert response.status_code == 201, response.text
    body: dict[str, Any] = response.json()
    assert body["status"] == "creating"
    return body


def wait_backup(account: Account, backup_id: int, timeout: float = 60) -> dict[str, Any]:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        body: dict[str, Any] = account.get(f"/api/backups/{backup_id}").json()
        if body["status"] != "creating":
            return body
        time.sleep(0.05)
    raise AssertionError(f"backup {backup_id} still creating after {timeout}s")


def completed_backup(account: Account, project_id: int, name: str = "backup") -> dict[str, Any]:
    body = wait_backup(account, create_backup(account, project_id, name)["id"])
    assert body["status"] == "completed", body
    return body


@contextmanager
def paused_blob_reads(
    runtime: Runtime, monkeypatch: pytest.MonkeyPatch
) -> Iterator[tuple[threading.Event, threading.Event]]:
    """Holds the first blob read of a backup until the test releases it: the backup is
    then running, inside its snapshot, for as long as the test needs.

    Yields (reached, release): `reached` is set when a backup is waiting on it.
    """
    reached, release = threading.Event(), threading.Event()
    original = runtime.blobs.open

    def held_open(sha256: str, start: int = 0, end: int | None = None) -> Any:
        reached.set()
        if not release.wait(30):
            raise TimeoutError("test never released the paused blob read")
        return original(sha256, start, end)

    monkeypatch.setattr(runtime.blobs, "open", held_open)
    try:
        yield reached, release
    finally:
        release.set()

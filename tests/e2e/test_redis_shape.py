"""The scale-out shape: the API process only enqueues, `cloudbox worker` processes run
the jobs through Redis, and the archive holds the same contents as the embedded shape's."""

from __future__ import annotations

import io
import tarfile
import time
import uuid
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.plugins.server import redis_url_or_skip, start_server, start_worker

pytestmark = [pytest.mark.e2e, pytest.mark.integration]


def _wait(client: httpx.Client, backup_id: int, timeout: float = 120) -> dict[str, Any]:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        body: dict[str, Any] = client.get(f"/api/backups/{backup_id}").json()
        if body["status"] != "creating":
            return body
        time.sleep(0.1)
    raise AssertionError("backup did not finish")


def _contents(data: bytes) -> dict[str, bytes]:
    """Members that depend only on the project's data (not on when or where it ran)."""
    with tarfile.open(fileobj=io.BytesIO(data)) as tar:
        return {
            m.name: tar.extractfile(m).read()  # type: ignore[union-attr]
            for m in tar.getmembers()
            if m.name.startswith(("data/", "blobs/")) and m.name != "data/audit_logs.ndjson"
        }


def test_worker_processes_on_redis_make_the_same_archive(tmp_path: Path) -> None:
    redis_url = redis_url_or_skip()
    data_dir = tmp_path / "data"
    env = {
        "CLOUDBOX_REDIS_URL": redis_url,
        "CLOUDBOX_QUEUE_NAME": f"test-{uuid.uuid4().hex}",
        "CLOUDBOX_JOB_PROGRESS_INTERVAL_SECONDS": "0.1",
    }
    server = start_server(data_dir, env)
    worker = start_worker(data_dir, env)
    try:
        client = httpx.Client(base_url=server.base_url, timeout=30)
        token = client.post(
            "/api/auth/register",
            json={"email": "ops@example.com", "password": "ops-password", "name": "Ops"},
        ).json()["token"]
        client.headers["Authorization"] = f"Bearer {token}"
        pid = client.post("/api/projects", json={"name": "Scaled"}).json()["id"]
        client.post(f"/api/projects/{pid}/collections", json={"name": "posts"})
        for n in range(30):
            client.post(
                f"/api/projects/{pid}/collections/posts/documents",
                json={"id": f"d{n}", "data": {"n": n}},
            )
        client.post(f"/api/projects/{pid}/buckets", json={"name": "media"})
        client.post(
            f"/api/projects/{pid}/buckets/media/files",
            files={"file": ("a.bin", b"\x00\x01" * 300_000, "application/octet-stream")},
        )
        created = client.post(f"/api/projects/{pid}/backups", json={"name": "on redis"}).json()
        scaled = _wait(client, created["id"])
        assert scaled["status"] == "completed", scaled
        scaled_archive = client.get(f"/api/backups/{scaled['id']}/download").content
        client.close()
    finally:
        worker.terminate()
        worker.wait(30)
        server.stop()

    # the same data directory in the embedded shape
    embedded = start_server(data_dir, {"CLOUDBOX_JOB_PROGRESS_INTERVAL_SECONDS": "0.1"})
    try:
        client = httpx.Client(base_url=embedded.base_url, timeout=30)
        token = client.post(
            "/api/auth/login", json={"email": "ops@example.com", "password": "ops-password"}
        ).json()["token"]
        client.headers["Authorization"] = f"Bearer {token}"
        created = client.post(f"/api/projects/{pid}/backups", json={"name": "embedded"}).json()
        local = _wait(client, created["id"])
        assert local["status"] == "completed", local
        local_archive = client.get(f"/api/backups/{local['id']}/download").content
        client.close()
    finally:
        embedded.stop()
    scaled_contents, local_contents = _contents(scaled_archive), _contents(local_archive)
    assert set(scaled_contents) == set(local_contents)
    assert scaled_contents == local_contents
    assert any(name.startswith("blobs/") for name in scaled_contents)

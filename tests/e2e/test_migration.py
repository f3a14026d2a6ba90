"""Moving a project between two server processes: download from one, import into the
other, restore. The same MASTER_KEY gives an identical project; another key is refused
with MASTER_KEY_MISMATCH before anything is written."""

from __future__ import annotations

import hashlib
import os
import time
from contextlib import closing
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.plugins.server import ServerProcess, start_server

pytestmark = pytest.mark.e2e

FILE_BYTES = os.urandom(300_000)


def _client(server: ServerProcess, email: str) -> httpx.Client:
    client = httpx.Client(base_url=server.base_url, timeout=60)
    token = client.post(
        "/api/auth/register", json={"email": email, "password": "migration-password", "name": "M"}
    ).json()["token"]
    client.headers["Authorization"] = f"Bearer {token}"
    return client


def _ok(response: httpx.Response, status: int = 200) -> Any:
    assert response.status_code == status, response.text
    return response.json() if response.content else None


def _snapshot(client: httpx.Client, pid: int) -> dict[str, Any]:
    base = f"/api/projects/{pid}"
    documents = _ok(client.get(f"{base}/collections/posts/documents", params={"limit": 1000}))
    files = _ok(client.get(f"{base}/buckets/media/files"))
    contents = {
        f["id"]: hashlib.sha256(
            client.get(f"{base}/buckets/media/files/{f['id']}/content").content
        ).hexdigest()
        for f in files
    }
    functions = _ok(client.get(f"{base}/functions"))
    return {
        "documents": sorted((d["id"], d["data"], d["version"]) for d in documents),
        "files": sorted((f["id"], f["name"], f["checksum"]) for f in files),
        "contents": contents,
        "functions": sorted((f["id"], f["name"], tuple(f["secret_names"])) for f in functions),
    }


def _wait_backup(client: httpx.Client, backup_id: int) -> dict[str, Any]:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        backup: dict[str, Any] = _ok(client.get(f"/api/backups/{backup_id}"))
        if backup["status"] != "creating":
            return backup
        time.sleep(0.1)
    raise AssertionError("backup did not finish")


def test_move_a_project_between_servers(tmp_path: Path) -> None:
    source = start_server(tmp_path / "a")
    try:
        with closing(_client(source, "owner@a.example")) as a:
            pid = _ok(a.post("/api/projects", json={"name": "Moving"}), 201)["id"]
            base = f"/api/projects/{pid}"
            _ok(a.post(f"{base}/collections", json={"name": "posts"}), 201)
            for n in range(25):
                _ok(
                    a.post(
                        f"{base}/collections/posts/documents",
                        json={"id": f"p{n}", "data": {"n": n}},
                    ),
                    201,
                )
            _ok(a.post(f"{base}/buckets", json={"name": "media"}), 201)
            _ok(
                a.post(
                    f"{base}/buckets/media/files",
                    files={"file": ("a.bin", FILE_BYTES, "application/octet-stream")},
                ),
                201,
            )
            _ok(
                a.post(
                    f"{base}/functions",
                    json={
                        "name": "f",
                        "runtime": "python3.12",
                        "entry_point": "main.handler",
                        "code": "x",
                        "secrets": {"TOKEN": "s3cr3t-value"},
                    },
                ),
                201,
            )
            _ok(
                a.post(
                    f"{base}/users",
                    json={"email": "end@user.example", "password": "end-user-password"},
                ),
                201,
            )
            before = _snapshot(a, pid)
            backup = _wait_backup(
                a, _ok(a.post(f"{base}/backups", json={"name": "to move"}), 201)["id"]
            )
            archive = a.get(f"/api/backups/{backup['id']}/download").content
            assert "sha256:" + hashlib.sha256(archive).hexdigest() == backup["checksum"]
    finally:
        source.stop()

    same_key = start_server(tmp_path / "b")
    try:
        with closing(_client(same_key, "owner@b.example")) as b:
            target = _ok(b.post("/api/projects", json={"name": "Arrived"}), 201)["id"]
            imported = _ok(
                b.post(
                    f"/api/projects/{target}/backups/import",
                    content=archive,
                    headers={
                        "Content-Type": "application/gzip",
                        "X-Checksum-SHA256": hashlib.sha256(archive).hexdigest(),
                    },
                ),
                201,
            )
            assert imported["checksum"] == backup["checksum"] and imported["status"] == "completed"
            answer = _ok(
                b.post(
                    f"/api/backups/{imported['id']}/restore", json={"keep_credentials_active": True}
                )
            )
            assert answer["message"] == "Backup restore completed successfully"
            assert answer["target_project_id"] == target
            assert _snapshot(b, target) == before
            login = b.post(
                f"/api/projects/{target}/auth/login",
                json={"email": "end@user.example", "password": "end-user-password"},
            )
            assert login.status_code == 200, login.text
    finally:
        same_key.stop()

    other_key = start_server(
        tmp_path / "c", {"MASTER_KEY": "a-completely-different-master-key-0001"}
    )
    try:
        with closing(_client(other_key, "owner@c.example")) as c:
            target = _ok(c.post("/api/projects", json={"name": "Wrong key"}), 201)["id"]
            _ok(c.post(f"/api/projects/{target}/collections", json={"name": "posts"}), 201)
            imported = _ok(
                c.post(
                    f"/api/projects/{target}/backups/import",
                    content=archive,
                    headers={"Content-Type": "application/gzip"},
                ),
                201,
            )
            refused = c.post(f"/api/backups/{imported['id']}/restore", json={})
            assert refused.status_code == 422, refused.text
            assert refused.json()["error"]["code"] == "MASTER_KEY_MISMATCH"
            assert _ok(c.get(f"/api/projects/{target}/collections/posts/documents")) == []
            assert _ok(c.get(f"/api/projects/{target}/backups"))[0]["type"] == "manual"
            assert (
                len(_ok(c.get(f"/api/projects/{target}/backups"))) == 1
            )  # no pre-restore backup was taken
    finally:
        other_key.stop()

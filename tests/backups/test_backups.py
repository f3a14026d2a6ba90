"""Backups through the HTTP API: creation in the background, the archive's contents,
progress, snapshot consistency, download, verify, delete, cancel and every error code."""

from __future__ import annotations

import hashlib
import io
import json
import subprocess
import tarfile
import time
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from cloudbox.archive import SECTIONS
from cloudbox.blobstore import StorageFull
from cloudbox.runtime import Runtime
from tests.plugins.api import Account, add_member, assert_error
from tests.plugins.jobs import completed_backup, create_backup, paused_blob_reads, wait_backup
from tests.plugins.populate import SECRET_MARKERS, populate


def _archive_path(runtime: Runtime, backup: dict[str, Any]) -> Path:
    path = runtime.archives.local_path(backup["file_path"])
    assert path is not None
    return path


def test_full_project_backup(
    account: Account, project: dict[str, Any], runtime: Runtime, tmp_path: Path
) -> None:
    pid = project["id"]
    populated = populate(account, pid)
    backup = completed_backup(account, pid, "Weekly Backup")

    # the spec's Backup Object, plus progress, version and creator
    for key in (
        "id",
        "name",
        "description",
        "type",
        "status",
        "size",
        "file_path",
        "checksum",
        "created_at",
        "completed_at",
        "project_id",
    ):
        assert key in backup
    assert backup["type"] == "manual" and backup["project_id"] == pid
    assert backup["file_path"] == f"backups/backup-{pid}-{backup['id']}.tar.gz"
    assert backup["progress"]["percent"] == 100 and backup["backup_version"] == "1.0"
    assert backup["created_by"]["email"] == account.email

    download = account.get(f"/api/backups/{backup['id']}/download")
    assert download.status_code == 200
    assert download.headers["content-type"] == "application/gzip"
    data = download.content
    assert int(download.headers["content-length"]) == len(data) == backup["size"]
    assert backup["checksum"] == "sha256:" + hashlib.sha256(data).hexdigest()
    archive = tmp_path / "backup.tar.gz"
    archive.write_bytes(data)

    listing = subprocess.run(
        ["tar", "tzf", str(archive)], capture_output=True, text=True, check=True
    ).stdout.split()
    assert listing[0] == "metadata.json" and listing[-1] == "manifest.json"
    assert [m for m in listing if m.startswith("data/")] == [f"data/{s}.ndjson" for s in SECTIONS]
    blobs = {m.removeprefix("blobs/") for m in listing if m.startswith("blobs/")}
    assert blobs == set(populated.files.values())  # each distinct content once

    with tarfile.open(archive) as tar:
        metadata = json.load(tar.extractfile("metadata.json"))  # type: ignore[arg-type]
        manifest = json.load(tar.extractfile("manifest.json"))  # type: ignore[arg-type]
        everything = b"".join(tar.extractfile(m).read() for m in tar.getmembers() if m.isfile())  # type: ignore[union-attr]
    assert metadata["project_id"] == pid and metadata["project_name"] == "Main"
    assert metadata["backup_type"] == "manual" and metadata["backup_version"] == "1.0"
    assert {"created_at", "cloudbox_version", "key_fingerprint"} <= set(metadata)
    assert manifest["sections"]["documents"]["rows"] == 20
    assert backup["sections"]["documents"] == 20 and backup["sections"]["files"] == len(
        populated.files
    )
    for section in (
        "functions",
        "function_domains",
        "ssh_keys",
        "github_repositories",
        "web_servers",
        "deployments",
        "users",
        "auth_settings",
        "api_keys",
        "cors_configs",
        "storage_buckets",
        "collections",
        "project",
        "audit_logs",
    ):
        assert backup["sections"][section] >= 1, section
    for secret in SECRET_MARKERS:
        assert secret.encode() not in everything, f"plaintext secret {secret} in the archive"
    assert populated.api_key.encode() not in everything


def test_progress_events_and_responsiveness(
    account: Account, project: dict[str, Any], runtime: Runtime, monkeypatch: pytest.MonkeyPatch
) -> None:
    pid = project["id"]
    populate(account, pid, file_sizes=(2 * 2**20,) * 6, documents=5)
    with paused_blob_reads(runtime, monkeypatch) as (reached, release):
        backup = create_backup(account, pid)
        assert reached.wait(10)
        # the API keeps answering while the backup runs
        started = time.monotonic()
        listed = account.get(f"/api/projects/{pid}/backups")
        assert listed.status_code == 200 and time.monotonic() - started < 1.0
        assert listed.json()[0]["status"] == "creating"
        release.set()
        events = account.get(f"/api/backups/{backup['id']}/events")
    assert events.status_code == 200 and events.headers["content-type"].startswith(
        "text/event-stream"
    )
    parsed = []
    for block in events.text.split("\n\n"):
        lines = dict(
            line.split(": ", 1)
            for line in block.splitlines()
            if ": " in line and not line.startswith(":")
        )
        if "event" in lines:
            parsed.append((lines["event"], json.loads(lines["data"])))
    assert parsed[-1][0] == "status" and parsed[-1][1]["status"] == "completed"
    percents = [data["percent"] for kind, data in parsed if kind == "progress"]
    assert percents == sorted(percents)
    final = wait_backup(account, backup["id"])
    assert final["progress"]["percent"] == 100


def test_progress_rises_monotonically_to_100(account: Account, project: dict[str, Any]) -> None:
    pid = project["id"]
    populate(account, pid, file_sizes=(4 * 2**20,) * 5, documents=50)
    backup = create_backup(account, pid)
    seen = []
    while True:
        body = account.get(f"/api/backups/{backup['id']}").json()
        seen.append(body["progress"]["percent"])
        if body["status"] != "creating":
            break
        time.sleep(0.01)
    assert body["status"] == "completed"
    assert seen == sorted(seen) and seen[-1] == 100


def test_writes_during_backup_do_not_enter_the_snapshot(
    account: Account, project: dict[str, Any], runtime: Runtime, monkeypatch: pytest.MonkeyPatch
) -> None:
    pid = project["id"]
    populate(account, pid, documents=10)
    base = f"/api/projects/{pid}"
    with paused_blob_reads(runtime, monkeypatch) as (reached, release):
        backup = create_backup(account, pid)
        assert reached.wait(10)
        # writers are not blocked by the running backup
        started = time.monotonic()
        assert (
            account.post(
                f"{base}/collections/posts/documents", json={"id": "late", "data": {"late": True}}
            ).status_code
            == 201
        )
        assert account.delete(f"{base}/collections/posts/documents/doc-0").status_code == 204
        assert (
            account.patch(
                f"{base}/collections/posts/documents/doc-1", json={"data": {"n": -1}}
            ).status_code
            == 200
        )
        assert time.monotonic() - started < 5
        release.set()
    done = wait_backup(account, backup["id"])
    assert done["status"] == "completed"
    with tarfile.open(_archive_path(runtime, done)) as tar:
        rows = [
            json.loads(line)
            for line in tar.extractfile("data/documents.ndjson").read().splitlines()
        ]  # type: ignore[union-attr]
    ids = {row["id"] for row in rows}
    assert "late" not in ids and "doc-0" in ids and len(rows) == 10
    doc1 = next(row for row in rows if row["id"] == "doc-1")
    assert "n" in json.dumps(doc1) and '"n":-1' not in json.dumps(doc1, separators=(",", ":"))


def test_one_job_per_project_and_other_projects_not_blocked(
    account: Account, project: dict[str, Any], runtime: Runtime, monkeypatch: pytest.MonkeyPatch
) -> None:
    pid = project["id"]
    other = account.create_project("Other")
    populate(account, pid, documents=1)
    with paused_blob_reads(runtime, monkeypatch) as (reached, release):
        running = create_backup(account, pid)
        assert reached.wait(10)
        assert_error(
            account.post(f"/api/projects/{pid}/backups", json={"name": "again"}),
            409,
            "BACKUP_IN_PROGRESS",
        )
        assert_error(
            account.post(f"/api/backups/{running['id']}/restore", json={}), 409, "BACKUP_INCOMPLETE"
        )
        assert_error(account.delete(f"/api/backups/{running['id']}"), 409, "BACKUP_IN_PROGRESS")
        assert_error(
            account.get(f"/api/backups/{running['id']}/download"), 409, "BACKUP_INCOMPLETE"
        )
        assert_error(account.post(f"/api/backups/{running['id']}/verify"), 409, "BACKUP_INCOMPLETE")
        # another project backs up meanwhile (it has no blobs, so it does not wait on the pause)
        other_backup = create_backup(account, other["id"])
        assert wait_backup(account, other_backup["id"])["status"] == "completed"
        release.set()
    assert wait_backup(account, running["id"])["status"] == "completed"
    assert create_backup(account, pid)["status"] == "creating"


def test_cancel_leaves_no_archive(
    account: Account, project: dict[str, Any], runtime: Runtime, monkeypatch: pytest.MonkeyPatch
) -> None:
    pid = project["id"]
    populate(account, pid, documents=1)
    with paused_blob_reads(runtime, monkeypatch) as (reached, release):
        backup = create_backup(account, pid)
        assert reached.wait(10)
        cancelled = account.post(f"/api/backups/{backup['id']}/cancel")
        assert cancelled.status_code == 200
        release.set()
        done = wait_backup(account, backup["id"])
    assert done["status"] == "failed" and done["error"]["code"] == "BACKUP_CANCELLED"
    assert not runtime.archives.exists(done["file_path"])
    assert list((runtime.settings.resolved_backup_dir / ".tmp").glob("*")) == []
    assert_error(account.post(f"/api/backups/{backup['id']}/cancel"), 409, "BACKUP_NOT_RUNNING")
    # the lock is released
    assert wait_backup(account, create_backup(account, pid)["id"])["status"] == "completed"


def test_delete_removes_row_and_archive(
    account: Account, project: dict[str, Any], runtime: Runtime
) -> None:
    backup = completed_backup(account, project["id"])
    assert runtime.archives.exists(backup["file_path"])
    assert account.delete(f"/api/backups/{backup['id']}").status_code == 204
    assert not runtime.archives.exists(backup["file_path"])
    assert_error(account.get(f"/api/backups/{backup['id']}"), 404, "BACKUP_NOT_FOUND")
    assert_error(account.delete(f"/api/backups/{backup['id']}"), 404, "BACKUP_NOT_FOUND")


def test_list_newest_first_and_paged(account: Account, project: dict[str, Any]) -> None:
    ids = [completed_backup(account, project["id"], f"b{n}")["id"] for n in range(3)]
    listed = account.get(f"/api/projects/{project['id']}/backups")
    assert [b["id"] for b in listed.json()] == list(reversed(ids))
    assert listed.headers["X-Total-Count"] == "3"
    page = account.get(f"/api/projects/{project['id']}/backups", params={"limit": 1, "offset": 1})
    assert [b["id"] for b in page.json()] == [ids[1]]


def test_download_ranges_and_digest(account: Account, project: dict[str, Any]) -> None:
    populate(account, project["id"], documents=3)
    backup = completed_backup(account, project["id"])
    url = f"/api/backups/{backup['id']}/download"
    full = account.get(url)
    digest = full.headers["digest"].removeprefix("sha-256=")
    import base64

    assert base64.b64decode(digest).hex() == backup["checksum"].removeprefix("sha256:")
    assert full.headers["repr-digest"] == f"sha-256=:{digest}:"
    assert "attachment" in full.headers["content-disposition"]
    part = account.get(url, headers={"Range": "bytes=10-99"})
    assert part.status_code == 206 and part.content == full.content[10:100]
    assert part.headers["content-range"] == f"bytes 10-99/{len(full.content)}"
    tail = account.get(url, headers={"Range": "bytes=-20"})
    assert tail.status_code == 206 and tail.content == full.content[-20:]
    assert_error(
        account.get(url, headers={"Range": f"bytes={len(full.content)}-"}),
        416,
        "RANGE_NOT_SATISFIABLE",
    )


def test_verify_detects_a_damaged_archive(
    account: Account, project: dict[str, Any], runtime: Runtime
) -> None:
    populate(account, project["id"], documents=3)
    backup = completed_backup(account, project["id"])
    report = account.post(f"/api/backups/{backup['id']}/verify").json()
    assert report["ok"] is True and report["problems"] == [] and report["checked_members"] > 3
    assert report["checksum"] == backup["checksum"]
    assert account.get(f"/api/backups/{backup['id']}").json()["verified_at"] is not None
    path = _archive_path(runtime, backup)
    data = bytearray(path.read_bytes())
    data[len(data) // 2] ^= 0x40
    path.write_bytes(bytes(data))
    damaged = account.post(f"/api/backups/{backup['id']}/verify").json()
    assert damaged["ok"] is False and damaged["problems"]
    assert damaged["problems"][0]["code"] in ("INVALID_ARCHIVE", "CHECKSUM_MISMATCH")


def test_validation_and_not_found(account: Account, project: dict[str, Any]) -> None:
    pid = project["id"]
    url = f"/api/projects/{pid}/backups"
    assert_error(account.post(url, json={"name": "x", "type": "weekly"}), 422, "VALIDATION_ERROR")
    assert_error(account.post(url, json={"name": ""}), 422, "VALIDATION_ERROR")
    assert_error(account.post(url, json={"name": "x", "surprise": 1}), 422, "VALIDATION_ERROR")
    assert account.get(url).headers["X-Total-Count"] == "0"
    assert_error(account.get("/api/backups/424242"), 404, "BACKUP_NOT_FOUND")
    assert_error(account.get("/api/backups/abc"), 422, "VALIDATION_ERROR")
    automatic = create_backup(account, pid, type="automatic")
    assert automatic["type"] == "automatic"


def test_permissions(
    client: TestClient, account: Account, other_account: Account, project: dict[str, Any]
) -> None:
    pid = project["id"]
    backup = completed_backup(account, pid)
    url = f"/api/backups/{backup['id']}"
    developer = add_member(account, pid, "developer", client)
    viewer = add_member(account, pid, "viewer", client)
    assert developer.get(url).status_code == 200
    assert developer.get(f"/api/projects/{pid}/backups").status_code == 200
    assert_error(developer.get(f"{url}/download"), 403, "INSUFFICIENT_PERMISSIONS")
    assert_error(developer.delete(url), 403, "INSUFFICIENT_PERMISSIONS")
    assert_error(developer.post(f"{url}/restore", json={}), 403, "INSUFFICIENT_PERMISSIONS")
    assert_error(
        viewer.post(f"/api/projects/{pid}/backups", json={"name": "v"}),
        403,
        "INSUFFICIENT_PERMISSIONS",
    )
    assert_error(viewer.get(url), 403, "INSUFFICIENT_PERMISSIONS")
    # strangers learn nothing: the same answer as for a backup that does not exist
    assert other_account.get(url).json() == other_account.get("/api/backups/999999").json()
    assert_error(other_account.get(url), 404, "BACKUP_NOT_FOUND")
    # API keys need the backups scope
    plain = account.post(
        f"/api/projects/{pid}/api-keys", json={"name": "r", "scopes": ["read", "write"]}
    ).json()["key"]
    scoped = account.post(
        f"/api/projects/{pid}/api-keys", json={"name": "b", "scopes": ["backups"]}
    ).json()["key"]
    assert_error(client.get(url, headers={"X-API-Key": plain}), 403, "INSUFFICIENT_PERMISSIONS")
    assert client.get(url, headers={"X-API-Key": scoped}).status_code == 200
    created = client.post(
        f"/api/projects/{pid}/backups", headers={"X-API-Key": scoped}, json={"name": "by key"}
    )
    assert created.status_code == 201 and created.json()["created_by"]["type"] == "api_key"
    wait_backup(account, created.json()["id"])
    assert account.get(f"{url}/download").status_code == 200
    # every backup operation is audited with its actor
    actions = {
        e["action"]
        for e in account.get(f"/api/projects/{pid}/audit-logs", params={"limit": 200}).json()
    }
    assert {"backups.create", "backups.completed", "backups.download"} <= actions


def test_storage_full_up_front_by_quota(
    account: Account, project: dict[str, Any], runtime: Runtime, monkeypatch: pytest.MonkeyPatch
) -> None:
    pid = project["id"]
    populate(account, pid, file_sizes=(2 * 2**20,), documents=1)
    monkeypatch.setattr(
        runtime.settings, "backup_quota_bytes", 1024, raising=False
    ) if False else None
    object.__setattr__(runtime.settings, "backup_quota_bytes", 1024)
    body = assert_error(
        account.post(f"/api/projects/{pid}/backups", json={"name": "too big"}), 507, "STORAGE_FULL"
    )
    assert body["error"]["details"]["quota_bytes"] == 1024
    assert account.get(f"/api/projects/{pid}/backups").headers["X-Total-Count"] == "0"
    object.__setattr__(runtime.settings, "backup_quota_bytes", 0)


def test_storage_full_up_front_by_free_space(
    account: Account, project: dict[str, Any], runtime: Runtime, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(runtime.archives, "free_bytes", lambda: 1024)
    assert_error(
        account.post(f"/api/projects/{project['id']}/backups", json={"name": "x"}),
        507,
        "STORAGE_FULL",
    )


def test_disk_full_midway_fails_cleanly(
    account: Account, project: dict[str, Any], runtime: Runtime, monkeypatch: pytest.MonkeyPatch
) -> None:
    """ENOSPC while the archive is written: STORAGE_FULL, no partial archive, and the
    server keeps serving."""
    pid = project["id"]
    populate(account, pid, file_sizes=(3 * 2**20,), documents=5)
    original_writer = runtime.archives.writer

    class FullDisk(io.RawIOBase):
        def __init__(self, inner: Any) -> None:
            self.inner, self.written = inner, 0

        def writable(self) -> bool:
            return True

        def write(self, data: Any) -> int:
            self.written += len(data)
            if self.written > 64 * 1024:
                raise StorageFull("No space left on device")
            return int(self.inner.write(data))

    from contextlib import contextmanager

    @contextmanager
    def full_writer(key: str) -> Any:
        with original_writer(key) as inner:
            yield FullDisk(inner)

    monkeypatch.setattr(runtime.archives, "writer", full_writer)
    backup = wait_backup(account, create_backup(account, pid)["id"])
    assert backup["status"] == "failed" and backup["error"]["code"] == "STORAGE_FULL"
    assert not runtime.archives.exists(backup["file_path"])
    assert list((runtime.settings.resolved_backup_dir / ".tmp").glob("*")) == []
    assert account.get("/api/health").status_code == 200
    monkeypatch.setattr(runtime.archives, "writer", original_writer)
    assert wait_backup(account, create_backup(account, pid)["id"])["status"] == "completed"


def test_recovery_removes_an_abandoned_partial_archive_on_any_pass(runtime: Runtime) -> None:
    """A dead job's partial archive can still be younger than the age limit on the pass
    that fails its row; later passes, which fail nothing, must still remove it."""
    import os

    from cloudbox.backups import service as backup_service
    from cloudbox.blobstore.local import TMP_DIR_NAME, LocalObjectStore

    assert isinstance(runtime.archives, LocalObjectStore)
    tmp = runtime.archives.root / TMP_DIR_NAME
    abandoned, live = tmp / "part-abandoned", tmp / "part-live"
    abandoned.write_bytes(b"half an archive")
    live.write_bytes(b"being written")
    old = time.time() - runtime.settings.job_heartbeat_timeout_seconds - 5
    os.utime(abandoned, (old, old))
    assert backup_service.recover(runtime) == []  # nothing to fail
    assert not abandoned.exists()
    assert live.exists()  # touched recently: a live writer's


def test_a_pre_restore_backup_that_never_started_is_recovered_after_the_heartbeat_timeout(
    runtime: Runtime, project: dict[str, Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    """A restore runs its pre-restore backup itself, at once; killed between creating the
    row and starting it, the row must not wait the queue timeout (an hour) in
    `creating`, as if a queue still held its job."""
    from datetime import timedelta

    from cloudbox.backups import service as backup_service
    from cloudbox.backups.models import Backup
    from cloudbox.db.types import utcnow
    from cloudbox.restores import service as restore_service

    backup_id = restore_service.create_pre_restore_backup(runtime, project["id"], restore_id=0)
    later = utcnow() + timedelta(seconds=runtime.settings.job_heartbeat_timeout_seconds + 5)
    assert later < utcnow() + timedelta(seconds=runtime.settings.job_queue_timeout_seconds)
    monkeypatch.setattr(backup_service, "utcnow", lambda: later)
    assert backup_service.recover(runtime) == [backup_id]
    with runtime.db.session() as session:
        row = session.get(Backup, backup_id)
        assert row is not None
        assert (row.status, row.error_code) == ("failed", "BACKUP_INTERRUPTED")

"""Importing an archive: multipart or raw gzip, verified completely before it becomes a
backup; a bad archive is refused and leaves nothing behind."""

from __future__ import annotations

import gzip
import hashlib
from pathlib import Path
from typing import Any

from cloudbox.runtime import Runtime
from tests.plugins.api import Account, add_member, assert_error
from tests.plugins.jobs import completed_backup
from tests.plugins.populate import populate


def _archive_files(runtime: Runtime) -> list[Path]:
    root = runtime.settings.resolved_backup_dir
    return sorted(p for p in root.rglob("*") if p.is_file()) if root.exists() else []


def _downloaded(account: Account, project_id: int) -> tuple[dict[str, Any], bytes]:
    populate(account, project_id, file_sizes=(300_000,), documents=5)
    backup = completed_backup(account, project_id)
    data = account.get(f"/api/backups/{backup['id']}/download").content
    return backup, data


def test_multipart_import_becomes_a_completed_backup(
    account: Account, project: dict[str, Any]
) -> None:
    backup, data = _downloaded(account, project["id"])
    other = account.create_project("Other")
    response = account.post(
        f"/api/projects/{other['id']}/backups/import",
        files={"file": ("backup.tar.gz", data, "application/gzip")},
        data={"name": "moved", "description": "from Main", "sha256": backup["checksum"]},
    )
    assert response.status_code == 201, response.text
    imported = response.json()
    assert imported["status"] == "completed" and imported["origin"] == "import"
    assert imported["checksum"] == backup["checksum"] and imported["size"] == len(data)
    assert imported["project_id"] == other["id"] and imported["name"] == "moved"
    assert imported["sections"] == backup["sections"]
    again = account.get(f"/api/backups/{imported['id']}/download").content
    assert again == data
    assert account.post(f"/api/backups/{imported['id']}/verify").json()["ok"] is True


def test_raw_gzip_import(account: Account, project: dict[str, Any]) -> None:
    backup, data = _downloaded(account, project["id"])
    response = account.post(
        f"/api/projects/{project['id']}/backups/import",
        content=data,
        headers={
            "Content-Type": "application/gzip",
            "X-Checksum-SHA256": hashlib.sha256(data).hexdigest(),
            "X-Backup-Name": "raw upload",
        },
    )
    assert response.status_code == 201, response.text
    assert response.json()["name"] == "raw upload"
    assert response.json()["checksum"] == backup["checksum"]


def test_bad_archives_leave_nothing_behind(
    account: Account, project: dict[str, Any], runtime: Runtime
) -> None:
    _, data = _downloaded(account, project["id"])
    url = f"/api/projects/{project['id']}/backups/import"
    before_rows = account.get(f"/api/projects/{project['id']}/backups").headers["X-Total-Count"]
    before_files = _archive_files(runtime)
    bad_cases = {
        "not gzip": b"this is not an archive",
        "truncated": data[: len(data) // 2],
        "trailing byte": data + b"\x00",
        "flipped bit": data[:100] + bytes([data[100] ^ 1]) + data[101:],
        "gzip of garbage": gzip.compress(b"x" * 10_000),
        "empty": b"",
    }
    for case, payload in bad_cases.items():
        response = account.post(url, files={"file": ("x.tar.gz", payload, "application/gzip")})
        body = assert_error(response, 422, "INVALID_ARCHIVE")
        assert body["error"]["details"]["reason"], case
    mismatch = account.post(
        url, files={"file": ("x.tar.gz", data, "application/gzip")}, data={"sha256": "0" * 64}
    )
    assert_error(mismatch, 422, "INVALID_ARCHIVE")
    raw_mismatch = account.post(
        url,
        content=data,
        headers={"Content-Type": "application/gzip", "X-Checksum-SHA256": "f" * 64},
    )
    assert_error(raw_mismatch, 422, "INVALID_ARCHIVE")
    assert (
        account.get(f"/api/projects/{project['id']}/backups").headers["X-Total-Count"]
        == before_rows
    )
    assert _archive_files(runtime) == before_files


def test_import_input_errors(client: Any, account: Account, project: dict[str, Any]) -> None:
    url = f"/api/projects/{project['id']}/backups/import"
    assert_error(account.post(url, json={"file": "nope"}), 415, "UNSUPPORTED_MEDIA_TYPE")
    assert_error(
        account.post(url, files={"other": ("x", b"y", "text/plain")}), 422, "VALIDATION_ERROR"
    )
    assert_error(
        account.post(
            url,
            content=b"x",
            headers={"Content-Type": "application/gzip", "X-Checksum-SHA256": "xyz"},
        ),
        422,
        "VALIDATION_ERROR",
    )
    developer = add_member(account, project["id"], "developer", client)
    assert_error(
        developer.post(url, content=b"x", headers={"Content-Type": "application/gzip"}),
        403,
        "INSUFFICIENT_PERMISSIONS",
    )

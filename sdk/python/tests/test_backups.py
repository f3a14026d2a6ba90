"""client.backups against a live server, with both clients."""

from __future__ import annotations

import hashlib
import io
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from cloudbox_sdk import (
    Backup,
    BackupEvent,
    BackupIncomplete,
    BackupInProgress,
    BackupNotFound,
    BackupNotRunning,
    CloudBoxError,
    Conflict,
    DownloadResult,
    InsufficientPermissions,
    InvalidArchive,
    NotFound,
    Page,
    VerifyResult,
)
from conftest import Account


def seed(account: Account) -> None:
    client = account.client
    client.collections.create("notes")
    client.documents.create("notes", {"title": "one"}, id="n1")
    client.documents.create("notes", {"title": "two"}, id="n2")
    client.buckets.create("files")
    client.files.upload("files", b"file content " * 100, filename="a.txt")


def completed(account: Account, name: str = "backup") -> Backup:
    backup = account.client.backups.create(name=name)
    done: Backup = account.client.backups.wait_for_completion(backup.id, interval=0.05)
    assert done.status == "completed", done.error
    return done


def test_create_then_wait_for_completion(owner: Account) -> None:
    seed(owner)
    backups = owner.client.backups
    backup = backups.create(
        name="Weekly Backup", description="Automated weekly backup", type="manual"
    )
    assert isinstance(backup, Backup)
    assert backup.status == "creating"
    assert (backup.name, backup.description, backup.type) == (
        "Weekly Backup",
        "Automated weekly backup",
        "manual",
    )
    assert backup.project_id == owner.project_id
    assert backup.size is None and backup.checksum is None

    seen: list[Backup] = []
    done = backups.wait_for_completion(backup.id, on_progress=seen.append, interval=0.05)
    assert done.status == "completed"
    assert done.is_done and done.error is None
    assert done.size is not None and done.size > 0
    assert done.checksum is not None and done.checksum.startswith("sha256:")
    assert done.sha256 == done.checksum.removeprefix("sha256:")
    assert done.completed_at is not None
    assert done.progress.percent == 100.0
    assert done.sections["documents"] == 2
    assert done.sections["files"] == 1
    assert seen and seen[-1].status == "completed"
    assert all(isinstance(b, Backup) for b in seen)


def test_create_automatic_type(owner: Account) -> None:
    backup = owner.client.backups.create("nightly", "scheduled", "automatic")
    assert backup.type == "automatic"
    owner.client.backups.wait_for_completion(backup, interval=0.05)


def test_list_and_get(owner: Account) -> None:
    first = completed(owner, "first")
    second = completed(owner, "second")
    listed = owner.client.backups.list()
    assert isinstance(listed, Page)
    assert [b.id for b in listed] == [second.id, first.id]  # newest first
    assert listed.total == 2
    assert [b.id for b in owner.client.backups.list(limit=1, offset=1)] == [first.id]
    got = owner.client.backups.get(first.id)
    assert (got.id, got.name, got.checksum) == (first.id, "first", first.checksum)


def test_get_unknown_backup(owner: Account) -> None:
    with pytest.raises(BackupNotFound) as info:
        owner.client.backups.get(2_000_000_000)
    assert isinstance(info.value, NotFound)
    assert (info.value.status, info.value.code) == (404, "BACKUP_NOT_FOUND")
    assert info.value.message == "Backup not found"


def test_a_stranger_gets_backup_not_found(owner: Account, stranger: Account) -> None:
    backup = completed(owner)
    with pytest.raises(BackupNotFound):
        stranger.client.backups.get(backup.id)
    with pytest.raises(BackupNotFound):
        stranger.client.backups.download(backup.id, io.BytesIO())


def test_events(owner: Account) -> None:
    seed(owner)
    backup = owner.client.backups.create(name="watched")
    events = list(owner.client.backups.events(backup.id))
    assert events, "no events"
    assert all(isinstance(e, BackupEvent) for e in events)
    *progress, final = events
    assert final.event == "status"
    assert final.backup is not None and final.backup.status == "completed"
    assert final.backup.id == backup.id
    assert all(e.event == "progress" for e in progress)
    for event in progress:
        assert event.progress is not None
        assert event.data["id"] == backup.id and event.status == "creating"
    # a finished backup answers with its status event at once
    again = list(owner.client.backups.events(backup.id))
    assert [e.event for e in again] == ["status"]


def test_events_of_unknown_backup(owner: Account) -> None:
    with pytest.raises(BackupNotFound):
        list(owner.client.backups.events(2_000_000_000))


def test_download_to_a_directory_a_path_and_a_file(owner: Account, tmp_path: Path) -> None:
    seed(owner)
    backup = completed(owner)
    assert backup.size is not None
    progress: list[tuple[int, int | None]] = []

    into_dir = owner.client.backups.download(
        backup.id, tmp_path, on_progress=lambda done, total: progress.append((done, total))
    )
    assert isinstance(into_dir, DownloadResult)
    expected_name = f"backup-{owner.project_id}-{backup.id}.tar.gz"
    assert into_dir.path == tmp_path / expected_name
    assert into_dir.filename == expected_name
    data = into_dir.path.read_bytes()
    assert len(data) == into_dir.size == backup.size
    assert hashlib.sha256(data).hexdigest() == into_dir.sha256 == backup.sha256
    assert progress[0] == (0, backup.size) and progress[-1] == (backup.size, backup.size)
    assert [p.name for p in tmp_path.iterdir()] == [expected_name]  # no temporary left

    to_path = owner.client.backups.download(backup, str(tmp_path / "named.tar.gz"))
    assert to_path.path == tmp_path / "named.tar.gz"
    assert to_path.path.read_bytes() == data

    buffer = io.BytesIO()
    to_file = owner.client.backups.download(backup.id, buffer)
    assert to_file.path is None
    assert buffer.getvalue() == data


def test_verify(owner: Account) -> None:
    seed(owner)
    backup = completed(owner)
    result = owner.client.backups.verify(backup.id)
    assert isinstance(result, VerifyResult)
    assert result.ok and result.problems == []
    assert result.checked_members > 2
    assert (result.checksum, result.size) == (backup.checksum, backup.size)
    assert owner.client.backups.get(backup.id).verified_at is not None


def test_delete(owner: Account) -> None:
    backup = completed(owner)
    owner.client.backups.delete(backup.id)
    with pytest.raises(BackupNotFound):
        owner.client.backups.get(backup.id)
    with pytest.raises(BackupNotFound):
        owner.client.backups.delete(backup.id)
    assert owner.client.backups.list() == []


def _while_creating(account: Account, checks: Callable[[Backup], None]) -> Backup:
    """Run ``checks`` against a backup that is still being created, then cancel it.
    A job can finish before the checks ran (a busy machine, a tiny project): then the
    attempt is repeated in a fresh project, and only a failure that happened while the
    backup was still ``creating`` counts."""
    client = account.client
    last: BaseException | None = None
    for attempt in range(5):
        if attempt:
            client.project_id = client.projects.create(f"retry {attempt}").id
        backup = client.backups.create(name="in flight")
        try:
            checks(backup)
            cancelled = client.backups.cancel(backup.id)
        except BackupNotRunning as exc:
            last = exc
            continue
        except (AssertionError, pytest.fail.Exception) as exc:  # e.g. "DID NOT RAISE"
            if _was_still_creating(client, backup.id):
                raise
            last = exc
            continue
        assert cancelled.id == backup.id
        final: Backup = client.backups.wait_for_completion(backup.id, interval=0.05)
        return final
    raise AssertionError(f"every backup finished before the checks ran: {last!r}")


def _was_still_creating(client: Any, backup_id: int) -> bool:
    try:
        status: str = client.backups.get(backup_id).status
    except BackupNotFound:  # deleted by a check that should have been refused
        return False
    return status == "creating"


def test_conflicts_while_a_backup_is_creating(owner: Account, tmp_path: Path) -> None:
    backups = owner.client.backups

    def checks(backup: Backup) -> None:
        with pytest.raises(BackupIncomplete) as incomplete:
            backups.download(backup.id, tmp_path)
        assert (incomplete.value.status, incomplete.value.code) == (409, "BACKUP_INCOMPLETE")
        assert isinstance(incomplete.value, Conflict)
        with pytest.raises(BackupInProgress) as busy:
            backups.create(name="second")
        assert busy.value.code == "BACKUP_IN_PROGRESS"
        with pytest.raises(BackupInProgress):
            backups.delete(backup.id)
        with pytest.raises(BackupIncomplete):
            backups.restore(backup.id)
        with pytest.raises(BackupIncomplete):
            backups.verify(backup.id)

    final = _while_creating(owner, checks)
    assert final.status == "failed"
    assert list(tmp_path.iterdir()) == []


def test_cancel(owner: Account) -> None:
    final = _while_creating(owner, lambda backup: None)
    assert final.status == "failed"
    assert final.error is not None and final.error.code == "BACKUP_CANCELLED"
    with pytest.raises(BackupNotRunning) as info:
        owner.client.backups.cancel(final.id)
    assert (info.value.status, info.value.code) == (409, "BACKUP_NOT_RUNNING")


def test_a_developer_may_back_up_but_not_download_restore_or_delete(
    owner: Account, new_account: Callable[..., Account], tmp_path: Path
) -> None:
    dev = new_account("Developer", "Dev project")
    owner.client.members.add(dev.email, "developer")
    dev.client.project_id = owner.project_id
    backup = dev.client.backups.create(name="by a developer")
    backup = dev.client.backups.wait_for_completion(backup.id, interval=0.05)
    assert backup.status == "completed"
    assert [b.id for b in dev.client.backups.list()] == [backup.id]
    assert dev.client.backups.verify(backup.id).ok

    forbidden: list[Callable[[], Any]] = [
        lambda: dev.client.backups.download(backup.id, tmp_path),
        lambda: dev.client.backups.restore(backup.id),
        lambda: dev.client.backups.delete(backup.id),
        lambda: dev.client.backups.import_archive(io.BytesIO(b"x" * 10), name="nope"),
    ]
    for attempt in forbidden:
        with pytest.raises(InsufficientPermissions) as info:
            attempt()
        assert (info.value.status, info.value.code) == (403, "INSUFFICIENT_PERMISSIONS")
    assert list(tmp_path.iterdir()) == []


def test_import_archive(owner: Account, tmp_path: Path) -> None:
    seed(owner)
    backup = completed(owner)
    archive = owner.client.backups.download(backup.id, tmp_path).path
    assert archive is not None
    target = owner.client.projects.create("Imported into")
    progress: list[tuple[int, int | None]] = []

    imported = owner.client.backups.import_archive(
        archive,
        name="from disk",
        description="uploaded by the SDK",
        on_progress=lambda done, total: progress.append((done, total)),
        project_id=target.id,
    )
    assert isinstance(imported, Backup)
    assert imported.status == "completed"
    assert imported.origin == "import"
    assert imported.project_id == target.id
    assert (imported.name, imported.description) == ("from disk", "uploaded by the SDK")
    assert imported.checksum == backup.checksum
    assert progress[-1] == (backup.size, backup.size)

    with archive.open("rb") as handle:
        again = owner.client.backups.import_(handle, sha256=backup.checksum, project_id=target.id)
    assert again.status == "completed" and again.id != imported.id
    listed = owner.client.backups.list(project_id=target.id)
    assert {b.id for b in listed} == {imported.id, again.id}


def test_import_refuses_a_bad_archive(owner: Account, tmp_path: Path) -> None:
    with pytest.raises(InvalidArchive) as garbage:
        owner.client.backups.import_archive(io.BytesIO(b"not a gzip file" * 50), name="junk")
    assert (garbage.value.status, garbage.value.code) == (422, "INVALID_ARCHIVE")

    backup = completed(owner)
    archive = owner.client.backups.download(backup.id, tmp_path).path
    assert archive is not None
    with pytest.raises(InvalidArchive):
        owner.client.backups.import_archive(archive, sha256="0" * 64)
    assert [b.id for b in owner.client.backups.list()] == [backup.id]  # nothing left behind


def test_import_checks_the_sha256_argument(owner: Account) -> None:
    with pytest.raises(ValueError, match="sha256"):
        owner.client.backups.import_archive(io.BytesIO(b"x"), sha256="not-hex")


def test_errors_carry_the_response(owner: Account) -> None:
    with pytest.raises(CloudBoxError) as info:
        owner.client.backups.get(2_000_000_000)
    assert info.value.response is not None
    assert info.value.response.status_code == 404
    assert "BACKUP_NOT_FOUND" in str(info.value)

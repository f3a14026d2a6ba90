"""client.backups.restore and client.restores against a live server, with both clients."""

from __future__ import annotations

import io
import json
from collections.abc import Callable

import pytest

from cloudbox_sdk import (
    Backup,
    BackupNotFound,
    CloudBoxError,
    DocumentNotFound,
    InsufficientPermissions,
    MasterKeyMismatch,
    Page,
    ProjectNotFound,
    Restore,
    RestoreNotFound,
    RestoreNotUndoable,
    RestoreResult,
)
from conftest import Account


def backed_up(account: Account) -> Backup:
    client = account.client
    client.collections.create("notes")
    client.documents.create("notes", {"title": "kept"}, id="n1")
    backup = client.backups.create(name="before")
    done: Backup = client.backups.wait_for_completion(backup.id, interval=0.05)
    assert done.status == "completed", done.error
    return done


def test_restore_into_the_same_project(owner: Account) -> None:
    backup = backed_up(owner)
    owner.client.documents.delete("notes", "n1")
    owner.client.documents.create("notes", {"title": "added later"}, id="n2")

    result = owner.client.backups.restore(backup.id)
    assert isinstance(result, RestoreResult)
    assert result.message == "Backup restore completed successfully"
    assert result.target_project_id == owner.project_id
    restore = result.restore
    assert isinstance(restore, Restore)
    assert (restore.status, restore.backup_id, restore.dry_run) == ("completed", backup.id, False)
    assert restore.pre_restore_backup_id is not None

    assert owner.client.documents.get("notes", "n1").data == {"title": "kept"}
    with pytest.raises(DocumentNotFound):
        owner.client.documents.get("notes", "n2")


def test_restore_into_another_project(owner: Account) -> None:
    backup = backed_up(owner)
    target = owner.client.projects.create("Target")
    result = owner.client.backups.restore(backup.id, target_project_id=target.id)
    assert result.target_project_id == target.id
    assert result.restore.source_project_id == owner.project_id
    copied = owner.client.documents.get("notes", "n1", project_id=target.id)
    assert copied.data == {"title": "kept"}


def test_dry_run_changes_nothing(owner: Account) -> None:
    backup = backed_up(owner)
    owner.client.documents.delete("notes", "n1")
    result = owner.client.backups.restore(backup.id, dry_run=True)
    assert result.restore.dry_run is True
    assert result.restore.status == "completed"
    assert "documents" in result.restore.plan["sections"]
    with pytest.raises(DocumentNotFound):
        owner.client.documents.get("notes", "n1")


def test_restore_options(owner: Account) -> None:
    backup = backed_up(owner)
    owner.client.documents.delete("notes", "n1")
    result = owner.client.backups.restore(
        backup.id,
        sections=["collections", "documents"],
        pre_restore_backup=False,
        keep_credentials_active=True,
    )
    restore = result.restore
    assert restore.options["sections"] == ["collections", "documents"]
    assert restore.options["pre_restore_backup"] is False
    assert restore.options["keep_credentials_active"] is True
    assert restore.pre_restore_backup_id is None
    assert owner.client.documents.get("notes", "n1").data == {"title": "kept"}
    with pytest.raises(RestoreNotUndoable) as info:
        owner.client.restores.undo(restore.id)
    assert (info.value.status, info.value.code) == (409, "RESTORE_NOT_UNDOABLE")


def test_restore_without_waiting_then_get_list_and_wait(owner: Account) -> None:
    backup = backed_up(owner)
    started = owner.client.backups.restore(backup.id, wait=False)
    assert isinstance(started, Restore)
    assert started.status in ("pending", "running")

    seen: list[Restore] = []
    done = owner.client.restores.wait_for_completion(
        started.id, on_progress=seen.append, interval=0.05
    )
    assert done.status == "completed" and done.is_done
    assert seen[-1].status == "completed"
    got = owner.client.restores.get(started.id)
    assert (got.id, got.status) == (started.id, "completed")

    listed = owner.client.restores.list()
    assert isinstance(listed, Page)
    assert started.id in [r.id for r in listed]
    assert listed.total is not None and listed.total >= 1


def test_undo(owner: Account) -> None:
    backup = backed_up(owner)
    owner.client.documents.create("notes", {"title": "after the backup"}, id="n2")
    restored = owner.client.backups.restore(backup.id).restore
    with pytest.raises(DocumentNotFound):
        owner.client.documents.get("notes", "n2")

    undone = owner.client.restores.undo(restored.id)
    assert isinstance(undone, RestoreResult)
    assert undone.restore.undo_of == restored.id
    assert undone.restore.status == "completed"
    assert owner.client.documents.get("notes", "n2").data == {"title": "after the backup"}


def test_undo_without_waiting(owner: Account) -> None:
    backup = backed_up(owner)
    restored = owner.client.backups.restore(backup.id).restore
    started = owner.client.restores.undo(restored.id, wait=False)
    assert isinstance(started, Restore)
    assert started.undo_of == restored.id
    done = owner.client.restores.wait_for_completion(started.id, interval=0.05)
    assert done.status == "completed"


def test_restore_errors(owner: Account, stranger: Account) -> None:
    with pytest.raises(BackupNotFound) as missing:
        owner.client.backups.restore(2_000_000_000)
    assert (missing.value.status, missing.value.code) == (404, "BACKUP_NOT_FOUND")

    backup = backed_up(owner)
    with pytest.raises(ProjectNotFound):
        owner.client.backups.restore(backup.id, target_project_id=stranger.project_id)
    with pytest.raises(BackupNotFound):
        stranger.client.backups.restore(backup.id, target_project_id=stranger.project_id)
    with pytest.raises(RestoreNotFound) as no_restore:
        owner.client.restores.get(2_000_000_000)
    assert no_restore.value.code == "RESTORE_NOT_FOUND"
    with pytest.raises(RestoreNotFound):
        owner.client.restores.undo(2_000_000_000)


def test_a_viewer_cannot_restore(owner: Account, new_account: Callable[..., Account]) -> None:
    backup = backed_up(owner)
    viewer = new_account("Viewer", "Own")
    owner.client.members.add(viewer.email, "viewer")
    viewer.client.project_id = owner.project_id
    with pytest.raises(InsufficientPermissions) as info:
        viewer.client.backups.restore(backup.id)
    assert (info.value.status, info.value.code) == (403, "INSUFFICIENT_PERMISSIONS")
    with pytest.raises(InsufficientPermissions):
        viewer.client.restores.list()


def _rekeyed(archive: bytes) -> bytes:
    """The archive rewritten as if made under another MASTER_KEY (it stays valid, so it
    imports; restoring it fails). Uses the server package's archive library."""
    archive_lib = pytest.importorskip("cloudbox.archive")
    verified = archive_lib.verify_archive(io.BytesIO(archive))
    reserved = {"backup_version", "key_fingerprint", "sections"}
    metadata = {k: v for k, v in verified.metadata.items() if k not in reserved}
    out = io.BytesIO()
    writer = archive_lib.ArchiveWriter(
        out,
        metadata=metadata,
        key_fingerprint="sha256:" + "cd" * 32,
        sections=list(verified.sections),
    )
    for member in archive_lib.ArchiveReader(io.BytesIO(archive), verified):
        if member.kind == "section":
            rows = [json.dumps(row, separators=(",", ":")).encode() for row in member.rows()]
            writer.write_section(member.section, rows)
        elif member.kind == "blob":
            writer.write_blob(member.name.removeprefix("blobs/"), member.size, member.chunks())
    writer.close()
    data: bytes = out.getvalue()
    return data


def test_a_failed_restore_raises_its_code(owner: Account) -> None:
    backup = backed_up(owner)
    archive = io.BytesIO()
    owner.client.backups.download(backup.id, archive)
    foreign = owner.client.backups.import_archive(
        io.BytesIO(_rekeyed(archive.getvalue())), name="from another server"
    )
    assert foreign.status == "completed"

    with pytest.raises(MasterKeyMismatch) as info:
        owner.client.backups.restore(foreign.id)
    assert isinstance(info.value, CloudBoxError)
    assert (info.value.status, info.value.code) == (422, "MASTER_KEY_MISMATCH")

    started = owner.client.backups.restore(foreign.id, wait=False)
    failed = owner.client.restores.wait_for_completion(started.id, interval=0.05)
    assert failed.status == "failed"
    assert failed.error is not None and failed.error.code == "MASTER_KEY_MISMATCH"
    assert owner.client.documents.get("notes", "n1").data == {"title": "kept"}  # unchanged

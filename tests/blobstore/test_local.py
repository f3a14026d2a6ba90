"""Behaviour specific to the local filesystem backend: layout, disk errors, housekeeping."""

from __future__ import annotations

import errno
import hashlib
import os
import tempfile
import time
from collections.abc import Callable
from datetime import timedelta
from pathlib import Path

import pytest

from cloudbox.blobstore import (
    BlobNotFound,
    BlobStoreError,
    InvalidKey,
    LocalBlobStore,
    LocalObjectStore,
    StorageFull,
    StorageUnavailable,
)
from cloudbox.blobstore import local as local_module
from tests.blobstore.helpers import MiB, chunked, read_all


def _files(root: Path) -> list[str]:
    return sorted(str(p.relative_to(root)) for p in root.rglob("*") if not p.is_dir())


def _failing_write(code: int, after_calls: int = 1) -> Callable[[int, object], None]:
    """A stand-in for ``_write_all`` that fails like a full (or broken) disk."""
    real_write = local_module._write_all
    calls = 0

    def write(fd: int, data: object) -> None:
        nonlocal calls
        calls += 1
        if calls > after_calls:
            raise OSError(code, os.strerror(code))
        real_write(fd, data)  # type: ignore[arg-type]

    return write


def test_blobs_use_two_level_fan_out(tmp_path: Path) -> None:
    store = LocalBlobStore(tmp_path)
    info = store.put_stream([b"fan-out"])
    digest = info.sha256
    expected = tmp_path / digest[:2] / digest[2:4] / digest
    assert store.path_for(digest) == expected
    assert expected.read_bytes() == b"fan-out"
    # The temp file was renamed into place: nothing is left in .tmp.
    assert _files(tmp_path) == [f"{digest[:2]}/{digest[2:4]}/{digest}"]


def test_root_is_created_when_missing(tmp_path: Path) -> None:
    root = tmp_path / "deep" / "er" / "root"
    LocalBlobStore(root).put_stream([b"x"])
    LocalObjectStore(tmp_path / "objects" / "root").put_stream("a/b", [b"x"])
    assert root.is_dir()


def test_root_that_is_a_file_is_refused(tmp_path: Path) -> None:
    root = tmp_path / "not-a-dir"
    root.write_bytes(b"")
    with pytest.raises(StorageUnavailable, match="not a writable directory"):
        LocalBlobStore(root)
    with pytest.raises(StorageUnavailable, match="not a writable directory"):
        LocalObjectStore(root / "below")


@pytest.mark.skipif(os.geteuid() == 0, reason="root ignores permission bits")
def test_read_only_root_is_refused(tmp_path: Path) -> None:
    root = tmp_path / "read-only"
    root.mkdir(mode=0o500)
    try:
        with pytest.raises(StorageUnavailable, match="not a writable directory"):
            LocalBlobStore(root)
    finally:
        root.chmod(0o700)


def test_root_failing_the_write_probe_is_refused(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Works even as root, where permission bits cannot make a directory read-only."""

    def refuse(*args: object, **kwargs: object) -> tuple[int, str]:
        raise PermissionError(errno.EROFS, os.strerror(errno.EROFS))

    with monkeypatch.context() as patch:
        patch.setattr(tempfile, "mkstemp", refuse)
        with pytest.raises(StorageUnavailable, match="not a writable directory"):
            LocalObjectStore(tmp_path / "objects")


@pytest.mark.parametrize("code", [errno.ENOSPC, errno.EDQUOT], ids=["ENOSPC", "EDQUOT"])
def test_full_disk_during_put_is_storage_full(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, code: int
) -> None:
    store = LocalBlobStore(tmp_path)
    monkeypatch.setattr(local_module, "_write_all", _failing_write(code))

    with pytest.raises(StorageFull):
        store.put_stream(chunked(os.urandom(3 * MiB), MiB))

    assert _files(tmp_path) == []
    assert list(store.iter_blobs()) == []


def test_other_disk_errors_are_blob_store_errors(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    store = LocalBlobStore(tmp_path)
    monkeypatch.setattr(local_module, "_write_all", _failing_write(errno.EIO))

    with pytest.raises(BlobStoreError) as raised:
        store.put_stream(chunked(os.urandom(3 * MiB), MiB))

    assert not isinstance(raised.value, StorageFull)
    assert isinstance(raised.value.__cause__, OSError)
    assert _files(tmp_path) == []


def test_full_disk_in_object_writer_is_storage_full(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    store = LocalObjectStore(tmp_path)
    store.put_stream("backups/old.tar.gz", [b"previous backup"])
    monkeypatch.setattr(local_module, "_write_all", _failing_write(errno.ENOSPC))

    with pytest.raises(StorageFull), store.writer("backups/new.tar.gz") as out:
        for _ in range(4):
            out.write(os.urandom(MiB))

    assert not store.exists("backups/new.tar.gz")
    assert _files(tmp_path) == ["backups/old.tar.gz"]


def test_full_disk_on_final_flush_is_storage_full(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The last buffered bytes are only written when the writer publishes."""
    store = LocalObjectStore(tmp_path)
    monkeypatch.setattr(local_module, "_write_all", _failing_write(errno.ENOSPC, after_calls=0))

    with pytest.raises(StorageFull), store.writer("backups/small.tar.gz") as out:
        out.write(b"fits in the buffer")

    assert _files(tmp_path) == []


def test_dedupe_refreshes_mtime_for_the_garbage_collector(tmp_path: Path) -> None:
    store = LocalBlobStore(tmp_path)
    info = store.put_stream([b"popular"])
    path = store.path_for(info.sha256)
    long_ago = time.time() - 86_400
    os.utime(path, (long_ago, long_ago))

    store.put_stream([b"popular"])

    assert path.stat().st_mtime > long_ago + 3600


def test_iter_blobs_ignores_foreign_files(tmp_path: Path) -> None:
    store = LocalBlobStore(tmp_path)
    info = store.put_stream([b"real"])
    digest = info.sha256
    other = hashlib.sha256(b"misplaced").hexdigest()
    (tmp_path / "README").write_text("not a blob")
    (tmp_path / "zz").mkdir()
    (tmp_path / digest[:2] / digest[2:4] / "notes.txt").write_text("stray")
    (tmp_path / digest[:2] / digest[2:4] / other).write_bytes(b"wrong fan-out dir")
    (tmp_path / ".tmp" / digest).write_bytes(b"temp file named like a digest")

    assert [item.key for item in store.iter_blobs()] == [digest]


def test_purge_stale_temp_removes_only_old_leftovers(tmp_path: Path) -> None:
    store = LocalBlobStore(tmp_path)
    stale = tmp_path / ".tmp" / "part-crashed"
    fresh = tmp_path / ".tmp" / "part-in-progress"
    stale.write_bytes(b"left by a killed process")
    fresh.write_bytes(b"still being written")
    long_ago = time.time() - 7200
    os.utime(stale, (long_ago, long_ago))

    assert store.purge_stale_temp(timedelta(hours=1)) == 1

    assert not stale.exists()
    assert fresh.exists()


def test_object_key_clashing_with_existing_object_is_refused(tmp_path: Path) -> None:
    store = LocalObjectStore(tmp_path)
    store.put_stream("backups", [b"a file where a directory would go"])

    with pytest.raises(InvalidKey, match="clashes"):
        store.put_stream("backups/backup-1.tar.gz", [b"archive"])

    assert _files(tmp_path) == ["backups"]


def test_local_path_of_missing_object(tmp_path: Path) -> None:
    store = LocalObjectStore(tmp_path)
    with pytest.raises(BlobNotFound):
        store.local_path("backups/none.tar.gz")


def test_reads_survive_concurrent_delete(tmp_path: Path) -> None:
    """An open stream keeps its file: the GC may delete a blob that is being served."""
    store = LocalBlobStore(tmp_path)
    data = os.urandom(3 * MiB)
    info = store.put_stream(chunked(data, MiB))
    stream = store.open(info.sha256)
    store.delete(info.sha256)
    assert read_all(stream) == data

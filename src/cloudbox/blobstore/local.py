"""Local filesystem backend.

Atomicity comes from the classic recipe: write to a temp file on the same filesystem
(``<root>/.tmp``), ``fsync`` it, ``os.replace`` it onto the final name, then ``fsync``
the directory so the rename itself survives a power cut. Readers therefore see either
nothing or the complete file, never a prefix of it.

Blob and object stores must be given different roots: blob fan-out directories and
object keys share the same namespace otherwise.
"""

from __future__ import annotations

import errno
import hashlib
import io
import os
import shutil
import stat
import tempfile
import time
from collections.abc import Iterable, Iterator
from contextlib import contextmanager, suppress
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, BinaryIO, cast

from cloudbox.blobstore.base import (
    CHUNK_SIZE,
    BlobInfo,
    ChunkStream,
    StoredItem,
    check_range,
    empty_stream,
    iter_source,
    validate_digest,
    validate_object_key,
)
from cloudbox.blobstore.errors import (
    BlobNotFound,
    BlobStoreError,
    BlobTooLarge,
    ChecksumMismatch,
    InvalidKey,
    StorageFull,
    StorageUnavailable,
)

if TYPE_CHECKING:
    from _typeshed import ReadableBuffer

TMP_DIR_NAME = ".tmp"

_FULL_ERRNOS = frozenset(
    code for code in (errno.ENOSPC, getattr(errno, "EDQUOT", None)) if code is not None
)
_DENIED_ERRNOS = frozenset({errno.EACCES, errno.EPERM, errno.EROFS})
_HEX = frozenset("0123456789abcdef")


def _write_all(fd: int, data: ReadableBuffer) -> None:
    """Write every byte of ``data`` to ``fd``.

    This is the only place the local backend writes file data, which makes it the seam
    tests patch to simulate a full disk.
    """
    view = memoryview(data)
    if view.ndim != 1 or view.itemsize != 1:
        view = view.cast("B")
    while view:
        written = os.write(fd, view)
        view = view[written:]


def _fsync_dir(path: Path) -> None:
    """Persist directory entries (new files, renames) so they survive a crash."""
    fd = os.open(path, os.O_RDONLY | os.O_DIRECTORY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _fsync_path(path: Path) -> None:
    """Flush a file's data through a fresh descriptor (the original may be closed)."""
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _storage_error(exc: OSError, action: str) -> BlobStoreError:
    """Translate an OS error from our own I/O into the blob store's vocabulary."""
    detail = exc.strerror or str(exc)
    if exc.errno in _FULL_ERRNOS:
        return StorageFull(f"{action}: {detail}")
    if exc.errno in _DENIED_ERRNOS:
        return StorageUnavailable(f"{action}: {detail}")
    return BlobStoreError(f"{action}: {detail}")


def _is_hex_pair(name: str) -> bool:
    return len(name) == 2 and _HEX.issuperset(name)


class _TempFileWriter(io.RawIOBase):
    """Write-only, sequential raw file over a temp descriptor.

    Writes go through :func:`_write_all` (so fault injection reaches them) and the file
    deliberately refuses to seek: the S3 writer cannot seek either, and code that only
    works on local disks would be a trap.
    """

    def __init__(self, fd: int) -> None:
        super().__init__()
        self._fd = fd
        self._position = 0

    def writable(self) -> bool:
        return True

    def fileno(self) -> int:
        if self.closed:
            raise ValueError("I/O operation on closed file")
        return self._fd

    def write(self, b: ReadableBuffer, /) -> int:
        if self.closed:
            raise ValueError("write to closed file")
        view = memoryview(b)
        _write_all(self._fd, view)
        self._position += view.nbytes
        return view.nbytes

    def tell(self) -> int:
        return self._position

    def close(self) -> None:
        if self.closed:
            return
        try:
            super().close()
        finally:
            os.close(self._fd)


class _LocalArea:
    """Machinery shared by both local stores: root, temp files, publish, ranged reads."""

    def __init__(self, root: Path, *, chunk_size: int = CHUNK_SIZE) -> None:
        if chunk_size <= 0:
            raise ValueError("chunk_size must be positive")
        self._root = Path(root)
        self._tmp = self._root / TMP_DIR_NAME
        self._chunk_size = chunk_size
        try:
            self._tmp.mkdir(parents=True, exist_ok=True)
            # A real write probe: permission bits lie (root, ACLs, read-only mounts).
            probe_fd, probe_name = tempfile.mkstemp(prefix="probe-", dir=self._tmp)
            os.close(probe_fd)
            os.unlink(probe_name)
        except OSError as exc:
            raise StorageUnavailable(
                f"storage root {self._root} is not a writable directory: {exc.strerror or exc}"
            ) from exc

    @property
    def root(self) -> Path:
        return self._root

    def purge_stale_temp(self, older_than: timedelta) -> int:
        """Remove temp files left behind by a crashed process; returns how many.

        A live write keeps touching its temp file, so anything untouched for longer than
        ``older_than`` can only belong to a writer that no longer exists.
        """
        cutoff = time.time() - older_than.total_seconds()
        removed = 0
        with os.scandir(self._tmp) as entries:
            for entry in entries:
                try:
                    if entry.is_file(follow_symlinks=False) and (
                        entry.stat(follow_symlinks=False).st_mtime <= cutoff
                    ):
                        os.unlink(entry.path)
                        removed += 1
                except FileNotFoundError:
                    continue
        return removed

    def _new_temp(self) -> tuple[int, Path]:
        try:
            fd, name = tempfile.mkstemp(prefix="part-", dir=self._tmp)
        except OSError as exc:
            raise _storage_error(exc, "cannot create a temp file") from exc
        return fd, Path(name)

    def _ensure_parent(self, path: Path) -> None:
        """Create missing parent directories, persisting each new directory entry."""
        missing: list[Path] = []
        parent = path.parent
        while parent != self._root and not parent.is_dir():
            missing.append(parent)
            parent = parent.parent
        for directory in reversed(missing):
            try:
                directory.mkdir()
            except FileExistsError:
                continue  # a concurrent writer won the race, or a file is in the way
            _fsync_dir(directory.parent)

    def _publish(self, tmp: Path, final: Path, name: str) -> None:
        try:
            self._ensure_parent(final)
            os.replace(tmp, final)
            _fsync_dir(final.parent)
        except (NotADirectoryError, IsADirectoryError) as exc:
            raise InvalidKey(f"{name!r} clashes with an existing object path") from exc
        except OSError as exc:
            raise _storage_error(exc, f"cannot publish {name!r}") from exc

    def _stat_file(self, path: Path, what: str) -> os.stat_result:
        try:
            st = path.stat()
        except (FileNotFoundError, NotADirectoryError) as exc:
            raise BlobNotFound(f"{what} not found") from exc
        except OSError as exc:
            raise _storage_error(exc, f"cannot stat {what}") from exc
        if not stat.S_ISREG(st.st_mode):
            raise BlobNotFound(f"{what} not found")
        return st

    def _is_file(self, path: Path) -> bool:
        try:
            return stat.S_ISREG(path.stat().st_mode)
        except (FileNotFoundError, NotADirectoryError):
            return False
        except OSError as exc:
            raise _storage_error(exc, "cannot stat") from exc

    def _unlink(self, path: Path, what: str) -> None:
        try:
            path.unlink()
        except (FileNotFoundError, NotADirectoryError, IsADirectoryError):
            return
        except OSError as exc:
            raise _storage_error(exc, f"cannot delete {what}") from exc

    def _open_range(self, path: Path, start: int, end: int | None, what: str) -> ChunkStream:
        check_range(start, end)
        try:
            handle = path.open("rb")
        except (FileNotFoundError, NotADirectoryError, IsADirectoryError) as exc:
            raise BlobNotFound(f"{what} not found") from exc
        except OSError as exc:
            raise _storage_error(exc, f"cannot open {what}") from exc
        try:
            st = os.fstat(handle.fileno())
            if not stat.S_ISREG(st.st_mode):
                raise BlobNotFound(f"{what} not found")
            stop = st.st_size if end is None else min(end, st.st_size)
            if start >= stop:
                handle.close()
                return empty_stream()
            handle.seek(start)
        except BaseException:
            handle.close()
            raise
        return ChunkStream(self._read_chunks(handle, stop - start), handle.close)

    def _read_chunks(self, handle: BinaryIO, remaining: int) -> Iterator[bytes]:
        while remaining > 0:
            chunk = handle.read(min(self._chunk_size, remaining))
            if not chunk:
                return
            remaining -= len(chunk)
            yield chunk


class LocalBlobStore(_LocalArea):
    """Content-addressed blobs under ``root/ab/cd/<digest>``.

    Two levels of fan-out keep directories small (65 536 leaves) even with millions of
    blobs, which matters for both ``readdir`` speed and backup tools.
    """

    def path_for(self, sha256: str) -> Path:
        digest = validate_digest(sha256)
        return self._root / digest[:2] / digest[2:4] / digest

    def put_stream(
        self,
        source: BinaryIO | Iterable[bytes],
        *,
        max_size: int | None = None,
        expected_sha256: str | None = None,
    ) -> BlobInfo:
        expected = validate_digest(expected_sha256) if expected_sha256 is not None else None
        if max_size is not None and max_size < 0:
            raise ValueError("max_size must be >= 0")
        fd, tmp = self._new_temp()
        published = False
        try:
            hasher = hashlib.sha256()
            size = 0
            try:
                for chunk in iter_source(source, self._chunk_size):
                    size += len(chunk)
                    if max_size is not None and size > max_size:
                        raise BlobTooLarge(f"blob exceeds the limit of {max_size} bytes")
                    hasher.update(chunk)
                    try:
                        _write_all(fd, chunk)
                    except OSError as exc:
                        raise _storage_error(exc, "cannot write blob") from exc
                try:
                    os.fsync(fd)
                except OSError as exc:
                    raise _storage_error(exc, "cannot flush blob to disk") from exc
            finally:
                os.close(fd)
            digest = hasher.hexdigest()
            if expected is not None and digest != expected:
                raise ChecksumMismatch(f"content hashes to {digest}, expected {expected}")
            final = self.path_for(digest)
            try:
                # Dedupe. Refreshing mtime keeps a blob that was just "re-uploaded"
                # inside the garbage collector's grace period.
                os.utime(final)
            except FileNotFoundError:
                self._publish(tmp, final, digest)
                published = True
            except OSError as exc:
                raise _storage_error(exc, "cannot refresh existing blob") from exc
            return BlobInfo(sha256=digest, size=size)
        finally:
            if not published:
                with suppress(FileNotFoundError):
                    tmp.unlink()

    def open(self, sha256: str, start: int = 0, end: int | None = None) -> ChunkStream:
        return self._open_range(self.path_for(sha256), start, end, f"blob {sha256}")

    def size(self, sha256: str) -> int:
        return self._stat_file(self.path_for(sha256), f"blob {sha256}").st_size

    def exists(self, sha256: str) -> bool:
        return self._is_file(self.path_for(sha256))

    def delete(self, sha256: str) -> None:
        self._unlink(self.path_for(sha256), f"blob {sha256}")

    def iter_blobs(self) -> Iterator[StoredItem]:
        for top in self._sorted_subdirs(self._root):
            for mid in self._sorted_subdirs(top):
                yield from self._blobs_in(mid, top.name + mid.name)

    @staticmethod
    def _sorted_subdirs(directory: Path) -> list[Path]:
        try:
            with os.scandir(directory) as entries:
                names = [
                    entry.name
                    for entry in entries
                    if _is_hex_pair(entry.name) and entry.is_dir(follow_symlinks=False)
                ]
        except (FileNotFoundError, NotADirectoryError):
            return []
        return [directory / name for name in sorted(names)]

    @staticmethod
    def _blobs_in(directory: Path, fan_out: str) -> Iterator[StoredItem]:
        try:
            with os.scandir(directory) as entries:
                candidates = sorted(
                    (entry for entry in entries if entry.name.startswith(fan_out)),
                    key=lambda entry: entry.name,
                )
                items: list[StoredItem] = []
                for entry in candidates:
                    try:
                        validate_digest(entry.name)
                    except InvalidKey:
                        continue
                    try:
                        st = entry.stat(follow_symlinks=False)
                    except FileNotFoundError:
                        continue  # deleted while we were listing
                    if stat.S_ISREG(st.st_mode):
                        items.append(
                            StoredItem(
                                key=entry.name,
                                size=st.st_size,
                                modified_at=datetime.fromtimestamp(st.st_mtime, tz=UTC),
                            )
                        )
        except (FileNotFoundError, NotADirectoryError):
            return
        yield from items


class LocalObjectStore(_LocalArea):
    """Named objects (backup archives) stored at ``root/<key>``."""

    def _path(self, key: str) -> Path:
        return self._root / validate_object_key(key)

    @contextmanager
    def writer(self, key: str) -> Iterator[BinaryIO]:
        """Yield a buffered, write-only file; publish it atomically on clean exit.

        On any exception the temp file is discarded, so a previous object under the same
        key stays intact and no partial object ever becomes visible.
        """
        final = self._path(key)
        fd, tmp = self._new_temp()
        raw = _TempFileWriter(fd)
        buffered = io.BufferedWriter(raw, buffer_size=self._chunk_size)
        published = False
        try:
            try:
                yield cast(BinaryIO, buffered)
            except OSError as exc:
                if exc.errno in _FULL_ERRNOS:
                    raise _storage_error(exc, f"cannot write object {key!r}") from exc
                raise
            try:
                buffered.close()  # flushes; a caller may already have closed it
                _fsync_path(tmp)
            except OSError as exc:
                raise _storage_error(exc, f"cannot write object {key!r}") from exc
            self._publish(tmp, final, key)
            published = True
        finally:
            if not published:
                # Close the raw file first so the buffer is dropped rather than flushed
                # into a file that is about to be deleted.
                with suppress(OSError):
                    raw.close()
                with suppress(OSError):
                    buffered.close()
                with suppress(FileNotFoundError):
                    tmp.unlink()

    def put_stream(self, key: str, source: BinaryIO | Iterable[bytes]) -> int:
        size = 0
        with self.writer(key) as out:
            for chunk in iter_source(source, self._chunk_size):
                out.write(chunk)
                size += len(chunk)
        return size

    def open(self, key: str, start: int = 0, end: int | None = None) -> ChunkStream:
        return self._open_range(self._path(key), start, end, f"object {key!r}")

    def size(self, key: str) -> int:
        return self._stat_file(self._path(key), f"object {key!r}").st_size

    def exists(self, key: str) -> bool:
        return self._is_file(self._path(key))

    def delete(self, key: str) -> None:
        self._unlink(self._path(key), f"object {key!r}")

    def free_bytes(self) -> int | None:
        try:
            return shutil.disk_usage(self._root).free
        except OSError as exc:
            raise _storage_error(exc, "cannot query free space") from exc

    def local_path(self, key: str) -> Path | None:
        """The object's real path, so large downloads can use ``sendfile``.

        Raises :class:`BlobNotFound` rather than returning a dangling path.
        """
        path = self._path(key)
        self._stat_file(path, f"object {key!r}")
        return path

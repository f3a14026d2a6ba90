"""Shared vocabulary of the blob store: value types, protocols and key validation.

Both backends (local filesystem and S3) implement the same two protocols so that the
rest of the server, and the contract test suite, never care which one is configured.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Iterator
from contextlib import AbstractContextManager
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from types import TracebackType
from typing import BinaryIO, Protocol, runtime_checkable

from cloudbox.blobstore.errors import InvalidKey

#: Read/write granularity. Memory use of every operation is bounded by a small multiple
#: of this, never by the size of the blob.
CHUNK_SIZE = 1024 * 1024

#: Longest accepted object key, in UTF-8 bytes (S3's own limit, so keys stay portable
#: between backends).
MAX_OBJECT_KEY_BYTES = 1024

_DIGEST_RE = re.compile(r"[0-9a-f]{64}")


@dataclass(frozen=True)
class BlobInfo:
    """What a successful write stored: the content address and its length."""

    sha256: str
    size: int


@dataclass(frozen=True)
class StoredItem:
    """One stored blob or object as seen by a listing (the garbage collector's input)."""

    key: str
    size: int
    modified_at: datetime  # timezone-aware, UTC


@runtime_checkable
class BlobStore(Protocol):
    """Immutable, content-addressed storage keyed by lowercase hex SHA-256."""

    def put_stream(
        self,
        source: BinaryIO | Iterable[bytes],
        *,
        max_size: int | None = None,
        expected_sha256: str | None = None,
    ) -> BlobInfo: ...

    def open(self, sha256: str, start: int = 0, end: int | None = None) -> ChunkStream: ...

    def size(self, sha256: str) -> int: ...

    def exists(self, sha256: str) -> bool: ...

    def delete(self, sha256: str) -> None: ...

    def iter_blobs(self) -> Iterator[StoredItem]: ...

    def purge_stale_temp(self, older_than: timedelta) -> int: ...


@runtime_checkable
class ObjectStore(Protocol):
    """Named (not content-addressed) objects such as backup archives."""

    def writer(self, key: str) -> AbstractContextManager[BinaryIO]: ...

    def put_stream(self, key: str, source: BinaryIO | Iterable[bytes]) -> int: ...

    def open(self, key: str, start: int = 0, end: int | None = None) -> ChunkStream: ...

    def size(self, key: str) -> int: ...

    def exists(self, key: str) -> bool: ...

    def delete(self, key: str) -> None: ...

    def free_bytes(self) -> int | None: ...

    def local_path(self, key: str) -> Path | None: ...

    def purge_stale_temp(self, older_than: timedelta) -> int: ...


def validate_digest(sha256: object) -> str:
    """Refuse anything but 64 lowercase hex characters.

    Digests end up in file paths and S3 keys, so a strict check here is what keeps
    ``../`` and friends out of the storage layout. Uppercase is refused rather than
    normalised so that one blob can never be known under two names.
    """
    if not isinstance(sha256, str) or _DIGEST_RE.fullmatch(sha256) is None:
        raise InvalidKey(f"not a lowercase hex SHA-256 digest: {sha256!r}")
    return sha256


def validate_object_key(key: object) -> str:
    """Refuse object keys that could escape the store root or collide with housekeeping.

    Segments starting with ``.`` are reserved (the local store keeps its temp files in
    ``.tmp``), which also rules out ``.`` and ``..``.
    """
    if not isinstance(key, str) or not key:
        raise InvalidKey(f"object key must be a non-empty string: {key!r}")
    if len(key.encode("utf-8", "surrogatepass")) > MAX_OBJECT_KEY_BYTES:
        raise InvalidKey(f"object key longer than {MAX_OBJECT_KEY_BYTES} bytes")
    if key.startswith("/"):
        raise InvalidKey(f"object key must be relative: {key!r}")
    if "\\" in key:
        raise InvalidKey(f"object key must not contain a backslash: {key!r}")
    if any(ord(ch) < 0x20 or ch == "\x7f" for ch in key):
        raise InvalidKey(f"object key must not contain control characters: {key!r}")
    for segment in key.split("/"):
        if not segment:
            raise InvalidKey(f"object key has an empty path segment: {key!r}")
        if segment.startswith("."):
            raise InvalidKey(f"object key segments must not start with '.': {key!r}")
    return key


def check_range(start: int, end: int | None) -> None:
    """Reject ranges that can only come from a caller bug.

    Ranges that merely overshoot the blob are legitimate (the caller does not know the
    size yet) and are clamped by the backends instead.
    """
    if start < 0:
        raise ValueError(f"range start must be >= 0, got {start}")
    if end is not None and end < start:
        raise ValueError(f"range end ({end}) must be >= start ({start})")


def iter_source(source: BinaryIO | Iterable[bytes], chunk_size: int) -> Iterator[bytes]:
    """Yield a write source as chunks, reading file-like sources ``chunk_size`` at a time.

    Raw ``bytes`` are refused: they are iterable (of ints), so accepting them silently
    would be a trap rather than a convenience.
    """
    if isinstance(source, bytes | bytearray | memoryview | str):
        raise TypeError(
            "put_stream needs a binary file object or an iterable of bytes chunks; "
            "wrap raw bytes as io.BytesIO(data) or [data]"
        )
    read = getattr(source, "read", None)
    if callable(read):
        while True:
            chunk = read(chunk_size)
            if not chunk:
                return
            yield bytes(chunk) if not isinstance(chunk, bytes) else chunk
    else:
        for chunk in source:
            if not isinstance(chunk, bytes | bytearray | memoryview):
                raise TypeError(f"source yielded {type(chunk).__name__}, expected bytes")
            if chunk:
                yield bytes(chunk) if not isinstance(chunk, bytes) else chunk


class ChunkStream(Iterator[bytes]):
    """An iterator of chunks that owns an open resource (file or HTTP body).

    ``open()`` must fail eagerly with :class:`BlobNotFound` (so an HTTP layer can answer
    404 before it starts a response), which means the resource is opened before anyone
    iterates. A plain generator would then leak the resource if it is never started;
    this wrapper releases it on exhaustion, on :meth:`close`, on ``with`` exit and, as a
    last resort, when garbage collected.
    """

    def __init__(self, chunks: Iterator[bytes], on_close: Callable[[], None] | None) -> None:
        self._chunks = chunks
        self._on_close = on_close

    def __iter__(self) -> ChunkStream:
        return self

    def __next__(self) -> bytes:
        try:
            return next(self._chunks)
        except BaseException:
            self.close()
            raise

    def close(self) -> None:
        on_close, self._on_close = self._on_close, None
        close_chunks = getattr(self._chunks, "close", None)
        try:
            if callable(close_chunks):
                close_chunks()
        finally:
            if on_close is not None:
                on_close()

    def __enter__(self) -> ChunkStream:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    def __del__(self) -> None:
        # Best effort only: never let a finaliser raise during garbage collection.
        try:
            self.close()
        except Exception:  # noqa: BLE001
            return


def empty_stream() -> ChunkStream:
    """A stream with no chunks, for empty ranges and empty blobs."""
    return ChunkStream(iter(()), None)

"""What the sync and async clients share: request descriptions, answer parsing,
server-sent events, upload sources and download sinks. No I/O on the network here."""

from __future__ import annotations

import base64
import binascii
import contextlib
import hashlib
import io
import json
import os
import re
import secrets
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any, Generic, TypeVar
from urllib.parse import quote, unquote

import httpx
from pydantic import BaseModel

from cloudbox_sdk.errors import ChecksumMismatch, ConnectionFailed, WaitTimeout
from cloudbox_sdk.models import Backup, BackupEvent, Page, Restore

T = TypeVar("T")
M = TypeVar("M", bound=BaseModel)

DEFAULT_ENDPOINT = "http://127.0.0.1:8080"
DEFAULT_TIMEOUT = 30.0
#: For calls the server answers only when a job is done (restore with ``wait``).
NO_READ_TIMEOUT = httpx.Timeout(30.0, read=None)
CHUNK_SIZE = 1024 * 1024

#: ``on_progress(bytes_done, bytes_total)`` of downloads and uploads (total may be None).
TransferCallback = Callable[[int, int | None], None]
#: A path, or a binary file object.
PathOrFile = str | os.PathLike[str] | IO[bytes]


class _Unset:
    """Marker for "leave this field alone" where ``None`` has a meaning of its own."""

    _instance: _Unset | None = None

    def __new__(cls) -> _Unset:
        if cls._instance is None:
            cls._instance = super().__new__(cls)
        return cls._instance

    def __repr__(self) -> str:
        return "UNSET"

    def __bool__(self) -> bool:
        return False


UNSET: Any = _Unset()


@dataclass(frozen=True)
class Call(Generic[T]):
    """One API request and how to read its answer."""

    method: str
    path: str
    parse: Callable[[httpx.Response], T]
    params: Mapping[str, Any] | None = None
    json: Any = None
    headers: Mapping[str, str] | None = None
    timeout: httpx.Timeout | float | None = None


def ref_id(ref: int | Backup | Restore) -> int:
    """The id of a backup or restore given as an id or as the object."""
    return ref if isinstance(ref, int) else ref.id


def connection_failed(exc: httpx.TransportError) -> ConnectionFailed:
    message = str(exc) or type(exc).__name__
    return ConnectionFailed(0, "CONNECTION_ERROR", message, {"exception": type(exc).__name__})


def wait_timeout(kind: str, job_id: int, status: str, timeout: float | None) -> WaitTimeout:
    return WaitTimeout(
        0,
        "WAIT_TIMEOUT",
        f"{kind} {job_id} is still {status} after {timeout} s",
        {f"{kind}_id": job_id, "status": status},
    )


def seg(value: object) -> str:
    """One URL path segment, escaped."""
    return quote(str(value), safe="")


def model(cls: type[M]) -> Callable[[httpx.Response], M]:
    def parse(response: httpx.Response) -> M:
        return cls.model_validate(response.json())

    return parse


def page(cls: type[M]) -> Callable[[httpx.Response], Page[M]]:
    def parse(response: httpx.Response) -> Page[M]:
        total_header = response.headers.get("x-total-count")
        total = int(total_header) if total_header and total_header.isdigit() else None
        return Page([cls.model_validate(item) for item in response.json()], total)

    return parse


def nothing(response: httpx.Response) -> None:
    return None


def raw_json(response: httpx.Response) -> dict[str, Any]:
    body = response.json()
    return body if isinstance(body, dict) else {"value": body}


def content(response: httpx.Response) -> bytes:
    return response.content


def clean(**values: Any) -> dict[str, Any]:
    """The keyword arguments that are not ``None`` / UNSET (query strings, bodies)."""
    return {k: v for k, v in values.items() if v is not None and v is not UNSET}


def paging(limit: int | None, offset: int | None, order_by: str | None) -> dict[str, Any]:
    return clean(limit=limit, offset=offset, order_by=order_by)


# -- server-sent events -----------------------------------------------------------------------


@dataclass
class SSEDecoder:
    """Line-by-line decoder of ``text/event-stream`` (the WHATWG rules we need)."""

    _event: str = ""
    _data: list[str] = field(default_factory=list)
    _id: str | None = None

    def feed(self, line: str) -> BackupEvent | None:
        line = line.rstrip("\r\n")
        if line == "":
            return self._dispatch()
        if line.startswith(":"):
            return None
        name, _, value = line.partition(":")
        value = value.removeprefix(" ")
        if name == "event":
            self._event = value
        elif name == "data":
            self._data.append(value)
        elif name == "id":
            self._id = value
        return None

    def _dispatch(self) -> BackupEvent | None:
        if not self._data:
            self._event = ""
            return None
        text = "\n".join(self._data)
        try:
            data = json.loads(text)
        except ValueError:
            data = {"raw": text}
        if not isinstance(data, dict):
            data = {"value": data}
        event = BackupEvent(event=self._event or "message", data=data, id=self._id)
        self._event, self._data = "", []
        return event


# -- downloads ---------------------------------------------------------------------------------

_FILENAME_STAR = re.compile(r"filename\*\s*=\s*(?:UTF-8|utf-8)''([^;]+)")
_FILENAME = re.compile(r'filename\s*=\s*"?([^";]+)"?')


def filename_of(response: httpx.Response) -> str | None:
    """The file name of ``Content-Disposition``, reduced to a safe base name."""
    header = response.headers.get("content-disposition", "")
    match = _FILENAME_STAR.search(header)
    name = unquote(match.group(1)) if match else None
    if name is None:
        match = _FILENAME.search(header)
        name = match.group(1) if match else None
    if not name:
        return None
    name = name.replace("\\", "/").rsplit("/", 1)[-1].strip()
    return name if name not in ("", ".", "..") else None


def digest_of(response: httpx.Response) -> str | None:
    """The hex SHA-256 the server announces (``Repr-Digest``, ``Digest`` or ``ETag``)."""
    repr_digest = response.headers.get("repr-digest", "")
    match = re.search(r"sha-256=:([A-Za-z0-9+/=]+):", repr_digest)
    if match is None:
        match = re.search(r"sha-256=([A-Za-z0-9+/=]+)", response.headers.get("digest", ""))
    if match is not None:
        try:
            raw = base64.b64decode(match.group(1), validate=True)
        except (binascii.Error, ValueError):
            raw = b""
        if len(raw) == 32:
            return raw.hex()
    return None


def length_of(response: httpx.Response) -> int | None:
    value = response.headers.get("content-length", "")
    return int(value) if value.isdigit() else None


class DownloadSink:
    """Where a download goes. A path is written to a temporary sibling and renamed
    into place only once the whole body arrived and its digest matched; a file object
    is written in place (the caller owns it)."""

    def __init__(self, dest: PathOrFile, suggested_name: str | None, default_name: str) -> None:
        self._hash = hashlib.sha256()
        self.size = 0
        self.path: Path | None = None
        self._tmp: Path | None = None
        if isinstance(dest, (str, os.PathLike)):
            path = Path(dest)
            if path.is_dir():
                path = path / (suggested_name or default_name)
            self.path = path
            self._tmp = path.with_name(f".{path.name}.{secrets.token_hex(4)}.part")
            self._file: IO[bytes] = open(self._tmp, "xb")  # noqa: SIM115 - closed in commit/abort
            self._owned = True
        else:
            self._file = dest
            self._owned = False

    def write(self, chunk: bytes) -> None:
        self._file.write(chunk)
        self._hash.update(chunk)
        self.size += len(chunk)

    @property
    def sha256(self) -> str:
        return self._hash.hexdigest()

    def commit(self, expected_sha256: str | None, expected_size: int | None) -> None:
        if expected_size is not None and self.size != expected_size:
            self.abort()
            raise ChecksumMismatch(
                0,
                "CHECKSUM_MISMATCH",
                f"received {self.size} bytes, the server announced {expected_size}",
                {"expected_size": expected_size, "size": self.size},
            )
        if expected_sha256 is not None and self.sha256 != expected_sha256.lower():
            self.abort()
            raise ChecksumMismatch(
                0,
                "CHECKSUM_MISMATCH",
                "the downloaded archive does not match the server's SHA-256",
                {"expected": expected_sha256, "actual": self.sha256},
            )
        self._file.flush()
        if self._owned:
            assert self._tmp is not None and self.path is not None
            os.fsync(self._file.fileno())
            self._file.close()
            os.replace(self._tmp, self.path)

    def abort(self) -> None:
        if self._owned and self._tmp is not None:
            self._file.close()
            with contextlib.suppress(FileNotFoundError):
                self._tmp.unlink()


# -- uploads -------------------------------------------------------------------------------


class UploadReader(io.RawIOBase):
    """A read-only view of a binary file from its position at creation, counting the
    bytes read (``on_progress``). It seeks and tells relative to that start, so httpx
    can measure the length (Content-Length) and rewind it."""

    def __init__(self, file: IO[bytes], total: int, on_progress: TransferCallback | None) -> None:
        super().__init__()
        self._file = file
        self._start = file.tell()
        self.total = total
        self._on_progress = on_progress
        self._done = 0

    def readable(self) -> bool:
        return True

    def seekable(self) -> bool:
        return True

    def tell(self) -> int:
        return self._file.tell() - self._start

    def seek(self, offset: int, whence: int = io.SEEK_SET) -> int:
        if whence == io.SEEK_SET:
            target = self._start + offset
        elif whence == io.SEEK_CUR:
            target = self._file.tell() + offset
        else:
            target = self._start + self.total + offset
        self._file.seek(target)
        self._done = self.tell()
        return self._done

    def read(self, size: int | None = -1) -> bytes:
        chunk = self._file.read(-1 if size is None else size)
        if chunk:
            self._done += len(chunk)
            if self._on_progress is not None:
                self._on_progress(self._done, self.total)
        return chunk

    def readinto(self, buffer: Any) -> int:  # pragma: no cover - httpx calls read()
        data = self.read(len(buffer))
        buffer[: len(data)] = data
        return len(data)


@dataclass
class UploadSource:
    """An archive to upload: its file, length, name and SHA-256 (hex)."""

    file: IO[bytes]
    size: int
    filename: str
    sha256: str | None
    owned: bool

    @classmethod
    def open(cls, source: PathOrFile, sha256: str | None, compute_sha256: bool) -> UploadSource:
        if isinstance(source, (str, os.PathLike)):
            path = Path(source)
            file: IO[bytes] = open(path, "rb")  # noqa: SIM115 - closed by close()
            owned, filename = True, path.name
        else:
            file, owned = source, False
            name = getattr(source, "name", None)
            filename = Path(name).name if isinstance(name, str) and name else "backup.tar.gz"
        try:
            start = file.tell()
            size = file.seek(0, io.SEEK_END) - start
            file.seek(start)
            if sha256 is None and compute_sha256:
                digest = hashlib.sha256()
                while chunk := file.read(CHUNK_SIZE):
                    digest.update(chunk)
                file.seek(start)
                sha256 = digest.hexdigest()
        except BaseException:
            if owned:
                file.close()
            raise
        return cls(file=file, size=size, filename=filename, sha256=sha256, owned=owned)

    def close(self) -> None:
        if self.owned:
            self.file.close()


def file_part(
    source: bytes | PathOrFile, filename: str | None, content_type: str | None
) -> tuple[tuple[str, Any, str], IO[bytes] | None]:
    """A multipart ``file`` part for an upload, and the file to close afterwards."""
    if isinstance(source, (bytes, bytearray, memoryview)):
        data = bytes(source)
        return (filename or "file", data, content_type or "application/octet-stream"), None
    if isinstance(source, (str, os.PathLike)):
        path = Path(source)
        handle: IO[bytes] = open(path, "rb")  # noqa: SIM115 - the caller closes it
        name = filename or path.name
        return (name, handle, content_type or "application/octet-stream"), handle
    name = filename or Path(str(getattr(source, "name", "file"))).name
    return (name, source, content_type or "application/octet-stream"), None


def normalize_sha256(value: str | None) -> str | None:
    if value is None:
        return None
    value = value.strip().lower().removeprefix("sha256:")
    if not re.fullmatch(r"[0-9a-f]{64}", value):
        raise ValueError("sha256 must be 64 hex digits, optionally prefixed with 'sha256:'")
    return value

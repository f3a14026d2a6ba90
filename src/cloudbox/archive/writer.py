"""Streaming writer for CloudBox backup archives.

The archive is a plain ``.tar.gz`` so an operator can always inspect or
salvage a backup with standard tools, but the tar stream is produced here
rather than by ``tarfile``: we need exact control of every header (no pax
extensions, no user names, base-256 sizes beyond 8 GiB) and we need every
byte to pass through our own hashing so the manifest and the whole-archive
digest are computed in the same pass that writes them.

The writer refuses to produce anything the reader would refuse (unknown or
out-of-order sections, rows that are not strict JSON objects, members over
the limits): an archive that cannot be restored is a lost backup, and the
moment to find out is while the data still exists.

Any exception from a writer method leaves the output unusable (a partial
stream with no valid end); the caller must discard ``out``. The writer
never closes ``out``, because it does not own it.
"""

from __future__ import annotations

import contextlib
import ctypes
import hashlib
import io
import json
import re
import tempfile
import time
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from types import TracebackType
from typing import Any, BinaryIO, Final, Protocol, cast

from isal import igzip, igzip_threaded

from cloudbox import clib
from cloudbox.archive.format import (
    BACKUP_VERSION,
    BLOCK_SIZE,
    CHUNK_SIZE,
    MANIFEST_NAME,
    METADATA_NAME,
    RECORD_SIZE,
    SECTIONS,
    SHA256_RE,
    ArchiveError,
    ArchiveLimits,
    blob_member,
    section_member,
)
from cloudbox.archive.handoff import handed_off
from cloudbox.archive.reader import (
    InvalidArchive,
    _JsonRejected,
    _strict_loads,
    parse_json_line,
)

__all__ = [
    "ArchiveResult",
    "ArchiveWriteError",
    "ArchiveWriter",
    "BlobMismatchError",
    "LimitExceededError",
    "MemberInfo",
    "RowRejectedError",
]

#: Sections are spooled in memory up to this size; a bigger one is compressed as it
#: arrives, into a temporary file (see `_SectionSpool`).
SPOOL_MAX_BYTES: Final = 8 * 2**20
_MAX_OCTAL_SIZE: Final = 8**11 - 1
_MAX_MTIME: Final = 8**11 - 1
_RESERVED_METADATA: Final = ("backup_version", "key_fingerprint", "sections")
_DEFAULT_LIMITS: Final = ArchiveLimits()


class ArchiveWriteError(ArchiveError):
    """The archive being written is unusable and must be discarded."""


class BlobMismatchError(ArchiveWriteError, ValueError):
    """Blob content did not match its declared size or SHA-256.

    Usually the file changed or was corrupted in storage after its digest
    was recorded; the backup must not silently store other bytes.
    """


class RowRejectedError(ArchiveWriteError, ValueError):
    """A row the reader would refuse, so the backup could never be restored."""


class LimitExceededError(ArchiveWriteError, ValueError):
    """The archive would exceed the limits the reader enforces."""


@dataclass(frozen=True)
class MemberInfo:
    name: str
    size: int
    sha256: str
    rows: int | None = None


@dataclass(frozen=True)
class ArchiveResult:
    #: SHA-256 (hex) and size of the compressed bytes written to ``out``.
    sha256: str
    size: int
    #: Every tar member in order, manifest.json last.
    members: list[MemberInfo]
    #: Rows per section.
    sections: dict[str, int]
    #: Uncompressed size of the tar stream.
    expanded_size: int = 0


class _GzipStream(Protocol):
    def write(self, data: bytes | bytearray | memoryview, /) -> int: ...

    def close(self) -> None: ...


class _HashingSink:
    """Pass-through that digests the compressed bytes as they are written.

    isal's threaded compressor calls ``write`` from its output thread (one
    thread at a time, in order), so the digest is over exactly the bytes
    that reach ``out`` without ever reading them back.
    """

    def __init__(self, out: BinaryIO) -> None:
        self._out = out
        self._hash = hashlib.sha256()
        self.size = 0
        self.aborted = False

    def write(self, data: bytes | bytearray | memoryview) -> int:
        if self.aborted:
            raise ArchiveWriteError("archive writing was aborted")
        view = memoryview(data).cast("B")
        total = len(view)
        done = 0
        while done < total:
            written = self._out.write(view[done:])
            if written is None:  # file-likes that do not report a count write everything
                break
            if written <= 0:
                raise OSError("the archive output accepted no bytes")
            done += written
        self._hash.update(view)
        self.size += total
        return total

    def flush(self) -> None:
        if not self.aborted:
            self._out.flush()

    def hexdigest(self) -> str:
        return self._hash.hexdigest()


# isal's Python-level constructors are unannotated; give them a typed face.
_igzip_file: Final[Callable[..., Any]] = igzip.IGzipFile
_igzip_threaded_open: Final[Callable[..., Any]] = igzip_threaded.open


def _open_gzip(sink: _HashingSink | BinaryIO, compresslevel: int, threads: int) -> _GzipStream:
    """Standard gzip output; several threads when asked, one member either way."""
    if threads <= 1:
        stream = _igzip_file(fileobj=sink, mode="wb", compresslevel=compresslevel, mtime=0)
    else:
        stream = _igzip_threaded_open(sink, "wb", compresslevel=compresslevel, threads=threads)
    return cast("_GzipStream", stream)


def _size_field(size: int) -> bytes:
    if size <= _MAX_OCTAL_SIZE:
        return b"%011o\0" % size
    # GNU base-256: high bit flags binary, the rest is big-endian.
    return b"\x80" + size.to_bytes(11, "big")


def tar_header(name: str, size: int, mtime: int) -> bytes:
    """One ustar header block for a regular file (mode 0644, owner 0:0)."""
    encoded = name.encode("ascii")
    if not 0 < len(encoded) < 100:
        raise ValueError("member names must be 1..99 ASCII bytes")
    header = bytearray(BLOCK_SIZE)
    header[0 : len(encoded)] = encoded
    header[100:108] = b"0000644\0"
    header[108:116] = b"0000000\0"
    header[116:124] = b"0000000\0"
    header[124:136] = _size_field(size)
    header[136:148] = b"%011o\0" % mtime
    header[148:156] = b" " * 8
    header[156:157] = b"0"
    header[257:263] = b"ustar\0"
    header[263:265] = b"00"
    header[329:337] = b"0000000\0"
    header[337:345] = b"0000000\0"
    header[148:156] = b"%06o\0 " % sum(header)
    return bytes(header)


def _mtime_from(metadata: dict[str, Any]) -> int:
    """Member mtime: the backup's own timestamp, so archives are reproducible."""
    created = metadata.get("created_at")
    stamp: float | None = None
    if isinstance(created, str):
        try:
            parsed = datetime.fromisoformat(created)
        except ValueError:
            parsed = None
        if parsed is not None:
            if parsed.tzinfo is None:
                parsed = parsed.replace(tzinfo=UTC)
            stamp = parsed.timestamp()
    if stamp is None:
        stamp = time.time()
    return min(max(int(stamp), 0), _MAX_MTIME)


class _SectionSpool:
    """Holds a section until its size, which its tar header needs, is known.

    A small section stays raw in memory and is replayed into the archive's gzip stream. A
    big one (the documents) is compressed while its producer is still building it, by
    its own compressor threads, into a temporary file that becomes one gzip member of
    the archive as it is: the second core compresses while the first reads the
    database, instead of both waiting for the section to end, and the spool holds a
    third of the bytes. A gzip file may hold any number of members (RFC 1952 §2.2);
    the reader, `gzip -d` and `tar xzf` read them as one stream.
    """

    def __init__(self, compresslevel: int, threads: int) -> None:
        self._compresslevel = compresslevel
        self._threads = threads
        self._raw = bytearray()
        self._file: BinaryIO | None = None
        self._gz: _GzipStream | None = None

    @property
    def compressed(self) -> bool:
        return self._file is not None

    def write(self, chunk: bytes | bytearray) -> None:
        if self._gz is not None:
            self._gz.write(chunk)
            return
        self._raw += chunk
        if len(self._raw) > SPOOL_MAX_BYTES:
            # closed by close(), which the writer calls in a finally
            self._file = cast("BinaryIO", tempfile.TemporaryFile())  # noqa: SIM115
            self._gz = _open_gzip(self._file, self._compresslevel, self._threads)
            self._gz.write(self._raw)
            self._raw = bytearray()

    def raw(self) -> bytes | bytearray:
        return self._raw

    def member(self) -> BinaryIO:
        """The finished gzip member, positioned at its start."""
        if self._gz is None or self._file is None:
            raise ValueError("the section was not compressed")
        gz, self._gz = self._gz, None
        gz.close()
        self._file.seek(0)
        return self._file

    def close(self) -> None:
        self._raw = bytearray()
        if self._gz is not None:
            with contextlib.suppress(Exception):
                self._gz.close()
            self._gz = None
        if self._file is not None:
            self._file.close()
            self._file = None


# A \uXXXX escape of a UTF-16 surrogate that is not part of a pair; a false positive
# (an escaped backslash before "u") only costs a strict parse of that chunk.
_LONE_SURROGATE_RE: Final = re.compile(
    rb"\\u[dD](?:[89abAB][0-9a-fA-F]{2}(?!\\u[dD][c-fC-F])"
    rb"|(?<!\\u[dD][89abAB][0-9a-fA-F]{2}\\u[dD])[c-fC-F][0-9a-fA-F]{2})"
)


def _libc_memmem() -> Callable[[bytes, int, bytes, int], int | None] | None:
    """glibc's `memmem`, where there is one: it scans a MiB for a short token 2-3x faster
    than `bytes.__contains__`, and ctypes drops the GIL while it runs. A backup's
    documents are a few hundred MiB of lines searched four times over."""
    memmem = clib.function("memmem")
    if memmem is None:  # pragma: no cover - no C library
        return None
    memmem.restype = ctypes.c_void_p
    memmem.argtypes = [ctypes.c_char_p, ctypes.c_size_t, ctypes.c_char_p, ctypes.c_size_t]
    return cast("Callable[[bytes, int, bytes, int], int | None]", memmem)


_MEMMEM: Final = _libc_memmem()


def _contains(chunk: bytes | bytearray, token: bytes) -> bool:
    if _MEMMEM is not None and type(chunk) is bytes:
        return _MEMMEM(chunk, len(chunk), token, len(token)) is not None
    return token in chunk


def _suspicious(chunk: bytes | bytearray) -> bool:
    """Whether the chunk may hold JSON that only the strict parser can refuse."""
    if _contains(chunk, b"NaN") or _contains(chunk, b"Infinity"):
        return True
    if _contains(chunk, b"\\ud") or _contains(chunk, b"\\uD"):
        return _LONE_SURROGATE_RE.search(chunk) is not None
    return False


def _lines(chunk: bytes | bytearray) -> list[bytes]:
    """The lines of a newline-terminated chunk, without their newlines."""
    lines = bytes(chunk).split(b"\n")
    lines.pop()
    return lines


class ArchiveWriter:
    """Writes one backup archive to ``out`` in a single forward pass.

    Order is enforced because the reader streams the archive once:
    metadata.json (written here), the sections in the order of ``sections``,
    then blobs, then manifest.json from :meth:`close`. ``progress`` receives
    the running total of uncompressed bytes written, about once per MiB.

    ``validate_rows`` parses each row with the reader's strict parser; it
    costs CPU but guarantees the restore will accept every row.
    """

    def __init__(
        self,
        out: BinaryIO,
        *,
        metadata: dict[str, Any],
        key_fingerprint: str,
        sections: Sequence[str],
        compresslevel: int = 1,
        threads: int = 2,
        progress: Callable[[int], None] | None = None,
        limits: ArchiveLimits = _DEFAULT_LIMITS,
        validate_rows: bool = True,
    ) -> None:
        if not isinstance(compresslevel, int) or not 0 <= compresslevel <= 3:
            raise ValueError("compresslevel must be 0..3 (isal levels)")
        if not isinstance(key_fingerprint, str):
            raise TypeError("key_fingerprint must be a string")
        if not isinstance(metadata, dict):
            raise TypeError("metadata must be a dict")
        declared = list(sections)
        for section in declared:
            if section not in SECTIONS:
                raise ValueError(f"unknown section {section!r}")
        if len(set(declared)) != len(declared):
            raise ValueError("duplicate section in sections")
        reserved = {
            "backup_version": BACKUP_VERSION,
            "key_fingerprint": key_fingerprint,
            "sections": declared,
        }
        for key in _RESERVED_METADATA:
            if key in metadata and metadata[key] != reserved[key]:
                raise ValueError(f"metadata[{key!r}] is set by the writer")
        self._limits = limits
        self._validate_rows = validate_rows
        self._progress = progress
        self._sections = declared
        self._next_section = 0
        self._blobs: set[str] = set()
        self._blob_bytes = 0
        self._members: list[MemberInfo] = []
        self._mtime = _mtime_from(metadata)
        self._expanded = 0
        self._next_report = CHUNK_SIZE
        self._failed = False
        self._result: ArchiveResult | None = None
        body = dict(metadata)
        body.update(reserved)
        data = json.dumps(body, ensure_ascii=False, allow_nan=False, indent=2).encode() + b"\n"
        if len(data) > limits.max_metadata_bytes:
            raise LimitExceededError(f"metadata.json exceeds {limits.max_metadata_bytes} bytes")
        try:
            _strict_loads(data, limits.max_json_depth)
        except _JsonRejected as exc:
            raise ValueError(f"metadata would not be readable: {exc.message}") from None
        self._compresslevel = compresslevel
        self._threads = threads
        self._sink = _HashingSink(out)
        self._gz = _open_gzip(self._sink, compresslevel, threads)
        try:
            self._write_small(METADATA_NAME, data)
        except BaseException:
            self._abort()
            raise

    def __del__(self) -> None:
        # A writer dropped without close() would leave isal's compression
        # threads polling for the life of the process.
        if getattr(self, "_gz", None) is not None and self._result is None:
            with contextlib.suppress(Exception):
                self._abort()

    # -- context manager ---------------------------------------------------

    def __enter__(self) -> ArchiveWriter:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        if exc_type is not None:
            self._abort()
        elif self._result is None and not self._failed:
            self.close()

    @property
    def result(self) -> ArchiveResult | None:
        """The result of :meth:`close`, once closed (handy after ``with``)."""
        return self._result

    def has_blob(self, sha256: str) -> bool:
        """Whether a blob was already written; blobs are stored once."""
        return sha256 in self._blobs

    # -- writing -----------------------------------------------------------

    def write_section(self, section: str, rows: Iterable[bytes]) -> int:
        """Write one section; each row is one encoded JSON object without newline."""
        self._check_usable()
        try:
            return self._write_section(section, self._row_chunks(section, rows))
        except BaseException:
            self._abort()
            raise

    def write_section_chunks(self, section: str, chunks: Iterable[bytes]) -> int:
        """Write one section from chunks of whole NDJSON lines; return the row count.

        Each chunk holds complete lines, each a JSON object ending with ``\\n``
        (an empty chunk is skipped). Producers that already have their rows as
        text (a database building the lines) hand them over in bulk, and the
        checks run per chunk at C speed instead of per row in Python.
        """
        self._check_usable()
        try:
            return self._write_section(section, chunks)
        except BaseException:
            self._abort()
            raise

    def write_blob(self, sha256: str, size: int, chunks: Iterable[bytes]) -> None:
        """Stream one blob, verifying its size and digest as it goes."""
        self._check_usable()
        try:
            self._write_blob(sha256, size, chunks)
        except BaseException:
            self._abort()
            raise

    def close(self) -> ArchiveResult:
        """Write manifest.json and the tar end, flush gzip; ``out`` stays open."""
        if self._result is not None:
            return self._result
        self._check_usable()
        try:
            return self._close()
        except BaseException:
            self._abort()
            raise

    # -- internals ---------------------------------------------------------

    def _check_usable(self) -> None:
        if self._failed:
            raise ArchiveWriteError("the writer failed earlier; discard the output")
        if self._result is not None:
            raise ArchiveWriteError("the archive is already closed")

    def _abort(self) -> None:
        """Stop compression threads without producing a valid gzip end."""
        if self._failed:
            return
        self._failed = True
        self._sink.aborted = True
        # The output is discarded; only the original error matters.
        with contextlib.suppress(ArchiveWriteError, OSError, ValueError):
            self._gz.close()

    def _write(self, data: bytes | bytearray | memoryview) -> None:
        self._gz.write(data)
        self._expanded += len(data)
        self._report(self._expanded)

    def _report(self, total: int) -> None:
        """Progress about once per MiB of the tar stream (`total` only grows)."""
        if self._progress is not None and total >= self._next_report:
            self._next_report = total + CHUNK_SIZE
            self._progress(total)

    def _splice(self, member: BinaryIO, size: int) -> None:
        """Put an already compressed gzip member holding `size` bytes of the tar stream
        into the archive: end the current member, copy it, start the next one."""
        length = member.seek(0, io.SEEK_END)
        member.seek(0)
        self._gz.close()
        copied = 0
        while piece := member.read(CHUNK_SIZE):
            copied += len(piece)
            self._sink.write(piece)
        if not copied or copied != length:
            raise ArchiveWriteError("a section's compressed spool file was truncated")
        self._gz = _open_gzip(self._sink, self._compresslevel, self._threads)
        self._expanded += size
        self._report(self._expanded)

    def _begin_member(self, name: str, size: int) -> None:
        limits = self._limits
        if size > limits.max_member_bytes:
            raise LimitExceededError(f"{name} exceeds {limits.max_member_bytes} bytes")
        # +2: this member and manifest.json, which is always written last.
        if len(self._members) + 2 > limits.max_members and name != MANIFEST_NAME:
            raise LimitExceededError(f"more than {limits.max_members} members")
        if self._expanded + BLOCK_SIZE + size > limits.max_total_bytes:
            raise LimitExceededError(f"archive would exceed {limits.max_total_bytes} bytes")
        self._write(tar_header(name, size, self._mtime))

    def _end_member(self, size: int) -> None:
        padding = -size % BLOCK_SIZE
        if padding:
            self._write(bytes(padding))

    def _write_small(self, name: str, data: bytes) -> str:
        self._begin_member(name, len(data))
        self._write(data)
        self._end_member(len(data))
        digest = hashlib.sha256(data).hexdigest()
        self._members.append(MemberInfo(name, len(data), digest))
        return digest

    def _write_section(self, section: str, chunks: Iterable[bytes]) -> int:
        if section not in SECTIONS:
            raise ValueError(f"unknown section {section!r}")
        if section not in self._sections:
            raise ValueError(f"section {section!r} was not declared in sections")
        position = self._sections.index(section)
        if position < self._next_section:
            raise ValueError(f"section {section!r} was already written")
        if self._blobs:
            raise ValueError("sections must be written before blobs")
        if position != self._next_section:
            expected = self._sections[self._next_section]
            raise ValueError(f"section {section!r} is out of order; write {expected!r} first")
        name = section_member(section)
        limits = self._limits
        # One digest, taken as the bytes enter the spool: the member's size must be in
        # its tar header, so the section is complete before any of it is written.
        digest = hashlib.sha256()
        count = 0
        size = 0
        spool = _SectionSpool(self._compresslevel, self._threads)

        def sized(chunks: Iterable[bytes]) -> Iterator[bytes]:
            """The producer's side (this thread): types, size limit, progress."""
            nonlocal size
            for chunk in chunks:
                if not isinstance(chunk, bytes | bytearray):
                    raise TypeError(f"{section}: chunks must be bytes")
                if not chunk:
                    continue
                size += len(chunk)
                if size > limits.max_member_bytes:
                    raise LimitExceededError(f"{name} exceeds {limits.max_member_bytes} bytes")
                yield chunk
                self._report(self._expanded + size)  # the section's bytes are on their way

        def take(chunk: bytes) -> None:
            """The second thread's side: the reader's rules, the digest, compression."""
            nonlocal count
            count += self._check_chunk(section, count, chunk)
            digest.update(chunk)
            spool.write(chunk)

        try:
            handed_off(sized(chunks), take)
            self._begin_member(name, size)
            if spool.compressed:
                self._splice(spool.member(), size)
            else:
                self._write(spool.raw())
        finally:
            spool.close()
        self._end_member(size)
        self._members.append(MemberInfo(name, size, digest.hexdigest(), count))
        self._next_section += 1
        return count

    @staticmethod
    def _row_chunks(section: str, rows: Iterable[bytes]) -> Iterator[bytes]:
        """Rows joined into chunks of lines, so both section APIs share one path."""
        pending: list[bytes] = []
        pending_bytes = 0
        for number, row in enumerate(rows, start=1):
            if not isinstance(row, bytes | bytearray):
                raise TypeError(f"{section} row {number}: rows must be bytes")
            if b"\n" in row:
                raise RowRejectedError(f"{section} row {number}: contains a newline")
            pending.append(row)
            pending_bytes += len(row) + 1
            if pending_bytes >= CHUNK_SIZE:
                pending.append(b"")
                yield b"\n".join(pending)
                pending.clear()
                pending_bytes = 0
        if pending:
            pending.append(b"")
            yield b"\n".join(pending)

    def _check_chunk(self, section: str, before: int, chunk: bytes | bytearray) -> int:
        """Prove the reader will accept the chunk's lines; return how many there are.

        Without ``validate_rows`` the shape is checked with byte counts over the whole
        chunk: every line starts with ``{``, ends with ``}``, none is empty or too long.
        Only the JSON the reader refuses although a database or ``json.dumps`` may hold
        it (NaN, infinities, lone surrogates) needs parsing, and a search for those
        tokens finds the rare chunk where the strict parser must run.
        """
        if not chunk.endswith(b"\n"):
            raise RowRejectedError(
                f"{section} row {before + 1}: chunk does not end with a newline "
                "(chunks must hold whole lines)"
            )
        count = chunk.count(b"\n")
        if self._validate_rows or _suspicious(chunk):
            self._parse_lines(section, before, chunk)
            return count
        # Newlines are distinct, so count - 1 occurrences of "}\n{" put every newline
        # but the last between two objects; the ends settle the first and the last line.
        if not (
            chunk.startswith(b"{") and chunk.endswith(b"}\n") and chunk.count(b"}\n{") == count - 1
        ):
            number = before + 1
            for line in _lines(chunk):
                if not (line.startswith(b"{") and line.endswith(b"}")):
                    break
                number += 1
            raise RowRejectedError(f"{section} row {number}: not a JSON object within limits")
        max_line = self._limits.max_line_bytes
        if len(chunk) > max_line + 1:
            for number, line in enumerate(_lines(chunk), start=before + 1):
                if len(line) > max_line:
                    raise RowRejectedError(
                        f"{section} row {number}: not a JSON object within limits "
                        f"(longer than {max_line} bytes)"
                    )
        return count

    def _parse_lines(self, section: str, before: int, chunk: bytes | bytearray) -> None:
        for number, line in enumerate(_lines(chunk), start=before + 1):
            try:
                parse_json_line(line, self._limits)
            except InvalidArchive as exc:
                raise RowRejectedError(f"{section} row {number}: {exc.reason}") from None

    def _write_blob(self, sha256: str, size: int, chunks: Iterable[bytes]) -> None:
        if not isinstance(sha256, str) or not SHA256_RE.fullmatch(sha256):
            raise ValueError("sha256 must be 64 lowercase hex digits")
        if isinstance(size, bool) or not isinstance(size, int) or size < 0:
            raise ValueError("size must be a non-negative int")
        if self._next_section < len(self._sections):
            missing = self._sections[self._next_section]
            raise ValueError(f"write every section before blobs (missing {missing!r})")
        if sha256 in self._blobs:
            raise ValueError(f"blob {sha256} was already written")
        name = blob_member(sha256)
        self._begin_member(name, size)
        digest = hashlib.sha256()
        written = 0
        for chunk in chunks:
            written += len(chunk)
            if written > size:
                raise BlobMismatchError(f"blob {sha256} is larger than its declared {size} bytes")
            digest.update(chunk)
            self._write(chunk)
        if written != size:
            raise BlobMismatchError(f"blob {sha256} is {written} bytes, declared {size}")
        if digest.hexdigest() != sha256:
            raise BlobMismatchError(f"blob {sha256}: content has a different SHA-256")
        self._end_member(size)
        self._blobs.add(sha256)
        self._blob_bytes += size
        self._members.append(MemberInfo(name, size, sha256))

    def _close(self) -> ArchiveResult:
        if self._next_section < len(self._sections):
            missing = self._sections[self._next_section]
            raise ValueError(f"section {missing!r} was declared but not written")
        members: list[dict[str, Any]] = []
        for info in self._members:
            entry: dict[str, Any] = {"name": info.name, "size": info.size, "sha256": info.sha256}
            if info.rows is not None:
                entry["rows"] = info.rows
            members.append(entry)
        sections = {
            info.name[len("data/") : -len(".ndjson")]: info.rows
            for info in self._members
            if info.rows is not None
        }
        manifest = {
            "backup_version": BACKUP_VERSION,
            "members": members,
            "sections": {
                section: {"rows": rows, "member": section_member(section)}
                for section, rows in sections.items()
            },
            "blob_count": len(self._blobs),
            "blob_bytes": self._blob_bytes,
        }
        data = json.dumps(manifest, separators=(",", ":"), allow_nan=False).encode() + b"\n"
        if len(data) > self._limits.max_manifest_bytes:
            raise LimitExceededError(
                f"manifest.json exceeds {self._limits.max_manifest_bytes} bytes"
            )
        self._write_small(MANIFEST_NAME, data)
        end = 2 * BLOCK_SIZE
        end += -(self._expanded + end) % RECORD_SIZE
        self._write(bytes(end))
        if self._expanded > self._limits.max_total_bytes:
            raise LimitExceededError(f"archive exceeds {self._limits.max_total_bytes} bytes")
        self._gz.close()
        self._sink.flush()
        if self._progress is not None:
            self._progress(self._expanded)
        self._result = ArchiveResult(
            sha256=self._sink.hexdigest(),
            size=self._sink.size,
            members=list(self._members),
            sections={s: rows for s, rows in sections.items() if rows is not None},
            expanded_size=self._expanded,
        )
        return self._result

"""Streaming, validating reader for CloudBox backup archives.

Restores take archives from users, so every byte here is hostile until
proven otherwise. Python's ``tarfile`` and ``gzip`` modules are built for
convenience, not validation (``tarfile`` stops quietly at a corrupt header,
never reaches the gzip CRC unless the stream is drained, ignores what follows
the end marker and accepts negative sizes), so this module parses the tar
headers itself, decompresses with an explicit output bound, drains the gzip
stream to its very end and checks every member against the manifest.

Two passes are expected: :func:`verify_archive` proves the whole archive is
sound before anything is applied, then :class:`ArchiveReader` streams it
again for the restore, re-checking everything because the file may have been
replaced in between. Neither pass writes to disk or holds more than about one
chunk (plus one ndjson line, metadata.json and manifest.json) in memory.
"""

from __future__ import annotations

import hashlib
import json
import math
import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any, BinaryIO, ClassVar, Final, Literal, cast

from isal import isal_zlib

from cloudbox.archive.format import (
    BLOB_NAME_RE,
    BLOCK_SIZE,
    CHUNK_SIZE,
    MANIFEST_NAME,
    METADATA_NAME,
    SECTION_NAME_RE,
    SECTIONS,
    SHA256_RE,
    SUPPORTED_VERSIONS,
    VERSION_RE,
    ArchiveError,
    ArchiveLimits,
    section_member,
)

__all__ = [
    "ArchiveLimits",
    "ArchiveReader",
    "ArchiveScan",
    "InvalidArchive",
    "Member",
    "MemberKind",
    "UnsupportedVersion",
    "VerifiedArchive",
    "parse_json_line",
    "verify_archive",
]

MemberKind = Literal["metadata", "section", "blob", "manifest"]

_DEFAULT_LIMITS: Final = ArchiveLimits()
_ZERO_BLOCK: Final = bytes(BLOCK_SIZE)
# isal's stub declares ``error`` as an instance; it is the exception class.
_DECOMPRESS_ERROR: Final = cast("type[Exception]", isal_zlib.error)
_KNOWN_SECTIONS: Final = frozenset(SECTIONS)
_MAX_SIZE_FIELD: Final = 2**63 - 1


class InvalidArchive(ArchiveError):
    """The archive is unusable; nothing from it may be applied.

    ``reason`` is meant for the API response and the audit log: it names the
    rule that failed and at most archive-internal names, never server paths.
    ``rule`` is a stable machine-readable slug, for tests and metrics.
    """

    code: ClassVar[str] = "INVALID_ARCHIVE"

    def __init__(self, reason: str, *, rule: str = "invalid") -> None:
        super().__init__(reason)
        self.reason = reason
        self.rule = rule


class UnsupportedVersion(InvalidArchive):
    """The archive is (syntactically) from a newer CloudBox than this one.

    Kept distinct so the API can tell the user to upgrade the server rather
    than report the backup as corrupt.
    """

    code: ClassVar[str] = "UNSUPPORTED_BACKUP_VERSION"


@dataclass(frozen=True)
class VerifiedArchive:
    """What one full verification pass proved about an archive.

    The second pass (:class:`ArchiveReader`) compares against this, so a file
    swapped between the passes is detected.
    """

    metadata: dict[str, Any]
    manifest: dict[str, Any]
    #: SHA-256 (hex) and size of the compressed file as read.
    sha256: str
    size: int
    #: Rows per section, in archive order.
    sections: dict[str, int]
    #: Blob digest -> size.
    blobs: dict[str, int]
    #: Decompressed size of the tar stream; useful for restore progress.
    expanded_size: int = 0
    #: Highest expanded/compressed ratio observed past the grace threshold.
    peak_ratio: float = 0.0


# --------------------------------------------------------------------------
# Strict JSON
# --------------------------------------------------------------------------


class _JsonRejected(Exception):
    """Internal: carries a rule and message out of json.loads hooks."""

    def __init__(self, rule: str, message: str) -> None:
        super().__init__(message)
        self.rule = rule
        self.message = message


# A JSON string token; possessive so a hostile line cannot cause backtracking.
_STRING_RE: Final = re.compile(rb'"(?:[^"\\]++|\\.)*+"', re.DOTALL)
_PAIR_RE: Final = re.compile(rb"\[\]|\{\}")
_NOT_BRACKETS: Final = bytes(b for b in range(256) if b not in b"[]{}")
_SURROGATE_ESCAPE_RE: Final = re.compile(r"\\u[dD][89a-fA-F]")


def _check_depth(data: bytes, max_depth: int) -> None:
    """Bound nesting before json.loads sees the text.

    json.loads recurses per nesting level, so a line of 100,000 ``[`` would
    raise RecursionError (or worse) inside the parser. Counting brackets is a
    C-speed upper bound that settles almost every line; only lines with many
    brackets get the exact check, which strips strings and then removes
    innermost ``[]``/``{}`` pairs round by round: the number of rounds is the
    depth, and we stop after ``max_depth + 1`` rounds whatever the input.
    """
    if data.count(b"[") + data.count(b"{") <= max_depth:
        return
    skeleton = _STRING_RE.sub(b"", data).translate(None, _NOT_BRACKETS)
    if re.search(rb"[\[{]{%d}" % (max_depth + 1), skeleton):
        raise _JsonRejected("json_depth", f"JSON nesting deeper than {max_depth} levels")
    depth = 0
    while skeleton:
        reduced = _PAIR_RE.sub(b"", skeleton)
        if len(reduced) == len(skeleton):
            raise _JsonRejected("json_syntax", "not valid JSON (unbalanced brackets)")
        depth += 1
        if depth > max_depth:
            raise _JsonRejected("json_depth", f"JSON nesting deeper than {max_depth} levels")
        skeleton = reduced


def _pairs_hook(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    obj = dict(pairs)
    if len(obj) != len(pairs):
        raise _JsonRejected("json_duplicate_key", "duplicate key in JSON object")
    return obj


def _reject_constant(name: str) -> Any:
    raise _JsonRejected("json_nan", f"{name} is not allowed in JSON")


def _parse_float(text: str) -> float:
    value = float(text)
    if not math.isfinite(value):
        raise _JsonRejected("json_number", "number out of range")
    return value


def _has_lone_surrogate(value: Any) -> bool:
    stack = [value]
    while stack:
        item = stack.pop()
        if isinstance(item, str):
            try:
                item.encode("utf-8")
            except UnicodeEncodeError:
                return True
        elif isinstance(item, dict):
            stack.extend(item.keys())
            stack.extend(item.values())
        elif isinstance(item, list):
            stack.extend(item)
    return False


# Built once: json.loads(**hooks) would construct a decoder per row.
_DECODER: Final = json.JSONDecoder(
    object_pairs_hook=_pairs_hook, parse_constant=_reject_constant, parse_float=_parse_float
)
_SCAN_ONCE: Final[Callable[[str, int], tuple[Any, int]]] = cast(Any, _DECODER).scan_once


def _strict_loads(data: bytes, max_depth: int, *, row: bool = False) -> Any:
    """Parse JSON the way a restore needs it: exact, bounded, unambiguous.

    Rejects what ``json.loads`` tolerates but a database or a second parser
    might read differently: invalid UTF-8, NaN/Infinity (and overflowing
    floats that silently become infinity), duplicate keys, lone surrogates
    and excessive nesting. ``row`` selects the ndjson fast path: the text
    must be exactly one object, without surrounding whitespace.
    """
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise _JsonRejected("json_utf8", f"invalid UTF-8 at byte {exc.start}") from None
    if row and not text.startswith("{"):
        raise _JsonRejected("json_not_object", "row is not a JSON object")
    _check_depth(data, max_depth)
    try:
        if row:
            # The C scanner directly: decode() adds two regex matches per row.
            value, end = _SCAN_ONCE(text, 0)
            if end != len(text):
                raise _JsonRejected("json_syntax", f"not valid JSON (extra data at {end})")
        else:
            value = _DECODER.decode(text)
    except StopIteration as exc:
        raise _JsonRejected("json_syntax", f"not valid JSON (at {exc.value})") from None
    except json.JSONDecodeError as exc:
        raise _JsonRejected("json_syntax", f"not valid JSON ({exc.msg} at {exc.pos})") from None
    except RecursionError:  # pragma: no cover - _check_depth makes this unreachable
        raise _JsonRejected("json_depth", "JSON nested too deeply") from None
    except ValueError:  # int() digit limit
        raise _JsonRejected("json_number", "number out of range") from None
    if "\\u" in text and _SURROGATE_ESCAPE_RE.search(text) and _has_lone_surrogate(value):
        raise _JsonRejected("json_surrogate", "lone UTF-16 surrogate in JSON string")
    return value


def _parse_row(line: bytes, limits: ArchiveLimits) -> dict[str, Any]:
    if len(line) > limits.max_line_bytes:
        raise _JsonRejected("line_too_long", f"line longer than {limits.max_line_bytes} bytes")
    value = _strict_loads(line, limits.max_json_depth, row=True)
    if not isinstance(value, dict):  # pragma: no cover - guaranteed by the '{' check
        raise _JsonRejected("json_not_object", "row is not a JSON object")
    return cast("dict[str, Any]", value)


def parse_json_line(line: bytes, limits: ArchiveLimits = _DEFAULT_LIMITS) -> dict[str, Any]:
    """Parse one ndjson row strictly (see ``_strict_loads``); raise InvalidArchive.

    Public so the writer, and anything else producing rows, can prove a row
    will be accepted at restore time before it is written.
    """
    try:
        return _parse_row(line, limits)
    except _JsonRejected as exc:
        raise InvalidArchive(exc.message, rule=exc.rule) from None


# --------------------------------------------------------------------------
# Versions
# --------------------------------------------------------------------------


def _version_tuple(version: str) -> tuple[int, int]:
    major, minor = version.split(".")
    return int(major), int(minor)


_NEWEST_SUPPORTED: Final = max(_version_tuple(v) for v in SUPPORTED_VERSIONS)


def _check_version(value: object, where: str) -> str:
    if not isinstance(value, str) or not VERSION_RE.fullmatch(value):
        raise InvalidArchive(
            f"{where}: backup_version is missing or malformed", rule="version_invalid"
        )
    if value in SUPPORTED_VERSIONS:
        return value
    if _version_tuple(value) > _NEWEST_SUPPORTED:
        raise UnsupportedVersion(
            f"backup_version {value} is newer than this server supports "
            f"(newest supported: {'.'.join(map(str, _NEWEST_SUPPORTED))})",
            rule="version_unsupported",
        )
    raise InvalidArchive(
        f"backup_version {value} is not a known format version", rule="version_unknown"
    )


def _quote(name: str | bytes) -> str:
    """Archive-internal name made safe for logs: ASCII, bounded length."""
    shown = ascii(name[:80])
    return shown + ("..." if len(name) > 80 else "")


# --------------------------------------------------------------------------
# gzip layer
# --------------------------------------------------------------------------


class _Inflater:
    """Decompressed view of the source with the stream-level checks.

    Hashes every compressed byte (whole-archive digest without a second read),
    bounds each decompression step's output, enforces the size and ratio
    limits as data comes out, accepts concatenated gzip members (threaded
    writers may emit them) and refuses anything else after the last one.
    """

    def __init__(self, source: BinaryIO, limits: ArchiveLimits) -> None:
        self._source = source
        self._limits = limits
        self._hash = hashlib.sha256()
        self.compressed_size = 0
        self.expanded_size = 0
        self.peak_ratio = 0.0
        self._pending = b""
        self._inflate: isal_zlib.Decompress | None = None
        self._gzip_members = 0
        self._source_eof = False
        self._done = False
        self._out = b""
        self._pos = 0

    @property
    def sha256(self) -> str:
        return self._hash.hexdigest()

    def _read_source(self) -> bytes:
        if self._source_eof:
            return b""
        data = self._source.read(CHUNK_SIZE)
        if data is None:
            raise TypeError("archive source must be a blocking binary stream")
        if not data:
            self._source_eof = True
            return b""
        data = bytes(data)
        self._hash.update(data)
        self.compressed_size += len(data)
        return data

    def _start_member(self) -> bool:
        """Open the next gzip member; False when the input has ended cleanly."""
        while len(self._pending) < 4:
            more = self._read_source()
            if not more:
                break
            self._pending += more
        if not self._pending:
            if self._gzip_members == 0:
                raise InvalidArchive("the file is empty", rule="gzip_empty")
            return False
        head = self._pending[:4]
        if len(head) < 4 or head[:3] != b"\x1f\x8b\x08" or head[3] & 0xE0:
            if self._gzip_members == 0:
                raise InvalidArchive("not a gzip-compressed file", rule="gzip_header")
            raise InvalidArchive(
                "unexpected data after the end of the compressed stream", rule="gzip_trailing"
            )
        self._inflate = isal_zlib.decompressobj(wbits=31)
        self._gzip_members += 1
        return True

    def _step(self, inflate: isal_zlib.Decompress, data: bytes) -> bytes:
        try:
            out = inflate.decompress(data, CHUNK_SIZE)
        except _DECOMPRESS_ERROR as exc:
            if "checksum" in str(exc).lower():
                raise InvalidArchive(
                    "compressed data checksum (CRC) mismatch", rule="gzip_crc"
                ) from None
            raise InvalidArchive("compressed data is corrupt", rule="gzip_corrupt") from None
        if inflate.eof:
            self._pending = inflate.unused_data
            self._inflate = None
        else:
            self._pending = inflate.unconsumed_tail
        return out

    def _more(self) -> bytes:
        """Next non-empty piece of decompressed data, or b"" at a clean end."""
        while True:
            if self._done:
                return b""
            inflate = self._inflate
            if inflate is None:
                if not self._start_member():
                    self._done = True
                    return b""
                continue
            if self._pending:
                fed = len(self._pending)
                out = self._step(inflate, self._pending)
                if not out and self._inflate is inflate and len(self._pending) >= fed:
                    # No progress: the decompressor wants more input first.
                    if fed > 2 * CHUNK_SIZE:
                        raise InvalidArchive("compressed data is corrupt", rule="gzip_corrupt")
                    more = self._read_source()
                    if not more:
                        raise InvalidArchive(
                            "the compressed stream is truncated", rule="gzip_truncated"
                        )
                    self._pending += more
            else:
                more = self._read_source()
                if more:
                    self._pending = more
                    continue
                # Input exhausted: zlib may still hold output for us.
                out = self._step(inflate, b"")
                if not out and self._inflate is inflate:
                    raise InvalidArchive(
                        "the compressed stream is truncated", rule="gzip_truncated"
                    )
            if out:
                self._account(len(out))
                return out

    def _account(self, produced: int) -> None:
        limits = self._limits
        self.expanded_size += produced
        if self.expanded_size > limits.max_total_bytes:
            raise InvalidArchive(
                f"archive expands to more than {limits.max_total_bytes} bytes",
                rule="limit_total_bytes",
            )
        if self.expanded_size > limits.ratio_grace_bytes:
            consumed = max(self.compressed_size - len(self._pending), 1)
            ratio = self.expanded_size / consumed
            self.peak_ratio = max(self.peak_ratio, ratio)
            if ratio > limits.max_ratio:
                raise InvalidArchive(
                    f"compression ratio exceeds {limits.max_ratio:g}",
                    rule="limit_ratio",
                )

    def read(self, n: int) -> bytes:
        """Up to ``n`` decompressed bytes; b"" only at the clean end of input."""
        if self._pos >= len(self._out):
            self._out = self._more()
            self._pos = 0
            if not self._out:
                return b""
        start = self._pos
        self._pos = min(start + n, len(self._out))
        if start == 0 and self._pos == len(self._out):
            return self._out
        return self._out[start : self._pos]

    def read_exact(self, n: int) -> bytes:
        first = self.read(n)
        if len(first) == n or not first:
            return first
        parts = [first]
        got = len(first)
        while got < n:
            piece = self.read(n - got)
            if not piece:
                break
            parts.append(piece)
            got += len(piece)
        return b"".join(parts)


# --------------------------------------------------------------------------
# tar layer
# --------------------------------------------------------------------------

_TYPE_RULES: Final[dict[bytes, tuple[str, str]]] = {
    b"1": ("type_hardlink", "hard link members are not allowed"),
    b"2": ("type_symlink", "symbolic link members are not allowed"),
    b"3": ("type_chardev", "character device members are not allowed"),
    b"4": ("type_blockdev", "block device members are not allowed"),
    b"5": ("type_directory", "directory members are not allowed"),
    b"6": ("type_fifo", "FIFO members are not allowed"),
    b"7": ("type_contiguous", "contiguous file members are not allowed"),
    b"x": ("type_pax", "pax extended headers are not allowed"),
    b"g": ("type_pax_global", "pax global headers are not allowed"),
    b"L": ("type_gnu_longname", "GNU long name members are not allowed"),
    b"K": ("type_gnu_longlink", "GNU long link name members are not allowed"),
    b"S": ("type_sparse", "sparse file members are not allowed"),
}
_OCTAL_RE: Final = re.compile(rb"[0-7]+")
_HIGH_BYTES: Final = bytes(range(128, 256))


def _octal_field(field: bytes) -> int | None:
    digits = field.strip(b" \0")
    if not _OCTAL_RE.fullmatch(digits):
        return None
    return int(digits, 8)


def _parse_size(field: bytes, where: str) -> int:
    first = field[0]
    if first & 0x80:
        # GNU base-256: high bit set; the next bit is the sign.
        if first & 0x40:
            raise InvalidArchive(f"{where}: negative size", rule="tar_size_negative")
        value = int.from_bytes(bytes([first & 0x3F]) + field[1:], "big")
    else:
        if field.strip(b" \0").startswith(b"-"):
            raise InvalidArchive(f"{where}: negative size", rule="tar_size_negative")
        parsed = _octal_field(field)
        if parsed is None:
            raise InvalidArchive(f"{where}: malformed size field", rule="tar_size_invalid")
        value = parsed
    if value > _MAX_SIZE_FIELD:
        raise InvalidArchive(f"{where}: size field overflows", rule="tar_size_overflow")
    return value


def _check_header_checksum(block: bytes, where: str) -> None:
    stored = _octal_field(block[148:156])
    if stored is None:
        raise InvalidArchive(f"{where}: malformed header checksum", rule="tar_checksum")
    unsigned = sum(block) - sum(block[148:156]) + 8 * 0x20
    if stored == unsigned:
        return
    # Some historic tars summed signed chars; accept that spelling too.
    high = len(block) - len(block.translate(None, _HIGH_BYTES))
    high_in_field = 8 - len(block[148:156].translate(None, _HIGH_BYTES))
    if stored != unsigned - 256 * (high - high_in_field):
        raise InvalidArchive(f"{where}: header checksum mismatch", rule="tar_checksum")


@dataclass(frozen=True)
class _Header:
    name: str
    size: int


def _parse_header(block: bytes, index: int) -> _Header:
    where = f"tar member #{index + 1}"
    _check_header_checksum(block, where)
    magic = block[257:265]
    if magic not in (b"ustar\x0000", b"ustar  \x00"):
        raise InvalidArchive(f"{where}: not a ustar header", rule="tar_magic")
    typeflag = block[156:157]
    if typeflag not in (b"0", b"\0"):
        rule, message = _TYPE_RULES.get(
            typeflag, ("type_other", f"member type {typeflag!r} is not allowed")
        )
        raise InvalidArchive(f"{where}: {message}", rule=rule)
    size = _parse_size(block[124:136], where)
    if block[157:257].strip(b"\0"):
        raise InvalidArchive(f"{where}: regular file with a link name", rule="tar_linkname")
    if block[345:500].strip(b"\0"):
        raise InvalidArchive(f"{where}: name prefix field is not allowed", rule="tar_prefix")
    raw_name, _, rest = block[0:100].partition(b"\0")
    if rest.strip(b"\0"):
        raise InvalidArchive(
            f"{where}: member name contains a NUL byte: {_quote(raw_name)}", rule="name_nul"
        )
    try:
        name = raw_name.decode("utf-8")
    except UnicodeDecodeError:
        raise InvalidArchive(
            f"{where}: member name is not UTF-8: {_quote(raw_name)}", rule="name_encoding"
        ) from None
    return _Header(name=name, size=size)


def _classify_name(name: str, where: str) -> tuple[MemberKind, str | None]:
    """Map a member name to its kind; anything unexpected is refused."""
    if name == METADATA_NAME:
        return "metadata", None
    if name == MANIFEST_NAME:
        return "manifest", None
    match = SECTION_NAME_RE.fullmatch(name)
    if match:
        if match.group(1) not in _KNOWN_SECTIONS:
            raise InvalidArchive(
                f"{where}: unknown section {_quote(match.group(1))}", rule="name_unknown_section"
            )
        return "section", match.group(1)
    match = BLOB_NAME_RE.fullmatch(name)
    if match:
        return "blob", match.group(1)
    if name.startswith("/"):
        raise InvalidArchive(f"{where}: absolute member name {_quote(name)}", rule="name_absolute")
    if "\\" in name:
        raise InvalidArchive(
            f"{where}: backslash in member name {_quote(name)}", rule="name_backslash"
        )
    if ".." in name.split("/"):
        raise InvalidArchive(f"{where}: '..' in member name {_quote(name)}", rule="name_parent")
    raise InvalidArchive(f"{where}: unexpected member {_quote(name)}", rule="name_invalid")


# --------------------------------------------------------------------------
# Archive layer
# --------------------------------------------------------------------------


@dataclass
class _Record:
    size: int
    sha256: str
    rows: int | None


class Member:
    """One archive member during :class:`ArchiveReader` iteration.

    Valid only until the iterator advances; data the consumer does not read
    is drained (and still verified) when it does. Rows and chunks are handed
    out before the member's digest can be checked, so a restore must stage
    what it applies and discard it if iteration raises.
    """

    __slots__ = (
        "_buffer",
        "_complete_done",
        "_hash",
        "_lines",
        "_remaining",
        "_row_count",
        "_stream",
        "kind",
        "name",
        "section",
        "sha256",
        "size",
    )

    def __init__(
        self,
        stream: _ArchiveStream,
        name: str,
        kind: MemberKind,
        section: str | None,
        sha256: str | None,
        size: int,
    ) -> None:
        self.name = name
        self.kind: MemberKind = kind
        self.section = section
        self.sha256 = sha256
        self.size = size
        self._stream = stream
        self._remaining = size
        self._hash = hashlib.sha256()
        self._row_count = 0
        self._lines: Iterator[bytes] | None = None
        self._buffer: bytes | None = None
        self._complete_done = False

    def __repr__(self) -> str:
        return f"Member(name={self.name!r}, kind={self.kind!r}, size={self.size})"

    # -- public -----------------------------------------------------------

    def rows(self) -> Iterator[dict[str, Any]]:
        """Strictly parsed rows of a section member, in order."""
        if self.kind != "section":
            raise ValueError(f"{self.name} is not a section")
        self._check_current()
        limits = self._stream.limits
        for line in self._line_iter():
            try:
                yield _parse_row(line, limits)
            except _JsonRejected as exc:
                raise self._stream.fail(
                    f"{self.name} line {self._row_count}: {exc.message}", exc.rule
                ) from None

    def lines(self) -> Iterator[bytes]:
        """The raw NDJSON lines of a section member, not parsed.

        Line lengths, row counts and the member digest are still checked. Only for a
        caller that proved the rows another way: a restore whose archive matches the
        SHA-256 recorded when it was written (or strictly verified at import) parses
        with the plain C parser instead of the strict one, once instead of per pass.
        """
        if self.kind != "section":
            raise ValueError(f"{self.name} is not a section")
        self._check_current()
        return self._line_iter()

    def chunks(self) -> Iterator[bytes]:
        """Raw content in chunks of at most 1 MiB (blobs, metadata, manifest)."""
        if self.kind == "section":
            raise ValueError("read sections with rows()")
        self._check_current()
        if self._buffer is not None:
            for start in range(0, len(self._buffer), CHUNK_SIZE):
                self._check_current()
                yield self._buffer[start : start + CHUNK_SIZE]
            return
        while chunk := self._read():
            yield chunk
        self._complete()

    # -- engine side ------------------------------------------------------

    def _check_current(self) -> None:
        if self._stream.current is not self:
            raise ValueError(f"{self.name} is no longer the current member")
        if self._stream.failed:
            raise InvalidArchive("the archive already failed validation", rule="failed")

    def _read(self) -> bytes:
        self._check_current()
        if self._remaining == 0:
            return b""
        try:
            chunk = self._stream.inflater.read(min(self._remaining, CHUNK_SIZE))
        except InvalidArchive:
            self._stream.failed = True
            raise
        if not chunk:
            raise self._stream.fail(f"{self.name}: member data is truncated", "tar_truncated")
        self._remaining -= len(chunk)
        self._hash.update(chunk)
        return chunk

    def _read_all(self) -> bytes:
        parts = []
        while chunk := self._read():
            parts.append(chunk)
        data = b"".join(parts)
        self._complete()
        self._buffer = data
        return data

    def _line_iter(self) -> Iterator[bytes]:
        if self._lines is None:
            self._lines = self._split_lines()
        return self._lines

    def _split_lines(self) -> Iterator[bytes]:
        max_line = self._stream.limits.max_line_bytes
        partial = bytearray()
        while chunk := self._read():
            parts = chunk.split(b"\n")
            if len(parts) == 1:
                partial += chunk
                if len(partial) > max_line:
                    raise self._line_too_long()
                continue
            if partial:
                partial += parts[0]
                parts[0] = bytes(partial)
            partial = bytearray(parts.pop())
            for line in parts:
                if len(line) > max_line:
                    raise self._line_too_long()
                self._row_count += 1
                yield line
            if len(partial) > max_line:
                raise self._line_too_long()
        if partial:
            raise self._stream.fail(
                f"{self.name}: last line is not newline-terminated", "ndjson_unterminated"
            )
        self._complete()

    def _line_too_long(self) -> InvalidArchive:
        return self._stream.fail(
            f"{self.name} line {self._row_count + 1}: line longer than "
            f"{self._stream.limits.max_line_bytes} bytes",
            "line_too_long",
        )

    def _drain(self, parse: bool) -> None:
        if self._complete_done:
            return
        if self.kind == "section":
            limits = self._stream.limits
            for line in self._line_iter():
                if parse:
                    try:
                        _parse_row(line, limits)
                    except _JsonRejected as exc:
                        raise self._stream.fail(
                            f"{self.name} line {self._row_count}: {exc.message}", exc.rule
                        ) from None
            if not self._complete_done:  # the line iterator was abandoned mid-way
                raise self._stream.fail(f"{self.name}: incomplete read", "failed")
        else:
            while self._read():
                pass
            self._complete()

    def _complete(self) -> None:
        if self._complete_done:
            return
        self._complete_done = True
        self._stream.finish_member(self, self._hash.hexdigest(), self._row_count)


class _ArchiveStream:
    """One streaming pass over an archive; shared by both reading passes."""

    def __init__(
        self,
        source: BinaryIO,
        limits: ArchiveLimits,
        *,
        parse_on_drain: bool,
        expected: VerifiedArchive | None,
    ) -> None:
        self.limits = limits
        self.inflater = _Inflater(source, limits)
        self.parse_on_drain = parse_on_drain
        self.expected = expected
        self.expected_members: dict[str, dict[str, Any]] = {}
        if expected is not None:
            self.expected_members = {m["name"]: m for m in expected.manifest["members"]}
        self.current: Member | None = None
        self.failed = False
        self.records: dict[str, _Record] = {}
        self.metadata: dict[str, Any] | None = None
        self.manifest: dict[str, Any] | None = None
        self.declared: list[str] = []
        self.next_section = 0
        self.sections: dict[str, int] = {}
        self.blobs: dict[str, int] = {}
        self.blob_bytes = 0
        self.seen_blob = False
        self.count = 0

    def fail(self, reason: str, rule: str) -> InvalidArchive:
        self.failed = True
        return InvalidArchive(reason, rule=rule)

    # -- iteration --------------------------------------------------------

    def members(self) -> Iterator[Member]:
        try:
            while True:
                header = self._next_header()
                if header is None:
                    break
                member = self._open(header)
                self.current = member
                if member.kind == "metadata":
                    self._load_metadata(member)
                elif member.kind == "manifest":
                    self._load_manifest(member)
                yield member
                if self.failed:
                    raise InvalidArchive("the archive already failed validation", rule="failed")
                member._drain(self.parse_on_drain)
                self._read_padding(member)
                self.current = None
            self._finish_archive()
        except InvalidArchive:
            self.failed = True
            self.current = None
            raise

    def _next_header(self) -> _Header | None:
        block = self.inflater.read_exact(BLOCK_SIZE)
        if not block:
            raise InvalidArchive(
                "the archive ends without the tar end-of-archive marker", rule="tar_no_end"
            )
        if len(block) < BLOCK_SIZE:
            raise InvalidArchive("the archive ends inside a tar header", rule="tar_truncated")
        if block == _ZERO_BLOCK:
            second = self.inflater.read_exact(BLOCK_SIZE)
            if second != _ZERO_BLOCK:
                raise InvalidArchive(
                    "incomplete or interrupted tar end-of-archive marker", rule="tar_end_marker"
                )
            return None
        return _parse_header(block, self.count)

    def _open(self, header: _Header) -> Member:
        limits = self.limits
        index = self.count
        self.count += 1
        if self.count > limits.max_members:
            raise InvalidArchive(f"more than {limits.max_members} members", rule="limit_members")
        name = header.name
        where = f"tar member #{index + 1}"
        kind, detail = _classify_name(name, where)
        if header.size > limits.max_member_bytes:
            raise InvalidArchive(
                f"{_quote(name)} is larger than {limits.max_member_bytes} bytes",
                rule="limit_member_bytes",
            )
        if name in self.records or (kind == "manifest" and self.manifest is not None):
            raise InvalidArchive(f"duplicate member {_quote(name)}", rule="duplicate_member")
        if index == 0 and kind != "metadata":
            raise InvalidArchive(
                "metadata.json must be the first member", rule="order_metadata_first"
            )
        if kind == "metadata" and index != 0:
            raise InvalidArchive(
                "metadata.json must be the first member", rule="order_metadata_first"
            )
        if self.manifest is not None:
            raise InvalidArchive(
                f"{_quote(name)} follows manifest.json, which must be last",
                rule="order_after_manifest",
            )
        if kind == "section":
            assert detail is not None
            if self.seen_blob:
                raise InvalidArchive(
                    f"section {detail} follows a blob; sections must come first",
                    rule="order_section_after_blob",
                )
            if detail not in self.declared:
                raise InvalidArchive(
                    f"section {detail} is not listed in metadata.json", rule="section_undeclared"
                )
            if (
                self.next_section >= len(self.declared)
                or detail != self.declared[self.next_section]
            ):
                raise InvalidArchive(
                    f"section {detail} is out of the order given in metadata.json",
                    rule="order_sections",
                )
            self.next_section += 1
        elif kind in ("blob", "manifest"):
            if self.next_section < len(self.declared):
                raise InvalidArchive(
                    f"section {self.declared[self.next_section]} is missing",
                    rule="section_missing",
                )
            if kind == "blob":
                self.seen_blob = True
        sha: str | None = None
        if kind == "blob":
            sha = detail
        if self.expected is not None and kind != "manifest":
            entry = self.expected_members.get(name)
            if entry is None or entry["size"] != header.size:
                raise InvalidArchive(
                    f"{_quote(name)} differs from the verified archive", rule="archive_changed"
                )
            sha = entry["sha256"]
        return Member(self, name, kind, detail if kind == "section" else None, sha, header.size)

    def _read_padding(self, member: Member) -> None:
        padding = -member.size % BLOCK_SIZE
        if not padding:
            return
        data = self.inflater.read_exact(padding)
        if len(data) < padding:
            raise InvalidArchive(f"{member.name}: member data is truncated", rule="tar_truncated")
        if data.count(0) != padding:
            raise InvalidArchive(
                f"{member.name}: non-zero bytes in block padding", rule="tar_padding"
            )

    def finish_member(self, member: Member, digest: str, rows: int) -> None:
        """Member data fully read: check it and record it for the manifest."""
        name = member.name
        if member.kind == "blob" and digest != name.removeprefix("blobs/"):
            raise self.fail(f"{name}: content does not match its SHA-256 name", "blob_hash")
        if self.expected is not None and member.kind != "manifest":
            entry = self.expected_members[name]
            if digest != entry["sha256"] or (
                member.kind == "section"
                and rows != self.expected.sections.get(member.section or "")
            ):
                raise self.fail(f"{name} differs from the verified archive", "archive_changed")
        if member.kind == "manifest":
            return
        self.records[name] = _Record(
            size=member.size, sha256=digest, rows=rows if member.kind == "section" else None
        )
        if member.kind == "section":
            assert member.section is not None
            self.sections[member.section] = rows
        elif member.kind == "blob":
            self.blobs[digest] = member.size
            self.blob_bytes += member.size

    # -- metadata and manifest -------------------------------------------

    def _load_json(self, member: Member, cap: int, label: str) -> dict[str, Any]:
        if member.size > cap:
            raise InvalidArchive(
                f"{member.name} is larger than {cap} bytes", rule=f"limit_{label}_bytes"
            )
        data = member._read_all()
        try:
            value = _strict_loads(data, self.limits.max_json_depth)
        except _JsonRejected as exc:
            raise InvalidArchive(
                f"{member.name} is not valid: {exc.message}", rule=f"{label}_json"
            ) from None
        if not isinstance(value, dict):
            raise InvalidArchive(f"{member.name} is not a JSON object", rule=f"{label}_not_object")
        return cast("dict[str, Any]", value)

    def _load_metadata(self, member: Member) -> None:
        metadata = self._load_json(member, self.limits.max_metadata_bytes, "metadata")
        _check_version(metadata.get("backup_version"), "metadata.json")
        sections = metadata.get("sections")
        if (
            not isinstance(sections, list)
            or not all(isinstance(s, str) and s in _KNOWN_SECTIONS for s in sections)
            or len(set(sections)) != len(sections)
        ):
            raise InvalidArchive(
                "metadata.json: 'sections' must list distinct known sections",
                rule="metadata_sections",
            )
        if not isinstance(metadata.get("key_fingerprint"), str):
            raise InvalidArchive(
                "metadata.json: 'key_fingerprint' must be a string", rule="metadata_fields"
            )
        if self.expected is not None and metadata != self.expected.metadata:
            raise InvalidArchive(
                "metadata.json differs from the verified archive", rule="archive_changed"
            )
        self.metadata = metadata
        self.declared = list(sections)

    def _load_manifest(self, member: Member) -> None:
        manifest = self._load_json(member, self.limits.max_manifest_bytes, "manifest")
        assert self.metadata is not None
        version = _check_version(manifest.get("backup_version"), "manifest.json")
        if version != self.metadata["backup_version"]:
            raise InvalidArchive(
                "metadata.json and manifest.json disagree on backup_version",
                rule="version_mismatch",
            )
        self._check_manifest_members(manifest.get("members"))
        self._check_manifest_sections(manifest.get("sections"))
        blob_count = manifest.get("blob_count")
        blob_bytes = manifest.get("blob_bytes")
        if not (_is_count(blob_count) and _is_count(blob_bytes)):
            raise InvalidArchive(
                "manifest.json: blob_count/blob_bytes must be counts", rule="manifest_schema"
            )
        if blob_count != len(self.blobs) or blob_bytes != self.blob_bytes:
            raise InvalidArchive(
                "manifest.json blob_count/blob_bytes do not match the blobs",
                rule="manifest_blob_totals",
            )
        if self.expected is not None and manifest != self.expected.manifest:
            raise InvalidArchive(
                "manifest.json differs from the verified archive", rule="archive_changed"
            )
        self.manifest = manifest

    def _check_manifest_members(self, entries: object) -> None:
        if not isinstance(entries, list):
            raise InvalidArchive("manifest.json: 'members' must be a list", rule="manifest_schema")
        listed: set[str] = set()
        for entry in entries:
            if not isinstance(entry, dict) or not _valid_entry(entry):
                raise InvalidArchive(
                    "manifest.json: malformed member entry", rule="manifest_schema"
                )
            name = entry["name"]
            if name in listed:
                raise InvalidArchive(
                    f"manifest.json lists {_quote(name)} twice", rule="manifest_duplicate"
                )
            listed.add(name)
            record = self.records.get(name)
            if record is None:
                raise InvalidArchive(
                    f"manifest.json lists {_quote(name)}, which is not in the archive",
                    rule="manifest_entry_missing",
                )
            if entry["size"] != record.size:
                raise InvalidArchive(
                    f"{_quote(name)}: size differs from manifest.json", rule="manifest_size"
                )
            if entry["sha256"] != record.sha256:
                raise InvalidArchive(
                    f"{_quote(name)}: SHA-256 differs from manifest.json", rule="manifest_sha"
                )
            if record.rows is not None and entry.get("rows") != record.rows:
                raise InvalidArchive(
                    f"{_quote(name)}: row count differs from manifest.json", rule="manifest_rows"
                )
        if len(listed) != len(self.records):
            missing = next(n for n in self.records if n not in listed)
            raise InvalidArchive(
                f"{_quote(missing)} is not listed in manifest.json", rule="manifest_unlisted"
            )

    def _check_manifest_sections(self, sections: object) -> None:
        if not isinstance(sections, dict) or set(sections) != set(self.declared):
            raise InvalidArchive(
                "manifest.json: 'sections' does not match metadata.json",
                rule="manifest_sections",
            )
        for section, info in sections.items():
            if (
                not isinstance(info, dict)
                or info.get("member") != section_member(section)
                or not _is_count(info.get("rows"))
            ):
                raise InvalidArchive(
                    f"manifest.json: malformed entry for section {section}",
                    rule="manifest_schema",
                )
            if info["rows"] != self.sections[section]:
                raise InvalidArchive(
                    f"section {section}: row count differs from manifest.json",
                    rule="manifest_rows",
                )

    def _finish_archive(self) -> None:
        while chunk := self.inflater.read(CHUNK_SIZE):
            if chunk.count(0) != len(chunk):
                raise InvalidArchive(
                    "data after the tar end-of-archive marker", rule="tar_trailing"
                )
        if self.manifest is None:
            if self.metadata is None:
                raise InvalidArchive("the archive has no members", rule="manifest_missing")
            raise InvalidArchive("manifest.json is missing", rule="manifest_missing")
        expected = self.expected
        if expected is not None and (
            self.inflater.sha256 != expected.sha256
            or self.inflater.compressed_size != expected.size
        ):
            raise InvalidArchive(
                "the archive changed since it was verified", rule="archive_changed"
            )

    def result(self) -> VerifiedArchive:
        assert self.metadata is not None and self.manifest is not None
        return VerifiedArchive(
            metadata=self.metadata,
            manifest=self.manifest,
            sha256=self.inflater.sha256,
            size=self.inflater.compressed_size,
            sections=dict(self.sections),
            blobs=dict(self.blobs),
            expanded_size=self.inflater.expanded_size,
            peak_ratio=self.inflater.peak_ratio,
        )


def _is_count(value: object) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and value >= 0


def _valid_entry(entry: dict[str, Any]) -> bool:
    name = entry.get("name")
    sha = entry.get("sha256")
    return (
        isinstance(name, str)
        and _is_count(entry.get("size"))
        and isinstance(sha, str)
        and SHA256_RE.fullmatch(sha) is not None
        and ("rows" not in entry or _is_count(entry["rows"]))
    )


# --------------------------------------------------------------------------
# Public entry points
# --------------------------------------------------------------------------


def verify_archive(
    source: BinaryIO,
    limits: ArchiveLimits = _DEFAULT_LIMITS,
    *,
    check_rows: bool = True,
    expected_sha256: str | None = None,
) -> VerifiedArchive:
    """Validate a whole archive in one streaming pass, applying nothing.

    Raises :class:`InvalidArchive` (or :class:`UnsupportedVersion`) on the
    first broken rule. ``check_rows=False`` skips strict parsing of ndjson
    lines (rows are still counted and line lengths bounded) for callers that
    only need integrity, e.g. a periodic scrub of stored backups.

    ``expected_sha256`` is the digest the writer returned, when the caller
    stored it: it also catches the few bits no structural check can see
    (gzip header timestamp, unused padding bits of the last deflate byte).
    """
    scan = ArchiveScan(source, limits, check_rows=check_rows, expected_sha256=expected_sha256)
    for _member in scan:
        pass
    return scan.result()


class ArchiveScan:
    """The verifying pass of :func:`verify_archive`, handing each member out on the way.

    A restore stages blobs while it verifies, so the bytes are decompressed once for
    both. What a member yields is provisional until iteration ends without an exception
    (the whole file's digest is compared last): a caller may only stage what is harmless
    to leave behind (content-addressed blobs, checked against their own digest).
    """

    def __init__(
        self,
        source: BinaryIO,
        limits: ArchiveLimits = _DEFAULT_LIMITS,
        *,
        check_rows: bool = True,
        expected_sha256: str | None = None,
    ) -> None:
        self._stream = _ArchiveStream(source, limits, parse_on_drain=check_rows, expected=None)
        self._expected_sha256 = expected_sha256
        self._started = False
        self._done = False

    @property
    def metadata(self) -> dict[str, Any] | None:
        """metadata.json, once the first member has been handed out."""
        return self._stream.metadata

    def __iter__(self) -> Iterator[Member]:
        if self._started:
            raise ValueError("an ArchiveScan can be iterated only once")
        self._started = True
        yield from self._stream.members()
        expected = self._expected_sha256
        if expected is not None and self._stream.inflater.sha256 != expected.lower():
            raise InvalidArchive(
                "the archive's SHA-256 differs from the recorded one", rule="archive_sha256"
            )
        self._done = True

    def result(self) -> VerifiedArchive:
        if not self._done:
            raise ValueError("the scan has not finished")
        return self._stream.result()

    def check_against(self, verified: VerifiedArchive) -> None:
        """For a scan that read only part of an archive while another pass verified all
        of it (a restore applying beside its verification): every member this scan read
        to its end must have the digest and row count the verifying pass recorded, or the
        file changed between the reads."""
        expected = {m["name"]: m for m in verified.manifest["members"]}
        for name, record in self._stream.records.items():
            entry = expected.get(name)
            rows = verified.sections.get(name[len("data/") : -len(".ndjson")])
            if (
                entry is None
                or entry["sha256"] != record.sha256
                or (record.rows is not None and record.rows != rows)
            ):
                raise InvalidArchive(
                    f"{name} differs from the verified archive", rule="archive_changed"
                )


class ArchiveReader:
    """Second, applying pass over an archive that :func:`verify_archive` accepted.

    Re-checks everything (names, order, digests, rows, manifest, whole-file
    digest) against ``verified``, because the file could have been replaced
    between the passes. Anything yielded is provisional until iteration ends
    without an exception; a restore must apply into staging and commit only
    then.
    """

    def __init__(
        self,
        source: BinaryIO,
        verified: VerifiedArchive,
        limits: ArchiveLimits = _DEFAULT_LIMITS,
    ) -> None:
        self._stream = _ArchiveStream(source, limits, parse_on_drain=False, expected=verified)
        self._started = False

    def __iter__(self) -> Iterator[Member]:
        if self._started:
            raise ValueError("an ArchiveReader can be iterated only once")
        self._started = True
        return self._stream.members()

"""HTTP conditional and range requests (RFC 9110 §13, §14), reduced to what downloads of
files and backup archives need: one byte range, strong ETags."""

from __future__ import annotations

import re
from dataclasses import dataclass

from cloudbox.errors import AppError

_RANGE = re.compile(r"^\s*bytes\s*=\s*(\d*)\s*-\s*(\d*)\s*$", re.IGNORECASE)


@dataclass(frozen=True)
class ByteRange:
    start: int
    end: int  # exclusive

    @property
    def length(self) -> int:
        return self.end - self.start

    def content_range(self, size: int) -> str:
        return f"bytes {self.start}-{self.end - 1}/{size}"


class Unsatisfiable(Exception):
    """A well-formed range that selects no byte of the representation (416)."""


class RangeNotSatisfiable(AppError):
    code = "RANGE_NOT_SATISFIABLE"
    status = 416
    message = "The requested range lies outside the content"


def parse_range(header: str | None, size: int) -> ByteRange | None:
    """The single range asked for, or None to send the whole content.

    Headers we do not serve as a range are ignored, as RFC 9110 §14.2 allows: syntax
    errors, other units, and multiple ranges (answered with the full content rather than
    multipart/byteranges).
    """
    if not header:
        return None
    match = _RANGE.fullmatch(header)
    if match is None:
        return None
    first, last = match.group(1), match.group(2)
    if not first and not last:
        return None
    if not first:  # suffix: the last n bytes
        suffix = int(last)
        if suffix == 0 or size == 0:
            raise Unsatisfiable()
        return ByteRange(max(0, size - suffix), size)
    start = int(first)
    if last and int(last) < start:
        return None  # invalid range-spec: ignore the header
    if start >= size:
        raise Unsatisfiable()
    end = size if not last else min(int(last) + 1, size)
    return ByteRange(start, end)


def _etags(header: str) -> list[str]:
    return [tag.strip().removeprefix("W/") for tag in header.split(",") if tag.strip()]


def none_match(header: str | None, etag: str) -> bool:
    """True when `If-None-Match` names our ETag (weak comparison, as §13.1.2 says)."""
    if not header:
        return False
    if header.strip() == "*":
        return True
    return etag in _etags(header)


def range_applies(if_range: str | None, etag: str) -> bool:
    """`If-Range` with our (strong) ETag keeps the range; a date or another tag does not,
    since we send no Last-Modified to compare a date with."""
    if not if_range:
        return True
    return if_range.strip() == etag

"""HTTP byte ranges (RFC 9110 §14): one range per request, which is what download
clients and resumable fetchers send."""

from __future__ import annotations

import re

from cloudbox.errors import AppError

_RANGE = re.compile(r"^bytes=(\d*)-(\d*)$")


class RangeNotSatisfiable(AppError):
    code = "RANGE_NOT_SATISFIABLE"
    status = 416
    message = "The requested range lies outside the content"


def parse_range(header: str | None, size: int) -> tuple[int, int] | None:
    """`(start, end_exclusive)` for a satisfiable single range, None for no (or an
    unsupported multi-) range, RangeNotSatisfiable otherwise."""
    if not header:
        return None
    match = _RANGE.match(header.strip())
    if match is None:
        return None  # multi-range or another unit: serve the whole content
    first, last = match.groups()
    if not first and not last:
        return None
    if not first:
        suffix = int(last)
        if suffix == 0:
            raise RangeNotSatisfiable(details={"size": size})
        return max(0, size - suffix), size
    start = int(first)
    end = min(int(last) + 1, size) if last else size
    if start >= size or (last and int(last) < start):
        raise RangeNotSatisfiable(details={"size": size})
    return start, end

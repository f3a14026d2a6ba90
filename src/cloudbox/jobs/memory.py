"""Gives a finished job's freed memory back to the system.

glibc keeps freed heap pages for reuse. A restore touches a fixed but large amount (its
SQLite page cache, batches of rows, decompression buffers); without this the worker
process carries that high-water mark into every later job and idles at it, which is
what its memory limit is measured against.
"""

from __future__ import annotations

import ctypes
from collections.abc import Callable
from functools import cache

from cloudbox import clib


@cache
def _malloc_trim() -> Callable[[int], int] | None:
    trim = clib.function("malloc_trim")
    if trim is None:  # pragma: no cover - not glibc
        return None
    trim.argtypes = [ctypes.c_size_t]
    trim.restype = ctypes.c_int
    return trim  # type: ignore[no-any-return]


def release_freed_memory() -> bool:
    """Return free heap memory to the system (glibc `malloc_trim`); False where the C
    library has no such call."""
    trim = _malloc_trim()
    if trim is None:
        return False
    trim(0)
    return True

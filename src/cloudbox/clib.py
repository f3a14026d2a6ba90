"""The C library, for the few calls Python does not expose (prctl, memmem, malloc_trim).

One loader, so every caller gets the same handle and the same answer on a system
without it: None, and the caller falls back.
"""

from __future__ import annotations

import ctypes
import ctypes.util
from functools import cache
from typing import Any


@cache
def libc() -> ctypes.CDLL | None:
    """The C library with `errno` kept for `ctypes.get_errno`, or None where it cannot
    be loaded."""
    name = ctypes.util.find_library("c")
    try:
        return ctypes.CDLL(name, use_errno=True)
    except OSError:  # pragma: no cover - no C library to load
        return None


def function(name: str) -> Any | None:
    """A function of the C library, or None if the library or the function is missing."""
    lib = libc()
    if lib is None:
        return None
    try:
        return getattr(lib, name)
    except AttributeError:  # pragma: no cover - a C library without it
        return None

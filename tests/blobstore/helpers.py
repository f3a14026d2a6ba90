"""Test helpers shared by the blob store test modules."""

from __future__ import annotations

import os
from collections.abc import Iterable, Iterator

MiB = 1024 * 1024


class SourceFailed(Exception):
    """Raised by a test source midway through a write."""


def chunked(data: bytes, size: int) -> Iterator[bytes]:
    """Feed ``data`` as chunks of ``size`` bytes (deliberately not the store's chunk size)."""
    for offset in range(0, len(data), size):
        yield data[offset : offset + size]


def failing_source(fail_after: int, chunk: int = MiB) -> Iterator[bytes]:
    """Yield random bytes, then raise once ``fail_after`` bytes have been produced."""
    produced = 0
    while produced < fail_after:
        size = min(chunk, fail_after - produced)
        produced += size
        yield os.urandom(size)
    raise SourceFailed(f"source broke after {produced} bytes")


def read_all(chunks: Iterable[bytes]) -> bytes:
    return b"".join(chunks)

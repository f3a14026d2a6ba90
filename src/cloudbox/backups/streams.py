"""A readable file object over an iterator of chunks, so the archive reader can consume
an object-store stream (local or S3) without caring which."""

from __future__ import annotations

import io
from collections.abc import Iterator


class ChunkReader(io.RawIOBase):
    def __init__(self, chunks: Iterator[bytes]) -> None:
        self._chunks = chunks
        self._pending = memoryview(b"")

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: bytearray | memoryview) -> int:  # type: ignore[override]
        while not self._pending:
            try:
                self._pending = memoryview(next(self._chunks))
            except StopIteration:
                return 0
        n = min(len(buffer), len(self._pending))
        buffer[:n] = self._pending[:n]
        self._pending = self._pending[n:]
        return n

    def close(self) -> None:
        closer = getattr(self._chunks, "close", None)
        if closer is not None:
            closer()
        super().close()


def reader_over(chunks: Iterator[bytes], buffer_size: int = 1 << 20) -> io.BufferedReader:
    return io.BufferedReader(ChunkReader(chunks), buffer_size)

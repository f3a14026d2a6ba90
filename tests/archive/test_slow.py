"""Large archives: bounded memory, and members beyond the 8 GiB octal limit."""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
import tracemalloc
from collections.abc import Iterator
from pathlib import Path

import pytest

from cloudbox.archive import ArchiveLimits, ArchiveReader, ArchiveWriter, verify_archive

MiB = 2**20
BASE = os.urandom(MiB)


def _blob_chunks(seed: int, mib: int) -> Iterator[bytes]:
    """Incompressible data generated on the fly (never held whole)."""
    for i in range(mib):
        yield seed.to_bytes(4, "big") + i.to_bytes(4, "big") + BASE[8:]


def _digest(chunks: Iterator[bytes]) -> str:
    h = hashlib.sha256()
    for chunk in chunks:
        h.update(chunk)
    return h.hexdigest()


def _rows(count: int) -> Iterator[bytes]:
    for i in range(count):
        yield json.dumps({"id": i, "title": f"document {i}", "body": "lorem ipsum " * 8}).encode()


@pytest.mark.slow
def test_memory_stays_bounded_for_a_300_mib_archive(tmp_path: Path) -> None:
    blobs = [(seed, 100) for seed in range(3)]
    digests = [_digest(_blob_chunks(seed, mib)) for seed, mib in blobs]
    path = tmp_path / "big.tar.gz"
    tracemalloc.start()
    try:
        with (
            path.open("wb") as out,
            ArchiveWriter(
                out, metadata={"project_id": "p"}, key_fingerprint="k", sections=["documents"]
            ) as writer,
        ):
            writer.write_section("documents", _rows(150_000))  # ~20 MiB: spooled to disk
            for (seed, mib), digest in zip(blobs, digests, strict=True):
                writer.write_blob(digest, mib * MiB, _blob_chunks(seed, mib))
            result = writer.close()
        _, write_peak = tracemalloc.get_traced_memory()
        tracemalloc.reset_peak()
        with path.open("rb") as f:
            verified = verify_archive(f, expected_sha256=result.sha256)
        _, verify_peak = tracemalloc.get_traced_memory()
        tracemalloc.reset_peak()
        with path.open("rb") as f:
            for member in ArchiveReader(f, verified):
                if member.kind == "blob":
                    for _chunk in member.chunks():
                        pass
        _, read_peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert result.expanded_size > 300 * MiB
    assert verified.blobs == dict.fromkeys(digests, 100 * MiB)
    peaks = (write_peak / MiB, verify_peak / MiB, read_peak / MiB)
    print("peak MiB write/verify/read: {:.1f} {:.1f} {:.1f}".format(*peaks))
    assert write_peak < 32 * MiB, write_peak
    assert verify_peak < 32 * MiB, verify_peak
    assert read_peak < 32 * MiB, read_peak


@pytest.mark.slow
def test_member_larger_than_8_gib(tmp_path: Path) -> None:
    size = 8 * 2**30 + 1  # one byte past what an octal size field can hold
    zeros = bytes(MiB)

    def chunks() -> Iterator[bytes]:
        left = size
        while left:
            n = min(left, MiB)
            yield zeros if n == MiB else zeros[:n]
            left -= n

    digest = _digest(chunks())
    path = tmp_path / "huge.tar.gz"
    with (
        path.open("wb") as out,
        ArchiveWriter(out, metadata={}, key_fingerprint="k", sections=[], threads=2) as writer,
    ):
        writer.write_blob(digest, size, chunks())
        result = writer.close()
    # Zeros compress ~1000:1, so the ratio guard must be relaxed for this file.
    limits = ArchiveLimits(max_ratio=10_000)
    with path.open("rb") as f:
        verified = verify_archive(f, limits, expected_sha256=result.sha256)
    assert verified.blobs == {digest: size}
    listing = subprocess.run(
        ["tar", "tvzf", str(path)], capture_output=True, text=True, check=True
    ).stdout.splitlines()
    assert f" {size} " in listing[1] and listing[1].endswith(f"blobs/{digest}")

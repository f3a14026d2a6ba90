"""Corruption and fuzzing: InvalidArchive or identical content, nothing else.

Some single-bit flips change the deflate *encoding* without changing the
decompressed bytes (another back-reference distance inside a run of zeros,
the gzip MTIME field, unused padding bits). No structural check can see
those and none needs to: the content is intact. The writer's returned
SHA-256, passed as ``expected_sha256``, catches them too, and is what a
restore of a stored backup uses.
"""

from __future__ import annotations

import gzip
import io
import json
import random
import time

import pytest

from cloudbox.archive import InvalidArchive, VerifiedArchive, verify_archive
from tests.archive.helpers import content, small_archive, write_archive


def _archive_200k() -> bytes:
    rnd = random.Random(2024)
    buf = io.BytesIO()
    write_archive(
        buf,
        sections={
            "project": [b'{"id":"p1","name":"Demo"}'],
            "users": [
                json.dumps({"id": i, "email": f"u{i}@example.com"}).encode() for i in range(300)
            ],
            "documents": [
                json.dumps(
                    {"id": i, "body": rnd.choice(["alpha", "beta", "gamma"]) * rnd.randrange(1, 40)}
                ).encode()
                for i in range(1500)
            ],
        },
        blobs=[rnd.randbytes(120_000), rnd.randbytes(40_000), b"", bytes(30_000)],
    )
    return buf.getvalue()


ARCHIVE = _archive_200k()
RAW = gzip.decompress(ARCHIVE)
VERIFIED = verify_archive(io.BytesIO(ARCHIVE))
SHA = VERIFIED.sha256


def _same_content(verified: VerifiedArchive, data: bytes) -> bool:
    return (
        verified.metadata == VERIFIED.metadata
        and verified.manifest == VERIFIED.manifest
        and verified.sections == VERIFIED.sections
        and verified.blobs == VERIFIED.blobs
        and gzip.decompress(data) == RAW
    )


def test_archive_is_about_200_kib() -> None:
    assert 150_000 < len(ARCHIVE) < 260_000


def test_single_bit_flips() -> None:
    rnd = random.Random(1)
    harmless = 0
    for _ in range(100):
        offset = rnd.randrange(len(ARCHIVE))
        mutated = bytearray(ARCHIVE)
        mutated[offset] ^= 1 << rnd.randrange(8)
        data = bytes(mutated)
        # With the digest recorded at backup time: every flip is refused.
        with pytest.raises(InvalidArchive):
            verify_archive(io.BytesIO(data), expected_sha256=SHA)
        # Without it (an uploaded archive): refused, or the bytes that matter are intact.
        try:
            verified = verify_archive(io.BytesIO(data))
        except InvalidArchive:
            continue
        assert _same_content(verified, data), f"undetected corruption at {offset}"
        harmless += 1
    assert harmless <= 5


def test_gzip_header_timestamp_flip_needs_the_digest() -> None:
    mutated = bytearray(ARCHIVE)
    mutated[5] ^= 0x10  # MTIME: informational per RFC 1952
    data = bytes(mutated)
    assert _same_content(verify_archive(io.BytesIO(data)), data)
    with pytest.raises(InvalidArchive) as info:
        verify_archive(io.BytesIO(data), expected_sha256=SHA)
    assert info.value.rule == "archive_sha256"


def test_truncations() -> None:
    rnd = random.Random(2)
    cuts = sorted(
        {rnd.randrange(len(ARCHIVE)) for _ in range(15)}
        | {0, 1, 9, len(ARCHIVE) - 8, len(ARCHIVE) - 1}
    )
    assert len(cuts) >= 20
    for cut in cuts[:20]:
        with pytest.raises(InvalidArchive):
            verify_archive(io.BytesIO(ARCHIVE[:cut]))


def _mutate(rnd: random.Random, data: bytes) -> bytes:
    buf = bytearray(data)
    for _ in range(rnd.choice((1, 1, 1, 2, 3))):
        op = rnd.randrange(5)
        pos = rnd.randrange(len(buf) + 1) if buf else 0
        if op == 0 and buf:
            pos = min(pos, len(buf) - 1)
            buf[pos] ^= 1 << rnd.randrange(8)
        elif op == 1 and buf:
            pos = min(pos, len(buf) - 1)
            buf[pos] = rnd.randrange(256)
        elif op == 2:
            buf[pos:pos] = rnd.randbytes(rnd.choice((1, 1, 2, 8, 100)))
        elif op == 3:
            del buf[pos : pos + rnd.choice((1, 1, 2, 8, 100))]
        else:
            del buf[pos:]
    return bytes(buf)


def test_seeded_fuzz() -> None:
    base = small_archive()
    base_verified = verify_archive(io.BytesIO(base))
    base_content = content(base_verified, base)
    rnd = random.Random(31337)
    outcomes = {"invalid": 0, "identical": 0}
    start = time.perf_counter()
    for i in range(2000):
        data = _mutate(rnd, base)
        try:
            verified = verify_archive(io.BytesIO(data))
        except InvalidArchive:
            outcomes["invalid"] += 1
            continue
        # Accepted: it must restore exactly what the original restores.
        assert content(verified, data) == base_content, f"mutation {i} changed content"
        outcomes["identical"] += 1
    assert outcomes["invalid"] >= 1900
    assert time.perf_counter() - start < 30


def test_seeded_fuzz_of_the_tar_stream() -> None:
    """Mutate the tar inside a valid gzip, so the tar, JSON and manifest checks get exercised."""
    base = small_archive()
    base_verified = verify_archive(io.BytesIO(base))
    base_content = content(base_verified, base)
    raw = gzip.decompress(base)
    rnd = random.Random(4242)
    rules: dict[str, int] = {}
    identical = 0
    for i in range(2000):
        data = gzip.compress(_mutate(rnd, raw), compresslevel=1, mtime=0)
        try:
            verified = verify_archive(io.BytesIO(data))
        except InvalidArchive as exc:
            rules[exc.rule] = rules.get(exc.rule, 0) + 1
            continue
        assert content(verified, data) == base_content, f"mutation {i} changed content"
        identical += 1
    # Mutations land everywhere: headers, padding, JSON, manifest, end blocks.
    assert len(rules) >= 10, rules

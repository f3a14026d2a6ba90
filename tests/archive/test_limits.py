"""Every limit: one below and at the limit pass, one above is refused."""

from __future__ import annotations

import dataclasses
import gzip
import io
import json
import tarfile
from collections.abc import Callable
from typing import Any

import pytest

from cloudbox.archive import ArchiveLimits, InvalidArchive, parse_json_line, verify_archive
from tests.archive.helpers import write_archive

DEPTH = 10


def _archive() -> bytes:
    nested: object = 1
    for _ in range(DEPTH - 1):
        nested = [nested]
    buf = io.BytesIO()
    write_archive(
        buf,
        sections={
            "project": [b'{"id":"p1"}'],
            "documents": [
                json.dumps({"deep": nested}).encode(),
                json.dumps({"long": "y" * 3000}).encode(),
                b'{"short":1}',
            ],
        },
        blobs=[b"a" * 7000, b"b" * 100, b""],
    )
    return buf.getvalue()


ARCHIVE = _archive()
RAW = gzip.decompress(ARCHIVE)


def _sizes() -> dict[str, int]:
    with tarfile.open(fileobj=io.BytesIO(ARCHIVE), mode="r:gz") as tf:
        return {m.name: m.size for m in tf.getmembers()}


def _peak_ratio() -> float:
    limits = ArchiveLimits(ratio_grace_bytes=4096)
    return verify_archive(io.BytesIO(ARCHIVE), limits).peak_ratio


# field -> (measured quantity of ARCHIVE, rule when exceeded, extra limits)
MEASURES: dict[str, tuple[Callable[[], float], str, dict[str, Any]]] = {
    "max_members": (lambda: len(_sizes()), "limit_members", {}),
    "max_member_bytes": (lambda: max(_sizes().values()), "limit_member_bytes", {}),
    "max_total_bytes": (lambda: len(RAW), "limit_total_bytes", {}),
    "max_line_bytes": (lambda: len(json.dumps({"long": "y" * 3000})), "line_too_long", {}),
    "max_json_depth": (lambda: DEPTH, "json_depth", {}),
    "max_metadata_bytes": (lambda: _sizes()["metadata.json"], "limit_metadata_bytes", {}),
    "max_manifest_bytes": (lambda: _sizes()["manifest.json"], "limit_manifest_bytes", {}),
    "max_ratio": (_peak_ratio, "limit_ratio", {"ratio_grace_bytes": 4096}),
}


@pytest.mark.parametrize("field", list(MEASURES))
def test_limit_boundaries(field: str) -> None:
    measure, rule, extra = MEASURES[field]
    quantity = measure()
    base = ArchiveLimits(**extra)
    at: Any
    above: Any
    below: Any
    if field == "max_ratio":
        at, above, below = quantity * (1 + 1e-9), quantity * 1.001, quantity * 0.999
    else:
        at, above, below = int(quantity), int(quantity) + 1, int(quantity) - 1
    # The archive's quantity is limit-1 (limit = quantity+1) and == limit: accepted.
    for limit in (above, at):
        verify_archive(io.BytesIO(ARCHIVE), dataclasses.replace(base, **{field: limit}))
    # The archive's quantity is limit+1: refused with the limit's own rule.
    with pytest.raises(InvalidArchive) as info:
        verify_archive(io.BytesIO(ARCHIVE), dataclasses.replace(base, **{field: below}))
    assert info.value.rule == rule


def test_ratio_is_not_checked_below_grace() -> None:
    verify_archive(io.BytesIO(ARCHIVE), ArchiveLimits(max_ratio=1.0))
    with pytest.raises(InvalidArchive) as info:
        verify_archive(io.BytesIO(ARCHIVE), ArchiveLimits(max_ratio=1.0, ratio_grace_bytes=0))
    assert info.value.rule == "limit_ratio"


@pytest.mark.parametrize("length", [99, 100, 101])
def test_parse_json_line_length_boundary(length: int) -> None:
    line = b'{"a":"' + b"x" * (length - 8) + b'"}'
    assert len(line) == length
    limits = ArchiveLimits(max_line_bytes=100)
    if length <= 100:
        assert parse_json_line(line, limits) == {"a": "x" * (length - 8)}
    else:
        with pytest.raises(InvalidArchive) as info:
            parse_json_line(line, limits)
        assert info.value.rule == "line_too_long"


@pytest.mark.parametrize("depth", [63, 64, 65])
@pytest.mark.parametrize("opener", [b"[", b'{"k":'])
def test_parse_json_line_depth_boundary(depth: int, opener: bytes) -> None:
    closer = b"]" if opener == b"[" else b"}"
    inner = opener * (depth - 1) + b"1" + closer * (depth - 1)
    line = b'{"a":' + inner + b"}"
    if depth <= 64:
        parse_json_line(line)
    else:
        with pytest.raises(InvalidArchive) as info:
            parse_json_line(line)
        assert info.value.rule == "json_depth"


@pytest.mark.parametrize("field", [f.name for f in dataclasses.fields(ArchiveLimits)])
def test_limits_reject_negative_values(field: str) -> None:
    with pytest.raises(ValueError):
        ArchiveLimits(**{field: -1})

"""`ArchiveWriter.write_section_chunks`: whole lines in bulk, checked per chunk, one
digest; the per-row `write_section` shares its path and writes the same bytes."""

from __future__ import annotations

import hashlib
import io
import json
import threading
import time
from collections.abc import Iterator
from typing import Any

import pytest

import cloudbox.archive.writer as writer_module
from cloudbox.archive import ArchiveLimits, ArchiveWriter, RowRejectedError, verify_archive
from tests.archive.test_writer import _assert_unusable


def make(**kwargs: Any) -> tuple[ArchiveWriter, io.BytesIO]:
    out = io.BytesIO()
    writer = ArchiveWriter(
        out,
        metadata={"created_at": "2024-05-01T12:00:00Z"},
        key_fingerprint="fp",
        sections=["project", "documents"],
        **kwargs,
    )
    return writer, out


ROWS = [json.dumps({"id": f"d{i}", "n": i, "s": "é☃\u2028"}).encode() for i in range(500)]


@pytest.mark.parametrize("validate_rows", [True, False])
def test_counts_rows_and_digests_the_member(validate_rows: bool) -> None:
    chunks = [b"".join(row + b"\n" for row in ROWS[i : i + 70]) for i in range(0, 500, 70)]
    writer, out = make(validate_rows=validate_rows)
    assert writer.write_section_chunks("project", [b"", b'{"id":"p"}\n']) == 1
    assert writer.write_section_chunks("documents", [*chunks, b""]) == 500
    result = writer.close()
    assert result.sections == {"project": 1, "documents": 500}
    verified = verify_archive(io.BytesIO(out.getvalue()))
    assert verified.sha256 == result.sha256
    assert verified.sections == {"project": 1, "documents": 500}
    (entry,) = [m for m in verified.manifest["members"] if m["name"] == "data/documents.ndjson"]
    body = b"".join(chunks)
    assert entry["sha256"] == hashlib.sha256(body).hexdigest()
    assert entry["size"] == len(body) and entry["rows"] == 500


def test_rows_and_chunks_write_the_same_archive() -> None:
    by_rows, rows_out = make()
    by_rows.write_section("project", [])
    by_rows.write_section("documents", ROWS)
    by_chunks, chunks_out = make()
    by_chunks.write_section_chunks("project", [])
    by_chunks.write_section_chunks("documents", [b"\n".join(ROWS) + b"\n"])
    assert by_rows.close().sha256 == by_chunks.close().sha256
    assert rows_out.getvalue() == chunks_out.getvalue()


@pytest.mark.parametrize("validate_rows", [True, False])
@pytest.mark.parametrize(
    ("chunk", "match"),
    [
        (b'{"a":1}', "does not end with a newline"),
        (b'{"a":1}\n{"b":2}', "does not end with a newline"),
        (b'{"a":1}\n\n{"b":2}\n', r"row 3: .*not a JSON object"),
        (b'\n{"b":2}\n', "row 2: .*not a JSON object"),
        (b'{"a":1}\n[1]\n', "row 3: .*not a JSON object"),
        (b'{"a":1}\n"text"\n', "row 3: .*not a JSON object"),
        (b'{"a":1}\n{"b":2} \n', "row 3"),
        (b'{"a":1}\r\n', "row 2"),
        (b'{"a":NaN}\n', "NaN"),
        (b'{"a":"\\ud83d"}\n', "surrogate"),
    ],
)
def test_rejected_chunks(chunk: bytes, match: str, validate_rows: bool) -> None:
    writer, out = make(validate_rows=validate_rows)
    writer.write_section_chunks("project", [b'{"ok":1}\n'])
    with pytest.raises(RowRejectedError, match=match):
        writer.write_section_chunks("documents", [b'{"ok":1}\n', chunk])
    _assert_unusable(writer, out)


@pytest.mark.parametrize("validate_rows", [True, False])
def test_over_long_line(validate_rows: bool) -> None:
    limits = ArchiveLimits(max_line_bytes=100)
    long_line = b'{"a":"' + b"x" * 100 + b'"}\n'
    writer, out = make(validate_rows=validate_rows, limits=limits)
    writer.write_section_chunks("project", [b'{"a":1}\n' * 50])  # 400 bytes of short lines
    with pytest.raises(RowRejectedError, match=r"row 2: .*100 bytes"):
        writer.write_section_chunks("documents", [b'{"a":1}\n' + long_line])
    _assert_unusable(writer, out)


def test_strict_json_a_cheap_check_cannot_see_is_still_parsed() -> None:
    """Unless the chunk holds a token only the strict parser can judge, the cheap mode
    checks shape only; with one, the chunk is parsed: a valid pair and the text "NaN"
    pass, a duplicate key in that chunk does not."""
    writer, _ = make(validate_rows=False)
    ok = b'{"a":"\\ud83d\\ude00","b":"NaN"}\n'
    writer.write_section_chunks("project", [ok])
    with pytest.raises(RowRejectedError, match="duplicate"):
        writer.write_section_chunks("documents", [b'{"a":"NaN","a":1}\n'])


def test_chunks_must_be_bytes() -> None:
    writer, _ = make()
    with pytest.raises(TypeError):
        writer.write_section_chunks("project", ['{"a":1}\n'])  # type: ignore[list-item]


@pytest.mark.parametrize("memmem", [True, False], ids=["libc-memmem", "bytes-search"])
@pytest.mark.parametrize(
    ("chunk", "suspicious"),
    [
        (b'{"a":1,"b":"plain text"}\n' * 1000, False),
        (b'{"a":1}\n' * 1000 + b'{"a":NaN}\n', True),
        (b'{"a":-Infinity}\n', True),
        (b'{"a":"\\uD800"}\n', True),
        (b'{"a":"\\ud83d\\ude00"}\n', False),  # a valid pair: searched, then cleared
        (bytearray(b'{"a":NaN}\n'), True),
    ],
)
def test_the_strict_parse_trigger_finds_its_tokens_either_way(
    chunk: bytes, suspicious: bool, memmem: bool, monkeypatch: pytest.MonkeyPatch
) -> None:
    if not memmem:
        monkeypatch.setattr(writer_module, "_MEMMEM", None)
    elif writer_module._MEMMEM is None:
        pytest.skip("no C library memmem on this platform")
    assert writer_module._suspicious(chunk) is suspicious


def _thread_count_settles(expected: int) -> bool:
    for _ in range(100):  # isal's threads poll their queues every 50 ms before ending
        if threading.active_count() <= expected:
            return True
        time.sleep(0.02)
    return False


BIG_CHUNK = b'{"id":"x","text":"' + b"y" * 1000 + b'"}\n'


@pytest.mark.parametrize("threads", [1, 2])
def test_a_bad_row_deep_in_a_big_section_fails_it_and_stops_every_thread(threads: int) -> None:
    """Past 8 MiB the section is being compressed by its own threads when the row
    checks (in the hand-off thread) refuse a line: the error reaches the caller, the
    output is unusable and no thread is left running."""
    before = threading.active_count()
    writer, out = make(threads=threads)
    writer.write_section_chunks("project", [b'{"ok":1}\n'])
    chunks = [BIG_CHUNK * 1000] * 12 + [b'{"ok":1}\n[1]\n']  # ~12 MiB, then a bad line
    with pytest.raises(RowRejectedError, match="row 12002"):
        writer.write_section_chunks("documents", chunks)
    _assert_unusable(writer, out)
    assert _thread_count_settles(before)


def test_a_producer_failing_deep_in_a_big_section_stops_every_thread() -> None:
    before = threading.active_count()
    writer, out = make()
    writer.write_section_chunks("project", [b'{"ok":1}\n'])

    def chunks() -> Iterator[bytes]:
        for _ in range(12):
            yield BIG_CHUNK * 1000
        raise ConnectionError("the database went away")

    with pytest.raises(ConnectionError):
        writer.write_section_chunks("documents", chunks())
    _assert_unusable(writer, out)
    assert _thread_count_settles(before)

"""Writer misuse is refused loudly, and a failed writer stays failed."""

from __future__ import annotations

import io
import json
import threading
from collections.abc import Iterator
from typing import Any

import pytest

from cloudbox.archive import (
    ArchiveLimits,
    ArchiveWriteError,
    ArchiveWriter,
    BlobMismatchError,
    InvalidArchive,
    LimitExceededError,
    RowRejectedError,
    verify_archive,
)
from cloudbox.archive.writer import _size_field, tar_header
from tests.archive.helpers import sha

BLOB = b"some file content"


def make(sections: list[str] | None = None, **kwargs: Any) -> tuple[ArchiveWriter, io.BytesIO]:
    out = io.BytesIO()
    writer = ArchiveWriter(
        out,
        metadata={"project_id": "p1", "created_at": "2024-05-01T12:00:00Z"},
        key_fingerprint="fp",
        sections=sections if sections is not None else ["project", "users"],
        **kwargs,
    )
    return writer, out


def _assert_unusable(writer: ArchiveWriter, out: io.BytesIO) -> None:
    with pytest.raises(ArchiveWriteError):
        writer.close()
    with pytest.raises(InvalidArchive):
        verify_archive(io.BytesIO(out.getvalue()))


def test_blob_digest_mismatch() -> None:
    writer, out = make([])
    with pytest.raises(BlobMismatchError, match="SHA-256"):
        writer.write_blob(sha(b"other"), len(BLOB), [BLOB])
    _assert_unusable(writer, out)


def test_blob_longer_than_declared_stops_before_writing_excess() -> None:
    writer, out = make([])
    with pytest.raises(BlobMismatchError, match="larger"):
        writer.write_blob(sha(BLOB), len(BLOB) - 1, [BLOB])
    _assert_unusable(writer, out)


def test_blob_shorter_than_declared() -> None:
    writer, out = make([])
    with pytest.raises(BlobMismatchError, match="declared"):
        writer.write_blob(sha(BLOB), len(BLOB) + 1, [BLOB])
    _assert_unusable(writer, out)


@pytest.mark.parametrize("digest", ["A" * 64, "0" * 63, "g" * 64, ""])
def test_blob_bad_digest_format(digest: str) -> None:
    writer, _ = make([])
    with pytest.raises(ValueError, match="64 lowercase hex"):
        writer.write_blob(digest, 1, [b"x"])


def test_duplicate_blob() -> None:
    writer, _ = make([])
    writer.write_blob(sha(BLOB), len(BLOB), [BLOB])
    assert writer.has_blob(sha(BLOB))
    with pytest.raises(ValueError, match="already written"):
        writer.write_blob(sha(BLOB), len(BLOB), [BLOB])


def test_section_out_of_order() -> None:
    writer, out = make(["project", "users"])
    with pytest.raises(ValueError, match="out of order"):
        writer.write_section("users", [])
    _assert_unusable(writer, out)


def test_unknown_section() -> None:
    writer, _ = make()
    with pytest.raises(ValueError, match="unknown section"):
        writer.write_section("secrets", [])


def test_unknown_section_in_constructor() -> None:
    with pytest.raises(ValueError, match="unknown section"):
        make(["project", "passwords"])


def test_duplicate_section_in_constructor() -> None:
    with pytest.raises(ValueError, match="duplicate"):
        make(["project", "project"])


def test_undeclared_section() -> None:
    writer, _ = make(["project"])
    with pytest.raises(ValueError, match="not declared"):
        writer.write_section("users", [])


def test_section_written_twice() -> None:
    writer, _ = make(["project", "users"])
    writer.write_section("project", [])
    with pytest.raises(ValueError, match="already written"):
        writer.write_section("project", [])


def test_blob_before_sections_complete() -> None:
    writer, _ = make(["project", "users"])
    writer.write_section("project", [])
    with pytest.raises(ValueError, match="before blobs"):
        writer.write_blob(sha(BLOB), len(BLOB), [BLOB])


def test_close_with_missing_section() -> None:
    writer, _ = make(["project", "users"])
    writer.write_section("project", [])
    with pytest.raises(ValueError, match="not written"):
        writer.close()


@pytest.mark.parametrize(
    ("row", "match"),
    [
        (b'{"a":1}\n{"b":2}', "newline"),
        (b'{"a":NaN}', "NaN"),
        (b'{"a":1,"a":2}', "duplicate"),
        (b"[1]", "not a JSON object"),
        (b"", "not a JSON object"),
        (b'{"a":"\xff"}', "UTF-8"),
    ],
)
def test_rows_the_reader_would_refuse(row: bytes, match: str) -> None:
    writer, out = make(["project"])
    with pytest.raises(RowRejectedError, match=match):
        writer.write_section("project", [b'{"ok":1}', row])
    _assert_unusable(writer, out)


def test_row_must_be_bytes() -> None:
    writer, _ = make(["project"])
    with pytest.raises(TypeError):
        writer.write_section("project", ['{"a":1}'])  # type: ignore[list-item]


def test_validate_rows_off_still_checks_shape() -> None:
    writer, _ = make(["project"], validate_rows=False)
    assert writer.write_section("project", [b'{"a":1}']) == 1
    writer2, _ = make(["project"], validate_rows=False)
    with pytest.raises(RowRejectedError):
        writer2.write_section("project", [b"[1]"])


def test_error_in_row_source_aborts() -> None:
    def rows() -> Iterator[bytes]:
        yield b'{"a":1}'
        raise ConnectionError("database went away")

    writer, out = make(["project"])
    with pytest.raises(ConnectionError):
        writer.write_section("project", rows())
    _assert_unusable(writer, out)


def test_context_manager_aborts_on_exception() -> None:
    out = io.BytesIO()
    with (
        pytest.raises(RuntimeError),
        ArchiveWriter(out, metadata={}, key_fingerprint="k", sections=["project"]) as writer,
    ):
        writer.write_section("project", [b'{"a":1}'])
        raise RuntimeError("boom")
    with pytest.raises(InvalidArchive):
        verify_archive(io.BytesIO(out.getvalue()))


def test_context_manager_closes_on_success() -> None:
    out = io.BytesIO()
    with ArchiveWriter(out, metadata={}, key_fingerprint="k", sections=["project"]) as writer:
        writer.write_section("project", [b'{"a":1}'])
    assert writer.result is not None
    assert verify_archive(io.BytesIO(out.getvalue())).sha256 == writer.result.sha256
    assert not out.closed


def test_close_twice_returns_same_result() -> None:
    writer, _ = make([])
    assert writer.close() is writer.close()
    with pytest.raises(ArchiveWriteError, match="closed"):
        writer.write_blob(sha(BLOB), len(BLOB), [BLOB])


@pytest.mark.parametrize("key", ["backup_version", "key_fingerprint", "sections"])
def test_reserved_metadata_keys(key: str) -> None:
    with pytest.raises(ValueError, match="set by the writer"):
        ArchiveWriter(io.BytesIO(), metadata={key: "x"}, key_fingerprint="fp", sections=[])


def test_metadata_must_be_strict_json() -> None:
    with pytest.raises(ValueError):
        ArchiveWriter(io.BytesIO(), metadata={"x": float("nan")}, key_fingerprint="k", sections=[])
    with pytest.raises(ValueError, match="readable"):
        ArchiveWriter(io.BytesIO(), metadata={1: "a", "1": "b"}, key_fingerprint="k", sections=[])  # type: ignore[dict-item]
    with pytest.raises(TypeError):
        ArchiveWriter(io.BytesIO(), metadata={"when": object()}, key_fingerprint="k", sections=[])


@pytest.mark.parametrize("level", [-1, 4, 9])
def test_compresslevel_range(level: int) -> None:
    with pytest.raises(ValueError, match="compresslevel"):
        ArchiveWriter(
            io.BytesIO(), metadata={}, key_fingerprint="k", sections=[], compresslevel=level
        )


def test_limits_enforced_while_writing() -> None:
    writer, _ = make(["project"], limits=ArchiveLimits(max_member_bytes=300))
    with pytest.raises(LimitExceededError):
        writer.write_section("project", [b'{"a":"' + b"x" * 400 + b'"}'])
    writer, _ = make([], limits=ArchiveLimits(max_members=3))
    writer.write_blob(sha(b"1"), 1, [b"1"])
    with pytest.raises(LimitExceededError, match="members"):
        writer.write_blob(sha(b"2"), 1, [b"2"])
    with pytest.raises(LimitExceededError, match="metadata"):
        make([], limits=ArchiveLimits(max_metadata_bytes=10))
    writer, _ = make([], limits=ArchiveLimits(max_manifest_bytes=10))
    with pytest.raises(LimitExceededError, match="manifest"):
        writer.close()
    writer, _ = make([], limits=ArchiveLimits(max_total_bytes=3000))
    with pytest.raises(LimitExceededError):
        writer.write_blob(sha(b"x" * 5000), 5000, [b"x" * 5000])


def test_output_write_error_propagates_from_compression_thread() -> None:
    class Failing(io.RawIOBase):
        def __init__(self) -> None:
            self.calls = 0

        def writable(self) -> bool:
            return True

        def write(self, b: Any) -> int:
            self.calls += 1
            if self.calls > 2:
                raise OSError(28, "No space left on device")
            return len(b)

    before = threading.active_count()
    writer = ArchiveWriter(Failing(), metadata={}, key_fingerprint="k", sections=[], threads=2)  # type: ignore[arg-type]
    blob = bytes(range(256)) * 40_000
    with pytest.raises(OSError, match="No space"):
        for i in range(20):
            data = blob + bytes([i])
            writer.write_blob(sha(data), len(data), [data])
        writer.close()
    assert threading.active_count() <= before


def test_failed_writer_rejects_everything_after() -> None:
    writer, _ = make(["project"])
    with pytest.raises(ValueError):
        writer.write_section("users", [])
    with pytest.raises(ArchiveWriteError, match="failed earlier"):
        writer.write_section("project", [])
    with pytest.raises(ArchiveWriteError, match="failed earlier"):
        writer.write_blob(sha(BLOB), len(BLOB), [BLOB])


def test_size_field_switches_to_base256_beyond_8_gib() -> None:
    assert _size_field(8**11 - 1) == b"77777777777\0"
    big = 8**11
    field = _size_field(big)
    assert field[0] == 0x80 and int.from_bytes(field[1:], "big") == big
    header = tar_header("blobs/" + "0" * 64, 10 * 2**30, 0)
    from cloudbox.archive.reader import _parse_header

    assert _parse_header(header, 0).size == 10 * 2**30


def test_tar_header_rejects_long_names() -> None:
    with pytest.raises(ValueError):
        tar_header("x" * 100, 0, 0)


def test_metadata_written_as_given_plus_reserved_fields() -> None:
    writer, out = make(["project"])
    writer.write_section("project", [b'{"id":"p1"}'])
    writer.close()
    verified = verify_archive(io.BytesIO(out.getvalue()))
    assert verified.metadata == {
        "project_id": "p1",
        "created_at": "2024-05-01T12:00:00Z",
        "backup_version": "1.0",
        "key_fingerprint": "fp",
        "sections": ["project"],
    }
    assert json.loads(json.dumps(verified.manifest))["sections"] == {
        "project": {"rows": 1, "member": "data/project.ndjson"}
    }

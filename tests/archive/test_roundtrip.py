"""Writer -> reader round trips, and compatibility with GNU tar."""

from __future__ import annotations

import hashlib
import io
import json
import os
import random
import subprocess
import tarfile
import zlib
from pathlib import Path
from typing import Any

import pytest

from cloudbox.archive import (
    SECTIONS,
    ArchiveReader,
    ArchiveWriter,
    InvalidArchive,
    verify_archive,
)
from tests.archive.helpers import FP, content, sha, small_archive, write_archive

BIG_SECTION_ROWS = 60_000  # ~9.5 MiB: beyond the 8 MiB spool threshold


def _rows(section: str, count: int, seed: int) -> list[bytes]:
    rnd = random.Random(seed)
    return [
        json.dumps(
            {
                "id": f"{section}-{i}",
                "n": i,
                "score": rnd.random(),
                "text": "ü€𝄞 " + "x" * rnd.randrange(60, 120),
                "nested": {"tags": ["a", "b"], "ok": True, "none": None},
            },
            ensure_ascii=False,
            separators=(",", ":"),
        ).encode()
        for i in range(count)
    ]


@pytest.fixture(scope="module")
def dataset() -> dict[str, Any]:
    rnd = random.Random(7)
    blobs = [
        b"",
        rnd.randbytes(3 * 2**20 + 17),
        b"small blob",
        bytes(2**20),  # exactly one chunk
        rnd.randbytes(511),
        rnd.randbytes(513),
    ]
    sections = {
        "project": _rows("project", 1, 1),
        "auth_settings": [],
        "users": _rows("users", 500, 2),
        "documents": _rows("documents", BIG_SECTION_ROWS, 3),
        "files": _rows("files", 6, 4),
    }
    return {"sections": sections, "blobs": blobs}


def _gzip_members(data: bytes) -> list[bytes]:
    """The decompressed content of each gzip member of `data`, in order."""
    members = []
    while data:
        inflate = zlib.decompressobj(wbits=31)
        members.append(inflate.decompress(data) + inflate.flush())
        assert inflate.eof
        data = inflate.unused_data
    return members


@pytest.fixture(scope="module", params=[1, 2], ids=["igzip", "threaded"])
def written(
    request: pytest.FixtureRequest,
    dataset: dict[str, Any],
    tmp_path_factory: pytest.TempPathFactory,
) -> dict[str, Any]:
    path = tmp_path_factory.mktemp("rt") / "backup.tar.gz"
    progress: list[int] = []
    with path.open("wb") as out:
        result = write_archive(
            out,
            sections=dataset["sections"],
            blobs=dataset["blobs"],
            threads=request.param,
            progress=progress.append,
        )
    return {"path": path, "result": result, "progress": progress}


def _member_names(dataset: dict[str, Any]) -> list[str]:
    names = ["metadata.json"] + [f"data/{s}.ndjson" for s in dataset["sections"]]
    seen = []
    for blob in dataset["blobs"]:
        if f"blobs/{sha(blob)}" not in seen:
            seen.append(f"blobs/{sha(blob)}")
    return names + seen + ["manifest.json"]


def test_returned_sha256_is_the_file_digest(written: dict[str, Any]) -> None:
    data = written["path"].read_bytes()
    assert written["result"].sha256 == hashlib.sha256(data).hexdigest()
    assert written["result"].size == len(data)


def test_large_section_compressed_as_its_own_gzip_member(
    written: dict[str, Any], dataset: dict[str, Any]
) -> None:
    # Only documents (> 8 MiB) was compressed while it was produced: the archive is three
    # gzip members, the middle one exactly that section's lines.
    members = _gzip_members(written["path"].read_bytes())
    assert len(members) == 3
    assert members[1] == b"".join(row + b"\n" for row in dataset["sections"]["documents"])
    header = members[0][-512:]  # the first member ends with the section's tar header
    assert len(members[0]) % 512 == 0 and header.startswith(b"data/documents.ndjson\0")
    assert int(header[124:135], 8) == len(members[1])
    with tarfile.open(written["path"], "r:gz") as tar:  # standard tools read it as one
        member = tar.extractfile("data/documents.ndjson")
        assert member is not None and member.read() == members[1]


def test_progress_reports_uncompressed_bytes(written: dict[str, Any]) -> None:
    progress = written["progress"]
    expanded = written["result"].expanded_size
    assert progress == sorted(progress)
    assert progress[-1] == expanded
    assert len(progress) <= expanded // 2**20 + 2
    assert len(progress) >= expanded // 2**20 // 2


def test_verify_and_read_give_back_everything(
    written: dict[str, Any], dataset: dict[str, Any]
) -> None:
    data = written["path"].read_bytes()
    with written["path"].open("rb") as f:
        verified = verify_archive(f, expected_sha256=written["result"].sha256)
    assert verified.sha256 == written["result"].sha256
    assert verified.size == len(data)
    assert verified.expanded_size == written["result"].expanded_size
    assert verified.metadata["backup_version"] == "1.0"
    assert verified.metadata["key_fingerprint"] == FP
    assert verified.metadata["sections"] == list(dataset["sections"])
    assert verified.metadata["project_name"] == "Demo"
    assert verified.sections == {s: len(r) for s, r in dataset["sections"].items()}
    assert verified.blobs == {sha(b): len(b) for b in dataset["blobs"]}
    assert [m["name"] for m in verified.manifest["members"]] == _member_names(dataset)[:-1]
    assert verified.manifest["blob_count"] == len(verified.blobs)
    assert verified.manifest["blob_bytes"] == sum(verified.blobs.values())

    restored = content(verified, data)
    assert restored["rows"] == {
        s: [json.loads(r) for r in rows] for s, rows in dataset["sections"].items()
    }
    assert restored["blobs"] == {f"blobs/{sha(b)}": b for b in dataset["blobs"]}


def test_reader_yields_members_in_archive_order(
    written: dict[str, Any], dataset: dict[str, Any]
) -> None:
    with written["path"].open("rb") as f:
        verified = verify_archive(f)
    with written["path"].open("rb") as f:
        seen = [(m.name, m.kind, m.size, m.sha256) for m in ArchiveReader(f, verified)]
    assert [name for name, _, _, _ in seen] == _member_names(dataset)
    entries = {e["name"]: e for e in verified.manifest["members"]}
    for name, kind, size, digest in seen:
        if kind != "manifest":
            assert (size, digest) == (entries[name]["size"], entries[name]["sha256"])


def test_gnu_tar_lists_and_extracts(
    written: dict[str, Any], dataset: dict[str, Any], tmp_path: Path
) -> None:
    listing = subprocess.run(
        ["tar", "tzf", str(written["path"])], capture_output=True, text=True, check=True
    )
    assert listing.stdout.splitlines() == _member_names(dataset)
    assert listing.stderr == ""
    verbose = subprocess.run(
        ["tar", "tvzf", str(written["path"])], capture_output=True, text=True, check=True
    )
    assert "2024-05-01 12:00" in verbose.stdout.splitlines()[0]
    assert verbose.stdout.splitlines()[0].startswith("-rw-r--r-- 0/0")

    subprocess.run(["tar", "xzf", str(written["path"]), "-C", str(tmp_path)], check=True)
    for section, rows in dataset["sections"].items():
        expected = b"".join(r + b"\n" for r in rows)
        assert (tmp_path / "data" / f"{section}.ndjson").read_bytes() == expected
    for blob in dataset["blobs"]:
        assert (tmp_path / "blobs" / sha(blob)).read_bytes() == blob
    metadata = json.loads((tmp_path / "metadata.json").read_bytes())
    assert metadata["sections"] == list(dataset["sections"])
    manifest = json.loads((tmp_path / "manifest.json").read_bytes())
    for entry in manifest["members"]:
        assert sha((tmp_path / entry["name"]).read_bytes()) == entry["sha256"]


def test_gzip_cli_tests_clean(written: dict[str, Any]) -> None:
    subprocess.run(["gzip", "-t", str(written["path"])], check=True)


def test_every_section_at_once() -> None:
    buf = io.BytesIO()
    sections = {s: [json.dumps({"section": s}).encode()] for s in SECTIONS}
    write_archive(buf, sections=sections)
    buf.seek(0)
    verified = verify_archive(buf)
    assert list(verified.sections) == list(SECTIONS)


def test_archive_without_sections_or_blobs() -> None:
    buf = io.BytesIO()
    with ArchiveWriter(buf, metadata={}, key_fingerprint="k", sections=[]) as writer:
        result = writer.close()
    buf.seek(0)
    verified = verify_archive(buf)
    assert verified.sections == {} and verified.blobs == {}
    assert [m.name for m in result.members] == ["metadata.json", "manifest.json"]


def test_writer_is_deterministic_for_same_input() -> None:
    assert small_archive() == small_archive()


def test_mtime_falls_back_to_now_without_created_at() -> None:
    buf = io.BytesIO()
    with ArchiveWriter(
        buf, metadata={"created_at": "not a date"}, key_fingerprint="k", sections=[]
    ) as w:
        w.close()
    import gzip

    raw = gzip.decompress(buf.getvalue())
    mtime = int(raw[136:147], 8)
    import time

    assert abs(mtime - time.time()) < 60


def test_reader_detects_file_swapped_between_passes() -> None:
    first = small_archive()
    verified = verify_archive(io.BytesIO(first))
    other = small_archive(blob_sizes=(0, 1000, 5001))
    with pytest.raises(InvalidArchive) as info:
        for _member in ArchiveReader(io.BytesIO(other), verified):
            pass
    assert info.value.rule == "archive_changed"


def test_reader_detects_same_size_change_in_rows() -> None:
    buf = io.BytesIO()
    write_archive(buf, sections={"users": [b'{"name":"alice"}', b'{"name":"bob"}']})
    original = buf.getvalue()
    verified = verify_archive(io.BytesIO(original))
    buf2 = io.BytesIO()
    write_archive(buf2, sections={"users": [b'{"name":"alicf"}', b'{"name":"bob"}']})
    rows: list[dict[str, Any]] = []
    with pytest.raises(InvalidArchive) as info:
        for m in ArchiveReader(io.BytesIO(buf2.getvalue()), verified):
            if m.kind == "section":
                rows.extend(m.rows())
    assert info.value.rule == "archive_changed"
    # The change surfaced before the member (and the archive) completed.
    assert rows == [{"name": "alicf"}, {"name": "bob"}]


def test_reader_skips_unread_members_and_still_checks_them() -> None:
    data = small_archive()
    verified = verify_archive(io.BytesIO(data))
    kinds = []
    for m in ArchiveReader(io.BytesIO(data), verified):
        kinds.append(m.kind)
        if m.section == "documents":
            first = next(m.rows())
            assert first == {"id": 0, "v": [0, {"k": ""}]}
        if m.kind == "blob" and m.size:
            assert len(next(m.chunks())) > 0
    assert kinds == [
        "metadata",
        "section",
        "section",
        "section",
        "blob",
        "blob",
        "blob",
        "manifest",
    ]


def test_stale_member_cannot_be_read() -> None:
    data = small_archive()
    verified = verify_archive(io.BytesIO(data))
    members = []
    for m in ArchiveReader(io.BytesIO(data), verified):
        members.append(m)
    with pytest.raises(ValueError, match="no longer"):
        next(members[1].rows())
    with pytest.raises(ValueError):
        next(members[1].chunks())


def test_reader_is_single_use() -> None:
    data = small_archive()
    verified = verify_archive(io.BytesIO(data))
    reader = ArchiveReader(io.BytesIO(data), verified)
    list(reader)
    with pytest.raises(ValueError):
        iter(reader)


def test_metadata_and_manifest_chunks_in_reader() -> None:
    data = small_archive()
    verified = verify_archive(io.BytesIO(data))
    for m in ArchiveReader(io.BytesIO(data), verified):
        if m.kind in ("metadata", "manifest"):
            body = json.loads(b"".join(m.chunks()))
            assert body == (verified.metadata if m.kind == "metadata" else verified.manifest)


def test_check_rows_false_skips_parsing_but_counts() -> None:
    from tests.archive.helpers import gz, metadata, raw_tar

    members = [
        ("metadata.json", metadata(("users",))),
        ("data/users.ndjson", b'{"a":NaN}\n{"b":1}\n'),
    ]
    data = gz(raw_tar(members))
    with pytest.raises(InvalidArchive):
        verify_archive(io.BytesIO(data))
    assert verify_archive(io.BytesIO(data), check_rows=False).sections == {"users": 2}


def test_expected_sha256_mismatch_is_refused() -> None:
    data = small_archive()
    with pytest.raises(InvalidArchive) as info:
        verify_archive(io.BytesIO(data), expected_sha256="0" * 64)
    assert info.value.rule == "archive_sha256"


def test_reader_from_pipe_like_source_with_short_reads() -> None:
    data = small_archive()

    class Trickle(io.RawIOBase):
        def __init__(self) -> None:
            self.pos = 0

        def readable(self) -> bool:
            return True

        def readinto(self, b: Any) -> int:
            n = min(len(b), 7, len(data) - self.pos)
            b[:n] = data[self.pos : self.pos + n]
            self.pos += n
            return n

    verified = verify_archive(Trickle())  # type: ignore[arg-type]
    assert verified.sha256 == sha(data)


@pytest.mark.parametrize("threads", [0, 1, 2, 4])
def test_all_thread_counts_produce_standard_gzip(threads: int) -> None:
    buf = io.BytesIO()
    rnd = random.Random(threads)
    blob = rnd.randbytes(3 * 2**20)
    write_archive(buf, sections={"users": [b'{"a":1}']}, blobs=[blob], threads=threads)
    import gzip

    raw = gzip.decompress(buf.getvalue())
    assert blob in raw
    assert verify_archive(io.BytesIO(buf.getvalue())).blobs == {sha(blob): len(blob)}


def test_os_urandom_blob_roundtrip_through_file(tmp_path: Path) -> None:
    blob = os.urandom(100_000)
    path = tmp_path / "a.tgz"
    with path.open("wb") as f:
        result = write_archive(f, sections={"files": [b'{"f":1}']}, blobs=[blob], compresslevel=3)
    with path.open("rb") as f:
        verified = verify_archive(f, expected_sha256=result.sha256)
    assert content(verified, path.read_bytes())["blobs"] == {f"blobs/{sha(blob)}": blob}

"""One contract suite, run against every backend.

The local and S3 stores must be interchangeable, so every behaviour the rest of the
server relies on is asserted here once and checked on both. "Nothing stored" is
verified on the raw backend (every file under the root including ``.tmp``; every S3
object under the prefix including ``tmp/``, plus in-progress multipart uploads), not
just through the store's own listing.
"""

from __future__ import annotations

import gc
import hashlib
import io
import os
import tarfile
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

from cloudbox.blobstore import (
    CHUNK_SIZE,
    BlobInfo,
    BlobNotFound,
    BlobStore,
    BlobTooLarge,
    ChecksumMismatch,
    InvalidKey,
    LocalBlobStore,
    LocalObjectStore,
    ObjectStore,
)
from cloudbox.blobstore.s3 import PART_SIZE, S3BlobStore, S3ObjectStore
from tests.blobstore.helpers import MiB, SourceFailed, chunked, failing_source, read_all

if TYPE_CHECKING:
    from mypy_boto3_s3 import S3Client


@dataclass
class Backend:
    kind: str
    blobs: BlobStore
    objects: ObjectStore
    raw_blob_area: Callable[[], list[str]]
    raw_object_area: Callable[[], list[str]]


def _local_raw(root: Path) -> Callable[[], list[str]]:
    def listing() -> list[str]:
        return sorted(str(p.relative_to(root)) for p in root.rglob("*") if not p.is_dir())

    return listing


def _s3_raw(client: S3Client, bucket: str, prefix: str) -> Callable[[], list[str]]:
    def listing() -> list[str]:
        found: list[str] = []
        for page in client.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=prefix):
            found.extend(item["Key"] for item in page.get("Contents", []))
        for uploads in client.get_paginator("list_multipart_uploads").paginate(
            Bucket=bucket, Prefix=prefix
        ):
            found.extend(f"in-progress-upload:{u['Key']}" for u in uploads.get("Uploads", []))
        return sorted(found)

    return listing


@pytest.fixture(params=["local", pytest.param("s3", marks=pytest.mark.integration)])
def backend(request: pytest.FixtureRequest, tmp_path: Path) -> Backend:
    if request.param == "local":
        blob_root, object_root = tmp_path / "blobs", tmp_path / "objects"
        return Backend(
            kind="local",
            blobs=LocalBlobStore(blob_root),
            objects=LocalObjectStore(object_root),
            raw_blob_area=_local_raw(blob_root),
            raw_object_area=_local_raw(object_root),
        )
    client, bucket = request.getfixturevalue("s3_bucket")
    return Backend(
        kind="s3",
        blobs=S3BlobStore(client, bucket, "area-blobs/"),
        objects=S3ObjectStore(client, bucket, "area-objects/"),
        raw_blob_area=_s3_raw(client, bucket, "area-blobs/"),
        raw_object_area=_s3_raw(client, bucket, "area-objects/"),
    )


@pytest.fixture
def blobs(backend: Backend) -> BlobStore:
    return backend.blobs


@pytest.fixture
def objects(backend: Backend) -> ObjectStore:
    return backend.objects


def _sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def _assert_nothing_stored(backend: Backend) -> None:
    assert list(backend.blobs.iter_blobs()) == []
    assert backend.raw_blob_area() == []


# --------------------------------------------------------------------------- blobs


def test_stores_satisfy_the_protocols(backend: Backend) -> None:
    assert isinstance(backend.blobs, BlobStore)
    assert isinstance(backend.objects, ObjectStore)


@pytest.mark.parametrize(
    "size",
    [0, 1, CHUNK_SIZE + 17, 20 * MiB],
    ids=["empty", "one-byte", "multi-chunk", "multipart-20MiB"],
)
def test_round_trip(backend: Backend, size: int) -> None:
    data = os.urandom(size)

    info = backend.blobs.put_stream(chunked(data, 300_001))

    assert info == BlobInfo(sha256=_sha(data), size=size)
    assert backend.blobs.exists(info.sha256)
    assert backend.blobs.size(info.sha256) == size
    chunks = list(backend.blobs.open(info.sha256))
    assert all(0 < len(chunk) <= CHUNK_SIZE for chunk in chunks)
    assert b"".join(chunks) == data
    assert [item.key for item in backend.blobs.iter_blobs()] == [info.sha256]
    assert [item.size for item in backend.blobs.iter_blobs()] == [size]
    # Exactly one physical object: no temp file, temp key or upload left behind.
    assert len(backend.raw_blob_area()) == 1


def test_put_reads_file_objects_in_chunks(blobs: BlobStore) -> None:
    data = os.urandom(3 * MiB + 5)
    info = blobs.put_stream(io.BytesIO(data))
    assert info == BlobInfo(sha256=_sha(data), size=len(data))
    assert read_all(blobs.open(info.sha256)) == data


def test_put_refuses_raw_bytes(blobs: BlobStore) -> None:
    with pytest.raises(TypeError, match="BytesIO"):
        blobs.put_stream(b"raw bytes are an iterable of ints")  # type: ignore[arg-type]


@pytest.mark.parametrize("size", [1000, 12 * MiB], ids=["single-put", "multipart"])
def test_same_content_twice_is_stored_once(backend: Backend, size: int) -> None:
    data = os.urandom(size)

    first = backend.blobs.put_stream(chunked(data, MiB))
    second = backend.blobs.put_stream(chunked(data, 777_777))

    assert first == second
    assert [item.key for item in backend.blobs.iter_blobs()] == [first.sha256]
    assert len(backend.raw_blob_area()) == 1
    assert read_all(backend.blobs.open(first.sha256)) == data


DATA_FOR_RANGES = bytes(range(256)) * (10 * 1024) + b"tail"  # 2.5 MiB + 4, crosses chunks
RANGE_SIZE = len(DATA_FOR_RANGES)


@pytest.mark.parametrize(
    ("start", "end", "expected"),
    [
        (0, None, DATA_FOR_RANGES),
        (10, 20, DATA_FOR_RANGES[10:20]),
        (5, None, DATA_FOR_RANGES[5:]),
        (CHUNK_SIZE - 3, CHUNK_SIZE + 3, DATA_FOR_RANGES[CHUNK_SIZE - 3 : CHUNK_SIZE + 3]),
        (100, 2 * CHUNK_SIZE + 100, DATA_FOR_RANGES[100 : 2 * CHUNK_SIZE + 100]),
        (RANGE_SIZE - 4, RANGE_SIZE + 1000, b"tail"),
        (0, RANGE_SIZE * 2, DATA_FOR_RANGES),
        (RANGE_SIZE - 1, None, b"l"),
        (RANGE_SIZE, None, b""),
        (RANGE_SIZE, RANGE_SIZE + 10, b""),
        (RANGE_SIZE + 50, None, b""),
        (7, 7, b""),
        (0, 0, b""),
    ],
)
def test_ranges(blobs: BlobStore, start: int, end: int | None, expected: bytes) -> None:
    info = blobs.put_stream(chunked(DATA_FOR_RANGES, MiB))
    assert read_all(blobs.open(info.sha256, start, end)) == expected


def test_ranges_of_an_empty_blob(blobs: BlobStore) -> None:
    info = blobs.put_stream([])
    assert read_all(blobs.open(info.sha256)) == b""
    assert read_all(blobs.open(info.sha256, 0, 10)) == b""
    assert read_all(blobs.open(info.sha256, 0, 0)) == b""


@pytest.mark.parametrize(("start", "end"), [(-1, None), (5, 4)])
def test_nonsense_ranges_are_caller_bugs(blobs: BlobStore, start: int, end: int | None) -> None:
    info = blobs.put_stream([b"0123456789"])
    with pytest.raises(ValueError, match="range"):
        blobs.open(info.sha256, start, end)


def test_missing_blob(blobs: BlobStore) -> None:
    missing = _sha(b"never stored")
    # open() fails eagerly, before iteration, so an HTTP layer can still answer 404.
    with pytest.raises(BlobNotFound):
        blobs.open(missing)
    with pytest.raises(BlobNotFound):
        blobs.open(missing, 3, 10)
    with pytest.raises(BlobNotFound):
        blobs.open(missing, 0, 0)
    with pytest.raises(BlobNotFound):
        blobs.size(missing)
    assert not blobs.exists(missing)
    blobs.delete(missing)  # not an error


def test_delete(backend: Backend) -> None:
    info = backend.blobs.put_stream([b"short-lived"])
    backend.blobs.delete(info.sha256)
    assert not backend.blobs.exists(info.sha256)
    with pytest.raises(BlobNotFound):
        backend.blobs.open(info.sha256)
    with pytest.raises(BlobNotFound):
        backend.blobs.size(info.sha256)
    _assert_nothing_stored(backend)


def test_streams_release_their_resources(blobs: BlobStore) -> None:
    """Abandoned or half-read streams must not leak files or connections.

    With ``filterwarnings = error``, a leaked file would surface as an unraisable
    ResourceWarning and fail the test.
    """
    info = blobs.put_stream(chunked(os.urandom(3 * MiB), MiB))
    never_started = blobs.open(info.sha256)
    half_read = blobs.open(info.sha256)
    next(half_read)
    closable = blobs.open(info.sha256)
    assert hasattr(closable, "close")
    closable.close()
    del never_started, half_read
    gc.collect()


@pytest.mark.parametrize("size", [3 * MiB, 12 * MiB], ids=["single-put", "multipart"])
def test_max_size(backend: Backend, size: int) -> None:
    data = os.urandom(size)
    with pytest.raises(BlobTooLarge):
        backend.blobs.put_stream(chunked(data, MiB), max_size=size - 1)
    _assert_nothing_stored(backend)

    info = backend.blobs.put_stream(chunked(data, MiB), max_size=size)
    assert info.size == size


@pytest.mark.parametrize("size", [3 * MiB, 12 * MiB], ids=["single-put", "multipart"])
def test_expected_sha256(backend: Backend, size: int) -> None:
    data = os.urandom(size)
    with pytest.raises(ChecksumMismatch):
        backend.blobs.put_stream(chunked(data, MiB), expected_sha256=_sha(b"other"))
    _assert_nothing_stored(backend)

    info = backend.blobs.put_stream(chunked(data, MiB), expected_sha256=_sha(data))
    assert info.sha256 == _sha(data)


@pytest.mark.parametrize("fail_after", [3 * MiB, 12 * MiB], ids=["single-put", "multipart"])
def test_failing_source_leaves_nothing(backend: Backend, fail_after: int) -> None:
    with pytest.raises(SourceFailed):
        backend.blobs.put_stream(failing_source(fail_after))
    _assert_nothing_stored(backend)


BAD_DIGESTS = [
    "",
    "abc",
    "A" * 64,
    "g" * 64,
    "a" * 63,
    "a" * 65,
    "a" * 64 + "\n",
    "../" + "a" * 61,
    "aa/bb/" + "a" * 58,
]


@pytest.mark.parametrize("digest", BAD_DIGESTS)
def test_invalid_digests_are_refused(backend: Backend, digest: str) -> None:
    blobs = backend.blobs
    with pytest.raises(InvalidKey):
        blobs.open(digest)
    with pytest.raises(InvalidKey):
        blobs.size(digest)
    with pytest.raises(InvalidKey):
        blobs.exists(digest)
    with pytest.raises(InvalidKey):
        blobs.delete(digest)
    with pytest.raises(InvalidKey):
        blobs.put_stream([b"data"], expected_sha256=digest)
    _assert_nothing_stored(backend)


def test_iter_blobs_reports_aware_utc_times(blobs: BlobStore) -> None:
    before = datetime.now(UTC) - timedelta(minutes=5)
    infos = {blobs.put_stream([payload]) for payload in (b"one", b"two", b"three")}
    after = datetime.now(UTC) + timedelta(minutes=5)

    items = list(blobs.iter_blobs())

    assert {(item.key, item.size) for item in items} == {(i.sha256, i.size) for i in infos}
    for item in items:
        assert item.modified_at.tzinfo is not None
        assert item.modified_at.utcoffset() == timedelta(0)
        assert before <= item.modified_at <= after


# --------------------------------------------------------------------------- objects

KEY = "backups/backup-1-123.tar.gz"


@pytest.mark.parametrize("size", [10, 20 * MiB], ids=["single-put", "multipart"])
def test_writer_publishes_atomically(backend: Backend, size: int) -> None:
    objects = backend.objects
    data = os.urandom(size)
    half = size // 2

    with objects.writer(KEY) as out:
        out.write(data[:half])
        assert not objects.exists(KEY), "object visible before the writer finished"
        out.write(data[half:])
        assert out.tell() == size

    assert objects.exists(KEY)
    assert objects.size(KEY) == size
    assert read_all(objects.open(KEY)) == data
    assert len(backend.raw_object_area()) == 1


@pytest.mark.parametrize("size", [3 * MiB, 20 * MiB], ids=["single-put", "multipart"])
def test_writer_failure_leaves_nothing(backend: Backend, size: int) -> None:
    objects = backend.objects
    with pytest.raises(SourceFailed), objects.writer(KEY) as out:
        out.write(os.urandom(size))
        raise SourceFailed("archiver crashed")

    assert not objects.exists(KEY)
    with pytest.raises(BlobNotFound):
        objects.size(KEY)
    assert backend.raw_object_area() == []


def test_failed_overwrite_keeps_the_previous_object(objects: ObjectStore) -> None:
    objects.put_stream(KEY, [b"version one"])
    with pytest.raises(SourceFailed), objects.writer(KEY) as out:
        out.write(b"version two, half written")
        raise SourceFailed("crash")
    assert read_all(objects.open(KEY)) == b"version one"

    objects.put_stream(KEY, [b"version three"])
    assert read_all(objects.open(KEY)) == b"version three"


def test_writer_survives_the_caller_closing_the_file(objects: ObjectStore) -> None:
    with objects.writer(KEY) as out:
        out.write(b"closed early")
        out.close()
    assert read_all(objects.open(KEY)) == b"closed early"


def test_writer_is_sequential_only(objects: ObjectStore) -> None:
    """No backend can seek, so code written against the local disk cannot rely on it."""
    with objects.writer(KEY) as out:
        assert out.writable()
        assert not out.seekable()
        out.write(b"x")


@pytest.mark.parametrize("mode", ["w:gz", "w|gz"])
def test_writer_accepts_tarfile(objects: ObjectStore, mode: str) -> None:
    """Backups are tar.gz archives written straight into the writer."""
    member = os.urandom(2 * MiB)
    with objects.writer(KEY) as out, tarfile.open(fileobj=out, mode=mode) as archive:  # type: ignore[call-overload]
        info = tarfile.TarInfo("data.bin")
        info.size = len(member)
        archive.addfile(info, io.BytesIO(member))

    archive_bytes = read_all(objects.open(KEY))
    with tarfile.open(fileobj=io.BytesIO(archive_bytes), mode="r:gz") as archive:
        extracted = archive.extractfile("data.bin")
        assert extracted is not None
        assert extracted.read() == member


def test_object_put_stream(objects: ObjectStore) -> None:
    data = os.urandom(MiB + 3)
    assert objects.put_stream(KEY, io.BytesIO(data)) == len(data)
    assert read_all(objects.open(KEY)) == data
    assert objects.put_stream("backups/other.tar.gz", chunked(data, 1000)) == len(data)
    assert objects.size("backups/other.tar.gz") == len(data)


@pytest.mark.parametrize(
    ("start", "end", "expected"),
    [
        (0, None, DATA_FOR_RANGES),
        (10, 20, DATA_FOR_RANGES[10:20]),
        (RANGE_SIZE - 4, RANGE_SIZE + 1000, b"tail"),
        (RANGE_SIZE, None, b""),
        (3, 3, b""),
    ],
)
def test_object_ranges(objects: ObjectStore, start: int, end: int | None, expected: bytes) -> None:
    objects.put_stream(KEY, chunked(DATA_FOR_RANGES, MiB))
    assert read_all(objects.open(KEY, start, end)) == expected


def test_missing_object(objects: ObjectStore) -> None:
    with pytest.raises(BlobNotFound):
        objects.open(KEY)
    with pytest.raises(BlobNotFound):
        objects.open(KEY, 0, 0)
    with pytest.raises(BlobNotFound):
        objects.size(KEY)
    assert not objects.exists(KEY)
    objects.delete(KEY)


def test_object_delete(backend: Backend) -> None:
    objects = backend.objects
    objects.put_stream(KEY, [b"archive"])
    objects.delete(KEY)
    assert not objects.exists(KEY)
    with pytest.raises(BlobNotFound):
        objects.open(KEY)
    assert backend.raw_object_area() == []


def test_object_area_directories_are_not_objects(objects: ObjectStore) -> None:
    objects.put_stream(KEY, [b"archive"])
    assert not objects.exists("backups")
    with pytest.raises(BlobNotFound):
        objects.size("backups")
    with pytest.raises(BlobNotFound):
        objects.open("backups")


BAD_OBJECT_KEYS = [
    "",
    "/etc/passwd",
    "../escape",
    "backups/../../escape",
    "backups/./x",
    "backups//x",
    "backups/",
    "back\\slash",
    ".tmp/x",
    "backups/.hidden",
    "nul\x00byte",
    "new\nline",
    "k" * 1025,
]


@pytest.mark.parametrize("key", BAD_OBJECT_KEYS)
def test_invalid_object_keys_are_refused(backend: Backend, key: str) -> None:
    objects = backend.objects
    with pytest.raises(InvalidKey), objects.writer(key) as out:
        out.write(b"never")
    with pytest.raises(InvalidKey):
        objects.put_stream(key, [b"never"])
    with pytest.raises(InvalidKey):
        objects.open(key)
    with pytest.raises(InvalidKey):
        objects.size(key)
    with pytest.raises(InvalidKey):
        objects.exists(key)
    with pytest.raises(InvalidKey):
        objects.delete(key)
    with pytest.raises(InvalidKey):
        objects.local_path(key)
    assert backend.raw_object_area() == []


def test_free_bytes_and_local_path(backend: Backend) -> None:
    objects = backend.objects
    objects.put_stream(KEY, [b"archive"])
    free = objects.free_bytes()
    path = objects.local_path(KEY)
    if backend.kind == "local":
        assert free is not None
        assert free > 0
        assert path is not None
        assert path.read_bytes() == b"archive"
    else:
        assert free is None
        assert path is None


# --------------------------------------------------------------------------- memory


def _peak_traced_bytes(action: Callable[[], object]) -> int:
    import tracemalloc

    tracemalloc.start()
    try:
        action()
        return tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()


def _generated(total: int) -> Iterator[bytes]:
    block = b"\xa5" * MiB
    for index in range(total // MiB):
        yield index.to_bytes(8, "big") + block[8:]


def test_memory_is_bounded_by_chunks_not_blob_size(backend: Backend) -> None:
    total = 48 * MiB
    # Local: a few chunks. S3: one multipart part (8 MiB) plus a chunk and slack.
    limit = 8 * MiB if backend.kind == "local" else 2 * PART_SIZE

    def write_blob() -> object:
        return backend.blobs.put_stream(_generated(total))

    def read_blob() -> object:
        digest = next(iter(backend.blobs.iter_blobs())).key
        return sum(len(chunk) for chunk in backend.blobs.open(digest))

    def write_object() -> object:
        with backend.objects.writer(KEY) as out:
            for chunk in _generated(total):
                out.write(chunk)
        return None

    def read_object() -> object:
        return sum(len(chunk) for chunk in backend.objects.open(KEY))

    for action in (write_blob, read_blob, write_object, read_object):
        peak = _peak_traced_bytes(action)
        assert peak < limit, f"{action.__name__} peaked at {peak / MiB:.1f} MiB"

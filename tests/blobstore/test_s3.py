"""Behaviour specific to the S3 backend: request patterns, temp keys, housekeeping.

The request patterns are observed through botocore's own event hooks on a real client
talking to a real S3 endpoint; nothing is mocked.
"""

from __future__ import annotations

import hashlib
import os
from collections.abc import Iterator
from datetime import timedelta
from typing import TYPE_CHECKING, Any

import pytest
from botocore.exceptions import ClientError

from cloudbox.blobstore import BlobStoreError, StorageFull, StorageUnavailable
from cloudbox.blobstore.factory import make_s3_client
from cloudbox.blobstore.s3 import (
    MAX_PARTS,
    PART_SIZE,
    S3BlobStore,
    S3ObjectStore,
    _translate,
    part_size_for,
)
from tests.blobstore.helpers import MiB, SourceFailed, chunked, failing_source, read_all

if TYPE_CHECKING:
    from mypy_boto3_s3 import S3Client

PREFIX = "cb/"
S3Bucket = tuple["S3Client", str]


class CallLog:
    """Records (operation, key) for every S3 call the client makes."""

    def __init__(self) -> None:
        self.calls: list[tuple[str, str | None]] = []

    def __call__(self, params: dict[str, Any], model: Any, **kwargs: Any) -> None:
        self.calls.append((str(model.name), params.get("Key")))

    @property
    def operations(self) -> list[str]:
        return [name for name, _ in self.calls]


@pytest.fixture
def calls(s3_bucket: S3Bucket) -> Iterator[CallLog]:
    client, _ = s3_bucket
    log = CallLog()
    client.meta.events.register("before-parameter-build.s3", log)
    try:
        yield log
    finally:
        client.meta.events.unregister("before-parameter-build.s3", log)


def _all_keys(client: S3Client, bucket: str) -> list[str]:
    response = client.list_objects_v2(Bucket=bucket)
    uploads = client.list_multipart_uploads(Bucket=bucket).get("Uploads", [])
    return sorted(
        [item["Key"] for item in response.get("Contents", [])]
        + [f"in-progress-upload:{u['Key']}" for u in uploads]
    )


# ----------------------------------------------------------------- no server needed


def test_part_sizes_grow_to_allow_huge_objects() -> None:
    assert part_size_for(1) == PART_SIZE
    assert part_size_for(1000) == PART_SIZE
    assert part_size_for(1001) == 2 * PART_SIZE
    assert part_size_for(4001) == 16 * PART_SIZE
    assert part_size_for(MAX_PARTS) == 16 * PART_SIZE
    capacity = sum(part_size_for(n) for n in range(1, MAX_PARTS + 1))
    assert capacity > 800 * 1024**3


def test_error_codes_are_translated() -> None:
    def client_error(code: str) -> ClientError:
        return ClientError({"Error": {"Code": code, "Message": "boom"}}, "PutObject")

    assert isinstance(_translate(client_error("XMinioStorageFull"), "put"), StorageFull)
    assert isinstance(_translate(client_error("NoSuchBucket"), "put"), StorageUnavailable)
    other = _translate(client_error("InternalError"), "put")
    assert type(other) is BlobStoreError


def test_client_factory_wants_both_keys_or_none() -> None:
    with pytest.raises(ValueError, match="together"):
        make_s3_client("http://127.0.0.1:1", "us-east-1", "key", None)


def test_parts_below_the_s3_minimum_are_refused() -> None:
    client = make_s3_client("http://127.0.0.1:1", "us-east-1", "k", "s")
    with pytest.raises(ValueError, match="5 MiB"):
        S3BlobStore(client, "bucket", part_size=MiB)


def test_prefix_is_normalised() -> None:
    client = make_s3_client("http://127.0.0.1:1", "us-east-1", "k", "s")
    digest = "a" * 64
    assert S3BlobStore(client, "bucket", "cb").key_for(digest) == f"cb/blobs/{digest}"
    assert S3BlobStore(client, "bucket").key_for(digest) == f"blobs/{digest}"
    assert S3ObjectStore(client, "bucket", "obj").key_for("backups/x") == "obj/backups/x"


# ----------------------------------------------------------------- against the server


@pytest.mark.integration
def test_small_blob_is_one_put_to_the_final_key(s3_bucket: S3Bucket, calls: CallLog) -> None:
    client, bucket = s3_bucket
    store = S3BlobStore(client, bucket, PREFIX)

    info = store.put_stream([b"small"])

    assert calls.calls == [("PutObject", f"{PREFIX}blobs/{info.sha256}")]


@pytest.mark.integration
def test_large_blob_goes_through_a_temp_key(s3_bucket: S3Bucket, calls: CallLog) -> None:
    client, bucket = s3_bucket
    store = S3BlobStore(client, bucket, PREFIX)

    info = store.put_stream(chunked(os.urandom(12 * MiB), MiB))

    final = f"{PREFIX}blobs/{info.sha256}"
    temp = calls.calls[0][1]
    assert temp is not None
    assert temp.startswith(f"{PREFIX}tmp/")
    assert calls.calls == [
        ("CreateMultipartUpload", temp),
        ("UploadPart", temp),
        ("HeadObject", final),  # dedupe check before the last part is even sent
        ("UploadPart", temp),
        ("CompleteMultipartUpload", temp),
        ("CopyObject", final),
        ("DeleteObject", temp),
    ]
    assert _all_keys(client, bucket) == [final]


@pytest.mark.integration
def test_large_duplicate_is_aborted_not_copied(s3_bucket: S3Bucket, calls: CallLog) -> None:
    client, bucket = s3_bucket
    store = S3BlobStore(client, bucket, PREFIX)
    data = os.urandom(12 * MiB)
    info = store.put_stream(chunked(data, MiB))
    calls.calls.clear()

    assert store.put_stream(chunked(data, MiB)) == info

    assert "AbortMultipartUpload" in calls.operations
    assert "CopyObject" not in calls.operations
    assert "CompleteMultipartUpload" not in calls.operations
    assert _all_keys(client, bucket) == [f"{PREFIX}blobs/{info.sha256}"]


@pytest.mark.integration
def test_failing_large_upload_is_aborted(s3_bucket: S3Bucket, calls: CallLog) -> None:
    client, bucket = s3_bucket
    store = S3BlobStore(client, bucket, PREFIX)

    with pytest.raises(SourceFailed):
        store.put_stream(failing_source(12 * MiB))

    assert calls.operations == ["CreateMultipartUpload", "UploadPart", "AbortMultipartUpload"]
    assert _all_keys(client, bucket) == []


@pytest.mark.integration
def test_blobs_too_big_for_copy_object_use_multipart_copy(
    s3_bucket: S3Bucket, calls: CallLog
) -> None:
    client, bucket = s3_bucket
    store = S3BlobStore(client, bucket, PREFIX, max_copy_size=6 * MiB, copy_part_size=5 * MiB)
    data = os.urandom(12 * MiB)

    info = store.put_stream(chunked(data, MiB))

    assert calls.operations.count("UploadPartCopy") == 3  # 5 + 5 + 2 MiB
    assert "CopyObject" not in calls.operations
    assert read_all(store.open(info.sha256)) == data
    assert _all_keys(client, bucket) == [f"{PREFIX}blobs/{info.sha256}"]


@pytest.mark.integration
def test_iter_blobs_lists_only_blobs(s3_bucket: S3Bucket) -> None:
    client, bucket = s3_bucket
    store = S3BlobStore(client, bucket, PREFIX)
    digest = hashlib.sha256(b"x").hexdigest()
    for junk in (
        f"{PREFIX}tmp/{digest}",
        f"{PREFIX}blobs/not-a-digest",
        f"{PREFIX}blobs/{digest.upper()}",
        f"{PREFIX}blobs/{digest}/nested",
        f"other/blobs/{digest}",
    ):
        client.put_object(Bucket=bucket, Key=junk, Body=b"junk")

    assert list(store.iter_blobs()) == []
    info = store.put_stream([b"real"])
    assert [item.key for item in store.iter_blobs()] == [info.sha256]


@pytest.mark.integration
def test_purge_stale_temp(s3_bucket: S3Bucket) -> None:
    client, bucket = s3_bucket
    blobs = S3BlobStore(client, bucket, PREFIX)
    objects = S3ObjectStore(client, bucket, "objects/")
    client.put_object(Bucket=bucket, Key=f"{PREFIX}tmp/crashed-copy", Body=b"left over")
    client.create_multipart_upload(Bucket=bucket, Key=f"{PREFIX}tmp/crashed-upload")
    client.create_multipart_upload(Bucket=bucket, Key="objects/backups/crashed.tar.gz")
    kept = blobs.put_stream([b"a real blob"])

    # Fresh temp objects survive. (Multipart uploads are not asserted here: moto reports
    # a fixed 2010 "Initiated" date for every upload, so they always look stale.)
    blobs.purge_stale_temp(timedelta(hours=1))
    assert f"{PREFIX}tmp/crashed-copy" in _all_keys(client, bucket)

    assert blobs.purge_stale_temp(timedelta(0)) >= 1
    assert objects.purge_stale_temp(timedelta(0)) == 1

    assert _all_keys(client, bucket) == [f"{PREFIX}blobs/{kept.sha256}"]


@pytest.mark.integration
def test_missing_bucket_is_storage_unavailable(s3_bucket: S3Bucket) -> None:
    client, bucket = s3_bucket
    store = S3BlobStore(client, f"{bucket}-missing", PREFIX)
    with pytest.raises(StorageUnavailable):
        store.put_stream([b"nowhere to go"])
    with pytest.raises(StorageUnavailable):
        list(store.iter_blobs())
    objects = S3ObjectStore(client, f"{bucket}-missing", PREFIX)
    with pytest.raises(StorageUnavailable), objects.writer("backups/x.tar.gz") as out:
        out.write(b"nowhere")

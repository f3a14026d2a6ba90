"""S3 backend (AWS S3 and S3-compatible servers such as MinIO, Garage, Ceph, moto).

Atomicity comes from S3 itself: a PUT or a completed multipart upload becomes visible
all at once, and an aborted multipart upload never becomes visible at all. Blobs are
content-addressed, but the digest is only known after the last byte, so large blobs
are uploaded to a temporary key first and then copied server-side to their final key.

Blob and object stores must be given different prefixes (or buckets): the blob store
owns ``<prefix>blobs/`` and ``<prefix>tmp/``.
"""

from __future__ import annotations

import base64
import hashlib
import io
import logging
import uuid
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, BinaryIO, cast

from botocore.exceptions import BotoCoreError, ClientError

from cloudbox.blobstore.base import (
    CHUNK_SIZE,
    BlobInfo,
    ChunkStream,
    StoredItem,
    check_range,
    empty_stream,
    iter_source,
    validate_digest,
    validate_object_key,
)
from cloudbox.blobstore.errors import (
    BlobNotFound,
    BlobStoreError,
    BlobTooLarge,
    ChecksumMismatch,
    InvalidKey,
    StorageFull,
    StorageUnavailable,
)

if TYPE_CHECKING:
    from _typeshed import ReadableBuffer
    from botocore.response import StreamingBody
    from mypy_boto3_s3 import S3Client
    from mypy_boto3_s3.type_defs import CompletedPartTypeDef, CopySourceTypeDef

logger = logging.getLogger(__name__)

#: Uploads up to this size are a single PUT; larger ones go multipart with parts of
#: (at least) this size, which is also the upload's memory bound.
PART_SIZE = 8 * 1024 * 1024
#: S3 refuses more parts than this in one multipart upload.
MAX_PARTS = 10_000
#: Part sizes double every this many parts (see :func:`part_size_for`).
PARTS_PER_SIZE_STEP = 1_000
#: Part sizes stop growing after this many doublings (8 MiB -> 128 MiB).
MAX_PART_DOUBLINGS = 4
#: Largest object CopyObject accepts; bigger copies go through UploadPartCopy.
MAX_COPY_SIZE = 5 * 1024**3
#: Preferred part size for server-side multipart copies.
COPY_PART_SIZE = 512 * 1024**2

_NOT_FOUND_CODES = frozenset({"NoSuchKey", "NotFound", "404"})
_FULL_CODES = frozenset(
    {"XMinioStorageFull", "XMinioAdminBucketQuotaExceeded", "QuotaExceeded", "InsufficientStorage"}
)
_UNAVAILABLE_CODES = frozenset(
    {
        "NoSuchBucket",
        "AccessDenied",
        "403",
        "InvalidAccessKeyId",
        "SignatureDoesNotMatch",
        "AllAccessDisabled",
        "ServiceUnavailable",
        "SlowDown",
        "503",
    }
)


def part_size_for(part_number: int, base: int = PART_SIZE) -> int:
    """Size of multipart part ``part_number`` (1-based).

    A fixed 8 MiB part would cap objects at ~78 GiB (10 000 parts). Doubling every
    thousand parts, up to 16x, lifts the cap to ~867 GiB while keeping the memory of
    ordinary uploads at a single small part.
    """
    doublings = min((part_number - 1) // PARTS_PER_SIZE_STEP, MAX_PART_DOUBLINGS)
    return base << doublings


def _error_code(exc: ClientError) -> str:
    return str(exc.response.get("Error", {}).get("Code", ""))


def _translate(exc: ClientError | BotoCoreError, action: str) -> BlobStoreError:
    """Map boto errors onto the blob store's exceptions so callers never import botocore."""
    if isinstance(exc, ClientError):
        code = _error_code(exc)
        message = str(exc.response.get("Error", {}).get("Message", "")) or str(exc)
        if code in _NOT_FOUND_CODES:
            return BlobNotFound(f"{action}: not found")
        if code in _FULL_CODES:
            return StorageFull(f"{action}: {code}: {message}")
        if code in _UNAVAILABLE_CODES:
            return StorageUnavailable(f"{action}: {code}: {message}")
        return BlobStoreError(f"{action}: {code}: {message}")
    return StorageUnavailable(f"{action}: {exc}")


@contextmanager
def _s3_errors(action: str) -> Iterator[None]:
    try:
        yield
    except (ClientError, BotoCoreError) as exc:
        raise _translate(exc, action) from exc


def _content_md5(data: ReadableBuffer) -> str:
    """Content-MD5 for uploads.

    Every S3 implementation verifies it, unlike the newer flexible checksums, so it is
    the portable way to make the server reject bytes corrupted in transit.
    """
    return base64.b64encode(hashlib.md5(data, usedforsecurity=False).digest()).decode("ascii")


def _as_body(data: bytes | bytearray) -> bytes:
    """Pass a bytearray to botocore as-is.

    botocore's parameter validation accepts bytearray for blob members; only the type
    stubs are narrower. Converting would copy a whole part, doubling upload memory.
    """
    return cast(bytes, data)


def _normalise_prefix(prefix: str) -> str:
    if prefix and not prefix.endswith("/"):
        prefix += "/"
    return prefix


class _Upload:
    """Streams bytes towards one S3 key with bounded memory.

    Bytes are buffered until more than one part has accumulated; only then is a
    multipart upload started. Uploads that never get that far stay in memory so the
    caller can finish them with a single PUT (to whichever key it decides on).
    """

    def __init__(self, client: S3Client, bucket: str, key: str, part_size: int) -> None:
        self._client = client
        self._bucket = bucket
        self.key = key
        self._part_size = part_size
        self._buffer = bytearray()
        self._upload_id: str | None = None
        self._parts: list[CompletedPartTypeDef] = []
        self.size = 0

    @property
    def multipart(self) -> bool:
        return self._upload_id is not None

    def write(self, data: ReadableBuffer) -> None:
        view = memoryview(data).cast("B")
        self.size += view.nbytes
        while view:
            # A full buffer is only sent once more data arrives, so uploads of at most
            # one part never start a multipart upload at all.
            if len(self._buffer) >= self._next_part_size():
                self._send_buffer()
            room = self._next_part_size() - len(self._buffer)
            self._buffer += view[:room]
            view = view[room:]

    def take_buffer(self) -> bytearray:
        """Hand over the whole content of an upload that never went multipart."""
        if self._upload_id is not None:
            raise RuntimeError("upload already went multipart")
        data, self._buffer = self._buffer, bytearray()
        return data

    def complete(self) -> None:
        if self._upload_id is None:
            raise RuntimeError("upload never went multipart")
        if self._buffer:
            self._send_buffer()
        with _s3_errors(f"cannot complete upload of {self.key}"):
            self._client.complete_multipart_upload(
                Bucket=self._bucket,
                Key=self.key,
                UploadId=self._upload_id,
                MultipartUpload={"Parts": self._parts},
            )
        self._upload_id = None

    def abort(self) -> None:
        """Discard uploaded parts; never raises, so the original error stays visible."""
        upload_id, self._upload_id = self._upload_id, None
        self._buffer = bytearray()
        if upload_id is None:
            return
        try:
            self._client.abort_multipart_upload(
                Bucket=self._bucket, Key=self.key, UploadId=upload_id
            )
        except (ClientError, BotoCoreError):
            logger.warning(
                "could not abort multipart upload %s of %s; purge_stale_temp will retry",
                upload_id,
                self.key,
                exc_info=True,
            )

    def _next_part_size(self) -> int:
        return part_size_for(len(self._parts) + 1, self._part_size)

    def _send_buffer(self) -> None:
        """Upload the buffer as the next part, handing it over to botocore without a copy."""
        part_number = len(self._parts) + 1
        if part_number > MAX_PARTS:
            raise BlobTooLarge(f"upload of {self.key} exceeds S3's {MAX_PARTS}-part limit")
        if self._upload_id is None:
            with _s3_errors(f"cannot start upload of {self.key}"):
                created = self._client.create_multipart_upload(Bucket=self._bucket, Key=self.key)
            self._upload_id = created["UploadId"]
        body, self._buffer = self._buffer, bytearray()
        with _s3_errors(f"cannot upload part {part_number} of {self.key}"):
            response = self._client.upload_part(
                Bucket=self._bucket,
                Key=self.key,
                UploadId=self._upload_id,
                PartNumber=part_number,
                Body=_as_body(body),
                ContentMD5=_content_md5(body),
            )
        self._parts.append({"ETag": response["ETag"], "PartNumber": part_number})


class _UploadWriter(io.RawIOBase):
    """The write-only, non-seekable file handed out by :meth:`S3ObjectStore.writer`."""

    def __init__(self, upload: _Upload) -> None:
        super().__init__()
        self._upload = upload

    def writable(self) -> bool:
        return True

    def write(self, b: ReadableBuffer, /) -> int:
        if self.closed:
            raise ValueError("write to closed file")
        view = memoryview(b)
        self._upload.write(view)
        return view.nbytes

    def tell(self) -> int:
        # tarfile asks for the position when it is given a file object.
        return self._upload.size


class _S3Area:
    """Machinery shared by both S3 stores: keys, ranged reads, heads, deletes."""

    def __init__(
        self,
        client: S3Client,
        bucket: str,
        prefix: str = "",
        *,
        chunk_size: int = CHUNK_SIZE,
        part_size: int = PART_SIZE,
    ) -> None:
        if chunk_size <= 0:
            raise ValueError("chunk_size must be positive")
        if part_size < 5 * 1024 * 1024:
            raise ValueError("S3 parts must be at least 5 MiB")
        self._client = client
        self._bucket = bucket
        self._prefix = _normalise_prefix(prefix)
        self._chunk_size = chunk_size
        self._part_size = part_size

    @property
    def bucket(self) -> str:
        return self._bucket

    @property
    def prefix(self) -> str:
        return self._prefix

    def _put_small(self, key: str, data: bytes | bytearray) -> None:
        with _s3_errors(f"cannot store {key}"):
            self._client.put_object(
                Bucket=self._bucket, Key=key, Body=_as_body(data), ContentMD5=_content_md5(data)
            )

    def _head_size(self, key: str, what: str) -> int:
        with _s3_errors(f"cannot stat {what}"):
            try:
                response = self._client.head_object(Bucket=self._bucket, Key=key)
            except ClientError as exc:
                if _error_code(exc) in _NOT_FOUND_CODES:
                    raise BlobNotFound(f"{what} not found") from exc
                raise
        return response["ContentLength"]

    def _exists_key(self, key: str, what: str) -> bool:
        try:
            self._head_size(key, what)
        except BlobNotFound:
            return False
        return True

    def _delete_key(self, key: str, what: str) -> None:
        with _s3_errors(f"cannot delete {what}"):
            self._client.delete_object(Bucket=self._bucket, Key=key)

    def _open_key(self, key: str, start: int, end: int | None, what: str) -> ChunkStream:
        check_range(start, end)
        if end == start:
            # Nothing to fetch, but a missing blob must still be reported as missing.
            self._head_size(key, what)
            return empty_stream()
        with _s3_errors(f"cannot open {what}"):
            try:
                if start == 0 and end is None:
                    response = self._client.get_object(Bucket=self._bucket, Key=key)
                else:
                    last = "" if end is None else str(end - 1)
                    response = self._client.get_object(
                        Bucket=self._bucket, Key=key, Range=f"bytes={start}-{last}"
                    )
            except ClientError as exc:
                code = _error_code(exc)
                if code in _NOT_FOUND_CODES:
                    raise BlobNotFound(f"{what} not found") from exc
                if code == "InvalidRange":
                    # S3 only says this for existing objects: start lies past the end.
                    return empty_stream()
                raise
        body = response["Body"]
        return ChunkStream(self._iter_body(body, what), body.close)

    def _iter_body(self, body: StreamingBody, what: str) -> Iterator[bytes]:
        try:
            for chunk in body.iter_chunks(self._chunk_size):
                if chunk:
                    yield chunk
        except BotoCoreError as exc:
            raise StorageUnavailable(f"reading {what} failed: {exc}") from exc

    def _abort_stale_uploads(self, prefix: str, cutoff: datetime) -> int:
        aborted = 0
        paginator = self._client.get_paginator("list_multipart_uploads")
        with _s3_errors("cannot list multipart uploads"):
            for page in paginator.paginate(Bucket=self._bucket, Prefix=prefix):
                for upload in page.get("Uploads", []):
                    if upload["Initiated"] <= cutoff:
                        self._client.abort_multipart_upload(
                            Bucket=self._bucket, Key=upload["Key"], UploadId=upload["UploadId"]
                        )
                        aborted += 1
        return aborted


class S3BlobStore(_S3Area):
    """Content-addressed blobs at ``<prefix>blobs/<digest>``."""

    def __init__(
        self,
        client: S3Client,
        bucket: str,
        prefix: str = "",
        *,
        chunk_size: int = CHUNK_SIZE,
        part_size: int = PART_SIZE,
        max_copy_size: int = MAX_COPY_SIZE,
        copy_part_size: int = COPY_PART_SIZE,
    ) -> None:
        super().__init__(client, bucket, prefix, chunk_size=chunk_size, part_size=part_size)
        if not 5 * 1024 * 1024 <= copy_part_size <= MAX_COPY_SIZE:
            raise ValueError("copy_part_size must be between 5 MiB and 5 GiB")
        self._max_copy_size = max_copy_size
        self._copy_part_size = copy_part_size
        self._blob_prefix = f"{self._prefix}blobs/"
        self._tmp_prefix = f"{self._prefix}tmp/"

    def key_for(self, sha256: str) -> str:
        return self._blob_prefix + validate_digest(sha256)

    def put_stream(
        self,
        source: BinaryIO | Iterable[bytes],
        *,
        max_size: int | None = None,
        expected_sha256: str | None = None,
    ) -> BlobInfo:
        expected = validate_digest(expected_sha256) if expected_sha256 is not None else None
        if max_size is not None and max_size < 0:
            raise ValueError("max_size must be >= 0")
        upload = _Upload(
            self._client, self._bucket, f"{self._tmp_prefix}{uuid.uuid4().hex}", self._part_size
        )
        hasher = hashlib.sha256()
        try:
            for chunk in iter_source(source, self._chunk_size):
                if max_size is not None and upload.size + len(chunk) > max_size:
                    raise BlobTooLarge(f"blob exceeds the limit of {max_size} bytes")
                hasher.update(chunk)
                upload.write(chunk)
            digest = hasher.hexdigest()
            if expected is not None and digest != expected:
                raise ChecksumMismatch(f"content hashes to {digest}, expected {expected}")
            info = BlobInfo(sha256=digest, size=upload.size)
            final = self.key_for(digest)
            if not upload.multipart:
                # Small: the digest is known before anything was sent, so go straight to
                # the final key. Re-putting an existing blob costs the same single request
                # as checking for it, and refreshes its LastModified for the GC's grace
                # period.
                self._put_small(final, upload.take_buffer())
                return info
            if self._exists_key(final, f"blob {digest}"):
                upload.abort()  # dedupe: the parts were never visible anywhere
                return info
            upload.complete()
        except BaseException:
            upload.abort()
            raise
        try:
            self._copy(upload.key, final, upload.size)
        finally:
            self._delete_temp(upload.key)
        return info

    def open(self, sha256: str, start: int = 0, end: int | None = None) -> ChunkStream:
        return self._open_key(self.key_for(sha256), start, end, f"blob {sha256}")

    def size(self, sha256: str) -> int:
        return self._head_size(self.key_for(sha256), f"blob {sha256}")

    def exists(self, sha256: str) -> bool:
        return self._exists_key(self.key_for(sha256), f"blob {sha256}")

    def delete(self, sha256: str) -> None:
        self._delete_key(self.key_for(sha256), f"blob {sha256}")

    def iter_blobs(self) -> Iterator[StoredItem]:
        paginator = self._client.get_paginator("list_objects_v2")
        with _s3_errors("cannot list blobs"):
            for page in paginator.paginate(Bucket=self._bucket, Prefix=self._blob_prefix):
                for item in page.get("Contents", []):
                    name = item["Key"][len(self._blob_prefix) :]
                    try:
                        validate_digest(name)
                    except InvalidKey:
                        continue  # not ours (someone else's junk under the prefix)
                    yield StoredItem(
                        key=name,
                        size=item["Size"],
                        modified_at=item["LastModified"].astimezone(UTC),
                    )

    def purge_stale_temp(self, older_than: timedelta) -> int:
        """Remove temp objects and multipart uploads orphaned by crashed writers.

        Returns how many were removed. Only state older than ``older_than`` is touched,
        so uploads in progress elsewhere are left alone.
        """
        cutoff = datetime.now(UTC) - older_than
        removed = self._abort_stale_uploads(self._tmp_prefix, cutoff)
        paginator = self._client.get_paginator("list_objects_v2")
        with _s3_errors("cannot list temp objects"):
            for page in paginator.paginate(Bucket=self._bucket, Prefix=self._tmp_prefix):
                for item in page.get("Contents", []):
                    if item["LastModified"] <= cutoff:
                        self._client.delete_object(Bucket=self._bucket, Key=item["Key"])
                        removed += 1
        return removed

    def _copy(self, source_key: str, target_key: str, size: int) -> None:
        source: CopySourceTypeDef = {"Bucket": self._bucket, "Key": source_key}
        if size <= self._max_copy_size:
            with _s3_errors(f"cannot copy {source_key} to {target_key}"):
                self._client.copy_object(Bucket=self._bucket, Key=target_key, CopySource=source)
            return
        part_size = max(self._copy_part_size, -(-size // MAX_PARTS))
        with _s3_errors(f"cannot start copy to {target_key}"):
            upload_id = self._client.create_multipart_upload(Bucket=self._bucket, Key=target_key)[
                "UploadId"
            ]
        try:
            parts: list[CompletedPartTypeDef] = []
            for offset in range(0, size, part_size):
                last = min(offset + part_size, size) - 1
                with _s3_errors(f"cannot copy part of {source_key} to {target_key}"):
                    response = self._client.upload_part_copy(
                        Bucket=self._bucket,
                        Key=target_key,
                        UploadId=upload_id,
                        PartNumber=len(parts) + 1,
                        CopySource=source,
                        CopySourceRange=f"bytes={offset}-{last}",
                    )
                parts.append(
                    {"ETag": response["CopyPartResult"]["ETag"], "PartNumber": len(parts) + 1}
                )
            with _s3_errors(f"cannot complete copy to {target_key}"):
                self._client.complete_multipart_upload(
                    Bucket=self._bucket,
                    Key=target_key,
                    UploadId=upload_id,
                    MultipartUpload={"Parts": parts},
                )
        except BaseException:
            try:
                self._client.abort_multipart_upload(
                    Bucket=self._bucket, Key=target_key, UploadId=upload_id
                )
            except (ClientError, BotoCoreError):
                logger.warning("could not abort copy upload %s", upload_id, exc_info=True)
            raise

    def _delete_temp(self, key: str) -> None:
        """Best effort: a leftover temp object is harmless and purged later."""
        try:
            self._client.delete_object(Bucket=self._bucket, Key=key)
        except (ClientError, BotoCoreError):
            logger.warning("could not delete temp object %s", key, exc_info=True)


class S3ObjectStore(_S3Area):
    """Named objects (backup archives) at ``<prefix><key>``."""

    def key_for(self, key: str) -> str:
        return self._prefix + validate_object_key(key)

    @contextmanager
    def writer(self, key: str) -> Iterator[BinaryIO]:
        """Yield a write-only file; the object appears atomically on clean exit.

        Small objects become one PUT, large ones a multipart upload that is completed
        on success and aborted on any exception, so nothing partial is ever visible and
        an existing object under the same key survives a failed overwrite.
        """
        upload = _Upload(self._client, self._bucket, self.key_for(key), self._part_size)
        stream = _UploadWriter(upload)
        try:
            yield cast(BinaryIO, stream)
            stream.close()
            if upload.multipart:
                upload.complete()
            else:
                self._put_small(upload.key, upload.take_buffer())
        except BaseException:
            upload.abort()
            raise
        finally:
            stream.close()

    def put_stream(self, key: str, source: BinaryIO | Iterable[bytes]) -> int:
        size = 0
        with self.writer(key) as out:
            for chunk in iter_source(source, self._chunk_size):
                out.write(chunk)
                size += len(chunk)
        return size

    def open(self, key: str, start: int = 0, end: int | None = None) -> ChunkStream:
        return self._open_key(self.key_for(key), start, end, f"object {key!r}")

    def size(self, key: str) -> int:
        return self._head_size(self.key_for(key), f"object {key!r}")

    def exists(self, key: str) -> bool:
        return self._exists_key(self.key_for(key), f"object {key!r}")

    def delete(self, key: str) -> None:
        self._delete_key(self.key_for(key), f"object {key!r}")

    def free_bytes(self) -> int | None:
        return None  # S3 does not expose remaining capacity

    def local_path(self, key: str) -> Path | None:
        validate_object_key(key)
        return None

    def purge_stale_temp(self, older_than: timedelta) -> int:
        """Abort multipart uploads under this prefix orphaned by crashed writers."""
        return self._abort_stale_uploads(self._prefix, datetime.now(UTC) - older_than)

"""Use cases of storage buckets and files.

An upload happens in three steps so that no transaction stays open while bytes arrive:
`upload_target` reads the bucket's rules, `store_content` streams the bytes into the
blob store (outside any transaction), and `record_upload` references the blob and inserts
the row in the request's transaction (DESIGN §2.1: blob first, then the row).
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from cloudbox.blobstore import (
    BlobInfo,
    BlobNotFound,
    BlobStore,
    BlobStoreError,
    BlobTooLarge,
)
from cloudbox.blobstore import StorageFull as BlobStorageFull
from cloudbox.db.ids import new_id
from cloudbox.errors import InvalidInput
from cloudbox.files import blobrefs
from cloudbox.files import repository as repo
from cloudbox.files.errors import (
    BucketExists,
    BucketNotEmpty,
    BucketNotFound,
    FileContentMissing,
    FileNotFound,
    FileTooLarge,
    FileTypeNotAllowed,
    StorageFull,
    StorageUnavailable,
)
from cloudbox.files.models import File, StorageBucket
from cloudbox.files.paths import (
    check_folder_path,
    normalize_mime_type,
    sanitize_upload_name,
    type_allowed,
)

log = logging.getLogger(__name__)

_BUCKET_FIELDS = ("name", "description", "is_public", "max_file_size", "allowed_types")


# --- buckets -------------------------------------------------------------------------


def get_bucket(db: Session, project_id: int, name: str, *, lock: bool = False) -> StorageBucket:
    bucket = repo.get_bucket(db, project_id, name, lock=lock)
    if bucket is None:
        raise BucketNotFound(details={"bucket": name})
    return bucket


def list_buckets(project_id: int) -> Select[StorageBucket]:
    return repo.buckets_of_project(project_id)


def create_bucket(db: Session, project_id: int, fields: Mapping[str, Any]) -> StorageBucket:
    if repo.get_bucket(db, project_id, fields["name"]) is not None:
        raise BucketExists(details={"bucket": fields["name"]})
    bucket = StorageBucket(
        project_id=project_id,
        id=new_id(),
        name=fields["name"],
        description=fields.get("description", ""),
        is_public=fields.get("is_public", False),
        max_file_size=fields["max_file_size"],
        allowed_types=list(fields.get("allowed_types", [])),
    )
    db.add(bucket)
    _flush_unique(db, fields["name"])
    return bucket


def update_bucket(
    db: Session, project_id: int, name: str, changes: Mapping[str, Any]
) -> StorageBucket:
    bucket = get_bucket(db, project_id, name)
    new_name = changes.get("name")
    if (
        new_name is not None
        and new_name != bucket.name
        and repo.get_bucket(db, project_id, new_name) is not None
    ):
        raise BucketExists(details={"bucket": new_name})
    for key in _BUCKET_FIELDS:
        if key in changes:
            setattr(bucket, key, list(changes[key]) if key == "allowed_types" else changes[key])
    _flush_unique(db, bucket.name)
    return bucket


def delete_bucket(db: Session, project_id: int, name: str, *, force: bool) -> None:
    """Refuse to drop files implicitly; with ``force`` their rows go too and their blobs
    become collectable (never deleted inline)."""
    # Locked first: an upload recording a file in this bucket holds a share lock on it,
    # so the count below includes every file whose reference has been taken.
    bucket = get_bucket(db, project_id, name, lock=True)
    files = repo.count_files(db, project_id, bucket.id)
    if files and not force:
        raise BucketNotEmpty(details={"bucket": name, "file_count": files})
    if files:
        blobrefs.release_files(db, project_id, bucket.id)
        repo.delete_files_of_bucket(db, project_id, bucket.id)
    db.delete(bucket)
    db.flush()


def _flush_unique(db: Session, name: str) -> None:
    """A concurrent create can still win the race past our check; same answer."""
    try:
        db.flush()
    except IntegrityError as exc:
        raise BucketExists(details={"bucket": name}) from exc


# --- uploads -------------------------------------------------------------------------


@dataclass(frozen=True)
class UploadTarget:
    """A snapshot of the bucket's rules, taken before the body streams."""

    project_id: int
    bucket_id: str
    bucket_name: str
    max_file_size: int
    allowed_types: tuple[str, ...]


@dataclass(frozen=True)
class AcceptedPart:
    name: str
    mime_type: str


def upload_target(db: Session, project_id: int, bucket_name: str) -> UploadTarget:
    bucket = get_bucket(db, project_id, bucket_name)
    return UploadTarget(
        project_id=project_id,
        bucket_id=bucket.id,
        bucket_name=bucket.name,
        max_file_size=bucket.max_file_size,
        allowed_types=tuple(bucket.allowed_types),
    )


def accept_part(target: UploadTarget, filename: str, content_type: str | None) -> AcceptedPart:
    """Everything that can be checked from a file part's headers, before storing a byte."""
    try:
        mime_type = normalize_mime_type(content_type)
    except ValueError as exc:
        raise InvalidInput(str(exc), details={"field": "file"}) from exc
    if not type_allowed(mime_type, list(target.allowed_types)):
        raise FileTypeNotAllowed(
            details={"mime_type": mime_type, "allowed_types": list(target.allowed_types)}
        )
    try:
        name = sanitize_upload_name(filename)
    except ValueError as exc:
        raise InvalidInput(str(exc), details={"field": "file"}) from exc
    return AcceptedPart(name=name, mime_type=mime_type)


def folder_path_of(value: str | None) -> str:
    if value is None:
        return ""
    try:
        return check_folder_path(value)
    except ValueError as exc:
        raise InvalidInput(f"folder_path {exc}", details={"field": "folder_path"}) from exc


def store_content(blobs: BlobStore, chunks: Iterable[bytes], max_size: int) -> BlobInfo:
    """Stream bytes into the blob store (call it outside any transaction)."""
    try:
        return blobs.put_stream(chunks, max_size=max_size)
    except BlobTooLarge as exc:
        raise FileTooLarge(details={"max_file_size": max_size}) from exc
    except BlobStorageFull as exc:
        raise StorageFull() from exc
    except BlobStoreError as exc:
        log.warning("storing an upload failed: %s", exc)
        raise StorageUnavailable() from exc


def record_upload(
    db: Session,
    blobs: BlobStore,
    target: UploadTarget,
    *,
    name: str,
    folder_path: str,
    mime_type: str,
    blob: BlobInfo,
) -> File:
    if repo.share_bucket(db, target.project_id, target.bucket_id) is None:
        # Deleted while the body streamed; the stored blob is collected later.
        raise BucketNotFound(details={"bucket": target.bucket_name})
    blobrefs.acquire(db, blobs, blob.sha256, blob.size)
    row = File(
        project_id=target.project_id,
        id=new_id(),
        bucket_id=target.bucket_id,
        name=name,
        folder_path=folder_path,
        mime_type=mime_type,
        size=blob.size,
        sha256=blob.sha256,
    )
    db.add(row)
    db.flush()
    return row


# --- files ---------------------------------------------------------------------------


def list_files(
    db: Session, project_id: int, bucket_name: str, folder_path: str | None
) -> Select[File]:
    bucket = get_bucket(db, project_id, bucket_name)
    folder = None if folder_path is None else folder_path_of(folder_path)
    return repo.files_of_bucket(project_id, bucket.id, folder)


def get_file(db: Session, project_id: int, bucket_name: str, file_id: str) -> File:
    bucket = get_bucket(db, project_id, bucket_name)
    row = repo.get_file(db, project_id, bucket.id, file_id)
    if row is None:
        raise FileNotFound(details={"file_id": file_id})
    return row


def update_file(
    db: Session, project_id: int, bucket_name: str, file_id: str, changes: Mapping[str, Any]
) -> File:
    row = get_file(db, project_id, bucket_name, file_id)
    for key in ("name", "folder_path"):
        if key in changes:
            setattr(row, key, changes[key])
    db.flush()
    return row


def delete_file(db: Session, project_id: int, bucket_name: str, file_id: str) -> None:
    get_file(db, project_id, bucket_name, file_id)
    sha256 = repo.delete_file(db, project_id, file_id)
    if sha256 is None:
        raise FileNotFound(details={"file_id": file_id})
    blobrefs.release(db, sha256)


def open_content(
    blobs: BlobStore, file_id: str, sha256: str, start: int, end: int
) -> Iterator[bytes]:
    """Open ``[start, end)`` of a file's content; fails before any byte is sent."""
    try:
        return blobs.open(sha256, start, end)
    except BlobNotFound as exc:
        log.error("file %s references blob %s, which is missing from storage", file_id, sha256)
        raise FileContentMissing() from exc
    except BlobStoreError as exc:
        log.warning("opening blob %s failed: %s", sha256, exc)
        raise StorageUnavailable() from exc

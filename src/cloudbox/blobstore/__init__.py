"""Blob store: immutable content-addressed blobs plus an area for named objects.

Backends: local filesystem (:mod:`.local`) and S3 (:mod:`.s3`). The package is a
"tool": it imports nothing from the rest of CloudBox so any layer may depend on it.
The S3 backend is imported lazily by callers (``cloudbox.blobstore.s3``) because it
pulls in botocore.
"""

from cloudbox.blobstore.base import (
    CHUNK_SIZE,
    BlobInfo,
    BlobStore,
    ChunkStream,
    ObjectStore,
    StoredItem,
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
from cloudbox.blobstore.local import LocalBlobStore, LocalObjectStore

__all__ = [
    "CHUNK_SIZE",
    "BlobInfo",
    "BlobNotFound",
    "BlobStore",
    "BlobStoreError",
    "BlobTooLarge",
    "ChecksumMismatch",
    "ChunkStream",
    "InvalidKey",
    "LocalBlobStore",
    "LocalObjectStore",
    "ObjectStore",
    "StorageFull",
    "StorageUnavailable",
    "StoredItem",
    "validate_digest",
    "validate_object_key",
]

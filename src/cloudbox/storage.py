"""Builds the blob store and the archive store the settings ask for.

Local: blobs under `$CLOUDBOX_DATA_DIR/blobs`, archives under `BACKUP_DIR`. S3: one bucket,
blobs under `<prefix>blobs/` and archives under `<prefix>archives/` (separate prefixes, as
the stores require).
"""

from __future__ import annotations

from cloudbox.blobstore import BlobStore, ObjectStore
from cloudbox.blobstore.local import LocalBlobStore, LocalObjectStore
from cloudbox.config import ConfigError, Settings


def build_stores(settings: Settings) -> tuple[BlobStore, ObjectStore]:
    if settings.storage == "local":
        return LocalBlobStore(settings.blob_dir), LocalObjectStore(settings.resolved_backup_dir)
    from cloudbox.blobstore.factory import make_s3_client
    from cloudbox.blobstore.s3 import S3BlobStore, S3ObjectStore

    if not settings.s3_bucket:
        raise ConfigError("CLOUDBOX_S3_BUCKET must be set when CLOUDBOX_STORAGE=s3")
    client = make_s3_client(
        settings.s3_endpoint,
        settings.s3_region,
        settings.s3_access_key,
        settings.s3_secret_key.get_secret_value() if settings.s3_secret_key else None,
    )
    prefix = settings.s3_prefix
    if prefix and not prefix.endswith("/"):
        prefix += "/"
    return (
        S3BlobStore(client, settings.s3_bucket, f"{prefix}blobs/"),
        S3ObjectStore(client, settings.s3_bucket, f"{prefix}archives/"),
    )

"""Construction of the boto3 S3 client used by the S3 backend."""

from __future__ import annotations

from typing import TYPE_CHECKING

import boto3
from botocore.config import Config

if TYPE_CHECKING:
    from mypy_boto3_s3 import S3Client


def make_s3_client(
    endpoint_url: str | None,
    region: str,
    access_key: str | None,
    secret_key: str | None,
) -> S3Client:
    """Build an S3 client suited to both AWS and self-hosted S3-compatible servers.

    Choices made here, and why:

    * A private ``Session``: boto3's default session is not thread-safe to create
      clients from, and the server builds clients from worker threads.
    * Path-style addressing for custom endpoints: MinIO, Garage or moto rarely have
      wildcard DNS for virtual-host buckets.
    * Checksums only "when required": botocore's newer default (CRC32 trailers with
      aws-chunked encoding) is rejected by several S3-compatible servers. Integrity
      is kept by the backend sending Content-MD5 on every upload instead.
    * ``standard`` retries, so transient 5xx and throttling are retried with backoff.

    Without keys, boto3's usual credential chain applies (env vars, instance roles).
    """
    if (access_key is None) != (secret_key is None):
        raise ValueError("S3 access key and secret key must be given together")
    config = Config(
        region_name=region,
        signature_version="s3v4",
        s3={"addressing_style": "path" if endpoint_url else "auto"},
        retries={"max_attempts": 5, "mode": "standard"},
        connect_timeout=10,
        read_timeout=120,
        request_checksum_calculation="when_required",
        response_checksum_validation="when_required",
    )
    session = boto3.session.Session()
    return session.client(
        "s3",
        endpoint_url=endpoint_url or None,
        region_name=region,
        aws_access_key_id=access_key,
        aws_secret_access_key=secret_key,
        config=config,
    )

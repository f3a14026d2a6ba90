"""Pytest plugin providing a real S3-speaking endpoint.

By default it runs moto's standalone server in a subprocess: a genuine HTTP S3 API, so
tests exercise botocore, signing, multipart and ranges exactly as production does,
without mocking anything in-process. Point ``CLOUDBOX_S3_ENDPOINT`` (plus
``CLOUDBOX_S3_ACCESS_KEY``, ``CLOUDBOX_S3_SECRET_KEY``, ``CLOUDBOX_S3_REGION``) at
MinIO or real S3 to run the same tests against them.

If moto cannot start, S3 tests are skipped locally but fail loudly when ``CI=true``,
so a broken CI image can never silently skip the S3 half of the contract suite.
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, NoReturn

import pytest

from cloudbox.blobstore.factory import make_s3_client

if TYPE_CHECKING:
    from mypy_boto3_s3 import S3Client
    from mypy_boto3_s3.type_defs import ObjectIdentifierTypeDef

MOTO_ACCESS_KEY = "testing"
MOTO_SECRET_KEY = "testing"  # moto accepts any credentials
DEFAULT_REGION = "us-east-1"
STARTUP_TIMEOUT_S = 30.0


def _unavailable(message: str) -> NoReturn:
    if os.environ.get("CI") == "true":
        pytest.fail(f"S3 test endpoint unavailable on CI: {message}", pytrace=False)
    pytest.skip(f"S3 test endpoint unavailable: {message}")


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def _answers(url: str) -> bool:
    try:
        with urllib.request.urlopen(url, timeout=1) as response:
            return 200 <= int(response.status) < 500
    except urllib.error.HTTPError:
        return True  # any HTTP answer means the server is up
    except OSError:
        return False


def _log_tail(path: Path, limit: int = 2000) -> str:
    try:
        return path.read_text(errors="replace")[-limit:]
    except OSError:
        return "<no log>"


@pytest.fixture(scope="session")
def s3_endpoint(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """URL of an S3 endpoint for the whole session (external, or a moto subprocess)."""
    external = os.environ.get("CLOUDBOX_S3_ENDPOINT")
    if external:
        yield external
        return

    log_path = tmp_path_factory.mktemp("moto") / "moto-server.log"
    port = _free_port()
    endpoint = f"http://127.0.0.1:{port}"
    with log_path.open("wb") as log:
        try:
            process = subprocess.Popen(
                [sys.executable, "-m", "moto.server", "-H", "127.0.0.1", "-p", str(port)],
                stdout=log,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
            )
        except OSError as exc:
            _unavailable(f"cannot start moto server: {exc}")
        try:
            deadline = time.monotonic() + STARTUP_TIMEOUT_S
            while not _answers(endpoint + "/"):
                if process.poll() is not None:
                    _unavailable(
                        f"moto server exited with code {process.returncode}:\n{_log_tail(log_path)}"
                    )
                if time.monotonic() > deadline:
                    _unavailable(
                        f"moto server did not answer within {STARTUP_TIMEOUT_S:.0f}s:\n"
                        f"{_log_tail(log_path)}"
                    )
                time.sleep(0.1)
            yield endpoint
        finally:
            process.terminate()
            try:
                process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()


@pytest.fixture(scope="session")
def s3_client(s3_endpoint: str) -> S3Client:
    """A client built exactly like production builds it (``make_s3_client``)."""
    external = bool(os.environ.get("CLOUDBOX_S3_ENDPOINT"))
    access_key = os.environ.get("CLOUDBOX_S3_ACCESS_KEY") or (None if external else MOTO_ACCESS_KEY)
    secret_key = os.environ.get("CLOUDBOX_S3_SECRET_KEY") or (None if external else MOTO_SECRET_KEY)
    region = os.environ.get("CLOUDBOX_S3_REGION") or DEFAULT_REGION
    return make_s3_client(s3_endpoint, region, access_key, secret_key)


def _empty_bucket(client: S3Client, bucket: str) -> None:
    for uploads_page in client.get_paginator("list_multipart_uploads").paginate(Bucket=bucket):
        for upload in uploads_page.get("Uploads", []):
            client.abort_multipart_upload(
                Bucket=bucket, Key=upload["Key"], UploadId=upload["UploadId"]
            )
    for page in client.get_paginator("list_objects_v2").paginate(Bucket=bucket):
        keys: list[ObjectIdentifierTypeDef] = [
            {"Key": item["Key"]} for item in page.get("Contents", [])
        ]
        if keys:
            client.delete_objects(Bucket=bucket, Delete={"Objects": keys, "Quiet": True})


@pytest.fixture
def s3_bucket(s3_client: S3Client) -> Iterator[tuple[S3Client, str]]:
    """A fresh, uniquely named bucket, emptied and removed afterwards."""
    bucket = f"cloudbox-test-{uuid.uuid4().hex[:20]}"
    region = s3_client.meta.region_name
    if region and region != "us-east-1":
        s3_client.create_bucket(
            Bucket=bucket,
            CreateBucketConfiguration={"LocationConstraint": region},  # type: ignore[typeddict-item]
        )
    else:
        s3_client.create_bucket(Bucket=bucket)
    try:
        yield s3_client, bucket
    finally:
        _empty_bucket(s3_client, bucket)
        s3_client.delete_bucket(Bucket=bucket)

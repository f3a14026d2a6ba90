"""Upload, download and ranges, on the local blob store and on S3 (moto)."""

from __future__ import annotations

import os
import time
from datetime import timedelta
from typing import TYPE_CHECKING, Any

import pytest

from cloudbox.config import Settings
from cloudbox.files.gc import collect_garbage
from cloudbox.runtime import Runtime
from tests.files.helpers import base, counts, create_bucket, sha, upload, uploaded
from tests.plugins.api import Account, assert_error

if TYPE_CHECKING:
    from mypy_boto3_s3 import S3Client

CONTENT = os.urandom(300_000)


@pytest.fixture(params=["local", pytest.param("s3", marks=pytest.mark.integration)])
def settings(request: pytest.FixtureRequest, settings: Settings) -> Settings:
    """The plugin's settings, on local storage or on a fresh S3 bucket."""
    if request.param == "local":
        return settings
    client, bucket = request.getfixturevalue("s3_bucket")
    s3: S3Client = client
    return Settings(
        env="test",
        data_dir=settings.data_dir,
        database_url=settings.database_url,
        master_key=settings.master_key,
        storage="s3",
        s3_endpoint=request.getfixturevalue("s3_endpoint"),
        s3_bucket=bucket,
        s3_region=s3.meta.region_name,
        s3_access_key=os.environ.get("CLOUDBOX_S3_ACCESS_KEY", "testing"),
        s3_secret_key=os.environ.get("CLOUDBOX_S3_SECRET_KEY", "testing"),
        s3_prefix="files-test/",
    )


def content_url(pid: int, file_id: str) -> str:
    return f"{base(pid)}/buckets/docs/files/{file_id}/content"


def get(account: Account, url: str, **headers: str) -> Any:
    return account.client.get(url, headers={**account.headers, **headers})


def test_upload_download_and_ranges(
    account: Account, project: dict[str, Any], runtime: Runtime, settings: Settings
) -> None:
    assert runtime.settings.storage == settings.storage
    pid = project["id"]
    create_bucket(account, pid, "docs")
    created = uploaded(
        account, pid, "docs", CONTENT, filename="résumé final.pdf", mime_type="application/pdf"
    )
    assert created["checksum"] == f"sha256:{sha(CONTENT)}" and created["size"] == len(CONTENT)
    url = content_url(pid, created["id"])
    etag = f'"{sha(CONTENT)}"'

    full = get(account, url)
    assert full.status_code == 200
    assert full.content == CONTENT
    assert full.headers["content-type"] == "application/pdf"
    assert full.headers["content-length"] == str(len(CONTENT))
    assert full.headers["etag"] == etag and full.headers["accept-ranges"] == "bytes"
    assert full.headers["x-content-type-options"] == "nosniff"
    assert "filename*=UTF-8''r%C3%A9sum%C3%A9%20final.pdf" in full.headers["content-disposition"]
    assert "content-range" not in full.headers

    size = len(CONTENT)
    for header, start, end in (
        ("bytes=0-0", 0, 0),
        ("bytes=100-199", 100, 199),
        ("bytes=299990-", 299_990, size - 1),
        ("bytes=-10", size - 10, size - 1),
        ("bytes=-999999", 0, size - 1),
        ("bytes=299000-999999", 299_000, size - 1),
    ):
        part = get(account, url, Range=header)
        assert part.status_code == 206, (header, part.text)
        assert part.content == CONTENT[start : end + 1], header
        assert part.headers["content-range"] == f"bytes {start}-{end}/{size}"
        assert part.headers["content-length"] == str(end - start + 1)
        assert part.headers["etag"] == etag

    for header in (f"bytes={size}-", "bytes=400000-500000", "bytes=-0"):
        refused = get(account, url, Range=header)
        assert_error(refused, 416, "RANGE_NOT_SATISFIABLE")
        assert refused.headers["content-range"] == f"bytes */{size}"
    # ignored (full content): other units, multiple ranges, garbage, reversed
    for header in ("items=0-1", "bytes=0-1,5-6", "bytes=abc", "bytes=10-5"):
        ignored = get(account, url, Range=header)
        assert ignored.status_code == 200 and len(ignored.content) == size, header

    assert get(account, url, **{"If-None-Match": etag}).status_code == 304
    not_modified = get(account, url, **{"If-None-Match": f'"other", W/{etag}'})
    assert not_modified.status_code == 304 and not_modified.content == b""
    assert not_modified.headers["etag"] == etag
    assert get(account, url, **{"If-None-Match": '"other"'}).status_code == 200
    # If-Range: the range applies only while the content is the one the client has
    assert get(account, url, Range="bytes=0-9", **{"If-Range": etag}).status_code == 206
    stale = get(account, url, Range="bytes=0-9", **{"If-Range": '"old"'})
    assert stale.status_code == 200 and len(stale.content) == size


def test_dedupe_and_empty_file(account: Account, project: dict[str, Any], runtime: Runtime) -> None:
    pid = project["id"]
    create_bucket(account, pid, "docs")
    first = uploaded(account, pid, "docs", CONTENT, filename="one")
    second = uploaded(account, pid, "docs", CONTENT, filename="two")
    assert first["checksum"] == second["checksum"]
    assert counts(runtime)["stored"] == 1
    assert account.delete(f"{base(pid)}/buckets/docs/files/{first['id']}").status_code == 204
    assert get(account, content_url(pid, second["id"])).content == CONTENT

    empty = uploaded(account, pid, "docs", b"", filename="empty.txt", mime_type="text/plain")
    assert empty["size"] == 0 and empty["checksum"] == f"sha256:{sha(b'')}"
    response = get(account, content_url(pid, empty["id"]))
    assert response.status_code == 200 and response.content == b""
    assert response.headers["content-length"] == "0"
    assert_error(
        get(account, content_url(pid, empty["id"]), Range="bytes=0-"),
        416,
        ("RANGE_NOT_SATISFIABLE"),
    )


def test_size_limit_and_type_on_every_store(
    account: Account, project: dict[str, Any], runtime: Runtime
) -> None:
    pid = project["id"]
    create_bucket(account, pid, "docs", max_file_size=1000, allowed_types=["application/*"])
    assert uploaded(account, pid, "docs", b"a" * 1000)["size"] == 1000
    before = counts(runtime)
    assert_error(upload(account, pid, "docs", b"b" * 1001), 413, "FILE_TOO_LARGE")
    assert_error(
        upload(account, pid, "docs", b"c", mime_type="text/plain"), 415, "FILE_TYPE_NOT_ALLOWED"
    )
    assert counts(runtime) == before
    assert not runtime.blobs.exists(sha(b"b" * 1001))


def test_collection_on_every_store(
    account: Account, project: dict[str, Any], runtime: Runtime
) -> None:
    pid = project["id"]
    create_bucket(account, pid, "docs")
    kept = uploaded(account, pid, "docs", b"still referenced")
    dropped = uploaded(account, pid, "docs", b"no longer referenced")
    assert account.delete(f"{base(pid)}/buckets/docs/files/{dropped['id']}").status_code == 204
    orphan = runtime.blobs.put_stream([b"stored, never committed"]).sha256
    time.sleep(0.01)
    report = collect_garbage(runtime.db.transaction, runtime.blobs, timedelta(0))
    assert (report.unreferenced_deleted, report.orphans_deleted, report.errors) == (1, 1, 0)
    assert not runtime.blobs.exists(orphan)
    assert not runtime.blobs.exists(sha(b"no longer referenced"))
    assert get(account, content_url(pid, kept["id"])).content == b"still referenced"
    assert counts(runtime) == {"buckets": 1, "files": 1, "blobs": 1, "stored": 1}

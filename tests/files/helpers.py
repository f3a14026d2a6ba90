"""Helpers shared by the files tests: bucket and upload calls, row and blob counts."""

from __future__ import annotations

import hashlib
from typing import Any

from sqlalchemy import func, select

from cloudbox.files.models import Blob, File, StorageBucket
from cloudbox.runtime import Runtime
from tests.plugins.api import Account


def base(pid: int) -> str:
    return f"/api/projects/{pid}"


def create_bucket(account: Account, pid: int, name: str = "docs", **extra: Any) -> dict[str, Any]:
    response = account.post(f"{base(pid)}/buckets", json={"name": name, **extra})
    assert response.status_code == 201, response.text
    body: dict[str, Any] = response.json()
    return body


def upload(
    account: Account,
    pid: int,
    bucket: str,
    content: bytes,
    *,
    filename: str = "file.bin",
    mime_type: str = "application/octet-stream",
    folder_path: str | None = None,
) -> Any:
    data = {"folder_path": folder_path} if folder_path is not None else None
    return account.post(
        f"{base(pid)}/buckets/{bucket}/files",
        files={"file": (filename, content, mime_type)},
        data=data,
    )


def uploaded(account: Account, pid: int, bucket: str, content: bytes, **kw: Any) -> dict[str, Any]:
    response = upload(account, pid, bucket, content, **kw)
    assert response.status_code == 201, response.text
    body: dict[str, Any] = response.json()
    return body


def raw_upload(account: Account, pid: int, bucket: str, filename: bytes, content: bytes) -> Any:
    """Send a hand-built body, for filenames an HTTP client would escape."""
    boundary = b"cloudbox-test-boundary"
    body = (
        b"--" + boundary + b"\r\n"
        b'Content-Disposition: form-data; name="file"; filename="' + filename + b'"\r\n'
        b"Content-Type: application/octet-stream\r\n\r\n" + content + b"\r\n"
        b"--" + boundary + b"--\r\n"
    )
    return account.client.post(
        f"{base(pid)}/buckets/{bucket}/files",
        content=body,
        headers={
            **account.headers,
            "Content-Type": f"multipart/form-data; boundary={boundary.decode()}",
        },
    )


def sha(content: bytes) -> str:
    return hashlib.sha256(content).hexdigest()


def counts(runtime: Runtime) -> dict[str, int]:
    """Rows of every files table, and the physical blobs in the store."""
    with runtime.db.session() as db:
        result = {
            name: db.scalar(select(func.count()).select_from(model)) or 0
            for name, model in (("buckets", StorageBucket), ("files", File), ("blobs", Blob))
        }
    result["stored"] = sum(1 for _ in runtime.blobs.iter_blobs())
    return result


def refcount(runtime: Runtime, digest: str) -> int | None:
    with runtime.db.session() as db:
        return db.scalar(select(Blob.refcount).where(Blob.sha256 == digest))

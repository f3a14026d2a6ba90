"""What needs no server: error mapping, SSE decoding, download checks (mock transport)."""

from __future__ import annotations

import asyncio
import base64
import hashlib
import io
from pathlib import Path

import httpx
import pytest

from cloudbox_sdk import (
    AsyncCloudBox,
    BackupNotFound,
    ChecksumMismatch,
    CloudBox,
    CloudBoxError,
    Conflict,
    InsufficientPermissions,
    InvalidArchive,
    NotFound,
    StorageFull,
    UnsupportedBackupVersion,
    WaitTimeout,
    error_class_for,
)
from cloudbox_sdk._core import SSEDecoder
from cloudbox_sdk.errors import error_from_response


def _error(status: int, code: str) -> httpx.Response:
    body = {"error": {"code": code, "message": "m", "details": {"k": 1}}}
    return httpx.Response(status, json=body)


@pytest.mark.parametrize(
    ("code", "cls", "family"),
    [
        ("BACKUP_NOT_FOUND", BackupNotFound, NotFound),
        ("INSUFFICIENT_PERMISSIONS", InsufficientPermissions, CloudBoxError),
        ("BACKUP_INCOMPLETE", error_class_for("BACKUP_INCOMPLETE"), Conflict),
        ("STORAGE_FULL", StorageFull, CloudBoxError),
        ("UNSUPPORTED_BACKUP_VERSION", UnsupportedBackupVersion, InvalidArchive),
    ],
)
def test_codes_map_to_classes(code: str, cls: type[CloudBoxError], family: type) -> None:
    error = error_from_response(_error(400, code))
    assert type(error) is cls
    assert isinstance(error, family)
    assert (error.status, error.code, error.message, error.details) == (400, code, "m", {"k": 1})


def test_unknown_code_is_the_base_class() -> None:
    error = error_from_response(_error(418, "SOMETHING_NEW"))
    assert type(error) is CloudBoxError
    assert error.code == "SOMETHING_NEW"
    assert error_class_for("SOMETHING_NEW") is CloudBoxError


def test_a_body_that_is_not_the_envelope() -> None:
    error = error_from_response(httpx.Response(502, text="<html>Bad gateway</html>"))
    assert type(error) is CloudBoxError
    assert error.code == "HTTP_502"
    assert "Bad gateway" in error.message


def test_sse_decoder() -> None:
    decoder = SSEDecoder()
    lines = [
        "retry: 2000",
        "",
        ": keep-alive",
        "",
        "event: progress",
        'data: {"id": 1, "status": "creating", "percent": 5.0}',
        "",
        "event: status",
        "id: 7",
        'data: {"id": 1, "status": "completed",',
        'data:  "name": "x"}',
        "",
    ]
    events = [e for line in lines if (e := decoder.feed(line)) is not None]
    assert [e.event for e in events] == ["progress", "status"]
    assert events[0].progress is not None and events[0].progress.percent == 5.0
    assert events[0].backup is None
    assert events[1].data == {"id": 1, "status": "completed", "name": "x"}
    assert events[1].id == "7"


def _archive_transport(body: bytes, announced: bytes) -> httpx.MockTransport:
    digest = base64.b64encode(hashlib.sha256(announced).digest()).decode()

    def handler(request: httpx.Request) -> httpx.Response:
        return httpx.Response(
            200,
            content=body,
            headers={
                "Content-Type": "application/gzip",
                "Content-Disposition": 'attachment; filename="../../evil.tar.gz"',
                "Digest": f"sha-256={digest}",
                "Repr-Digest": f"sha-256=:{digest}:",
            },
        )

    return httpx.MockTransport(handler)


def test_download_refuses_a_body_that_does_not_match_its_digest(tmp_path: Path) -> None:
    transport = _archive_transport(b"tampered", announced=b"original")
    with (
        CloudBox("http://cloudbox.invalid", transport=transport) as client,
        pytest.raises(ChecksumMismatch) as info,
    ):
        client.backups.download(1, tmp_path)
    assert info.value.code == "CHECKSUM_MISMATCH"
    assert list(tmp_path.iterdir()) == []  # neither the file nor its temporary


def test_download_keeps_a_safe_file_name(tmp_path: Path) -> None:
    transport = _archive_transport(b"original", announced=b"original")
    with CloudBox("http://cloudbox.invalid", transport=transport) as client:
        result = client.backups.download(1, tmp_path)
    assert result.path == tmp_path / "evil.tar.gz"
    assert result.path.read_bytes() == b"original"


def test_async_download_refuses_a_mismatch() -> None:
    digest = base64.b64encode(hashlib.sha256(b"original").digest()).decode()

    async def handler(request: httpx.Request) -> httpx.Response:
        return httpx.Response(200, content=b"tampered", headers={"Digest": f"sha-256={digest}"})

    async def run() -> None:
        transport = httpx.MockTransport(handler)
        async with AsyncCloudBox("http://cloudbox.invalid", transport=transport) as client:
            with pytest.raises(ChecksumMismatch):
                await client.backups.download(1, io.BytesIO())

    asyncio.run(run())


_CREATING_BACKUP = {
    "id": 5,
    "name": "b",
    "status": "creating",
    "created_at": "2024-01-15T10:30:00Z",
    "project_id": 1,
}
_RUNNING_RESTORE = {
    "id": 9,
    "source_project_id": 1,
    "target_project_id": 1,
    "status": "running",
    "created_at": "2024-01-15T10:30:00Z",
}


def _never_done(request: httpx.Request) -> httpx.Response:
    body = _CREATING_BACKUP if "/backups/" in request.url.path else _RUNNING_RESTORE
    return httpx.Response(200, json=body)


def test_wait_for_completion_times_out() -> None:
    with CloudBox("http://cloudbox.invalid", transport=httpx.MockTransport(_never_done)) as client:
        seen: list[str] = []
        with pytest.raises(WaitTimeout) as backup_wait:
            client.backups.wait_for_completion(
                5, timeout=0.05, interval=0.01, on_progress=lambda b: seen.append(b.status)
            )
        with pytest.raises(WaitTimeout) as restore_wait:
            client.restores.wait_for_completion(9, timeout=0)
    assert isinstance(backup_wait.value, TimeoutError)
    assert backup_wait.value.code == "WAIT_TIMEOUT"
    assert backup_wait.value.details == {"backup_id": 5, "status": "creating"}
    assert len(seen) >= 2 and set(seen) == {"creating"}
    assert restore_wait.value.details == {"restore_id": 9, "status": "running"}


def test_async_wait_for_completion_times_out() -> None:
    async def handler(request: httpx.Request) -> httpx.Response:
        return _never_done(request)

    async def run() -> None:
        transport = httpx.MockTransport(handler)
        async with AsyncCloudBox("http://cloudbox.invalid", transport=transport) as client:
            with pytest.raises(WaitTimeout):
                await client.backups.wait_for_completion(5, timeout=0.05, interval=0.01)
            with pytest.raises(WaitTimeout):
                await client.restores.wait_for_completion(9, timeout=0)

    asyncio.run(run())

"""A 2 GiB upload and download through a real server with flat memory (DESIGN §2.4)."""

from __future__ import annotations

import hashlib
import os
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.plugins.rss import PeakRss
from tests.plugins.server import start_server

pytestmark = [pytest.mark.slow, pytest.mark.e2e]

MiB = 1024 * 1024
SIZE = 2 * 1024 * MiB
PEAK_RSS_LIMIT = 200 * 1000 * 1000
BOUNDARY = "cloudbox-large-upload-boundary"


def multipart_body(hasher: hashlib._Hash) -> Iterator[bytes]:
    """The form, built by hand: 2048 blocks of 1 MiB, each a random block stamped with its
    number (cheap to produce, yet no two blocks alike)."""
    yield (
        f"--{BOUNDARY}\r\n"
        'Content-Disposition: form-data; name="folder_path"\r\n\r\nbig\r\n'
        f"--{BOUNDARY}\r\n"
        'Content-Disposition: form-data; name="file"; filename="big.bin"\r\n'
        "Content-Type: application/octet-stream\r\n\r\n"
    ).encode()
    base = os.urandom(MiB)
    for number in range(SIZE // MiB):
        block = number.to_bytes(8, "big") + base[8:]
        hasher.update(block)
        yield block
    yield f"\r\n--{BOUNDARY}--\r\n".encode()


def test_two_gib_round_trip_with_flat_memory(tmp_path: Path) -> None:
    server = start_server(tmp_path / "server", env={"CLOUDBOX_GC_INTERVAL_SECONDS": "0"})
    try:
        with httpx.Client(base_url=server.base_url, timeout=httpx.Timeout(600)) as http:
            registered = http.post(
                "/api/auth/register",
                json={"email": "big@example.com", "password": "big-file-pass", "name": "Big"},
            )
            assert registered.status_code == 201, registered.text
            http.headers["Authorization"] = f"Bearer {registered.json()['token']}"
            pid = http.post("/api/projects", json={"name": "Big"}).json()["id"]
            bucket = http.post(f"/api/projects/{pid}/buckets", json={"name": "big"})
            assert bucket.status_code == 201, bucket.text

            sent = hashlib.sha256()
            # the server's own memory: its job worker child idles through an upload
            with PeakRss(server.process.pid, largest=True) as memory:
                created = http.post(
                    f"/api/projects/{pid}/buckets/big/files",
                    content=multipart_body(sent),
                    headers={"Content-Type": f"multipart/form-data; boundary={BOUNDARY}"},
                )
                assert created.status_code == 201, created.text
                body = created.json()
                assert body["size"] == SIZE and body["folder_path"] == "big"
                assert body["checksum"] == f"sha256:{sent.hexdigest()}"

                received = hashlib.sha256()
                length = 0
                url = f"/api/projects/{pid}/buckets/big/files/{body['id']}/content"
                with http.stream("GET", url) as download:
                    assert download.status_code == 200
                    assert download.headers["content-length"] == str(SIZE)
                    for chunk in download.iter_bytes(MiB):
                        received.update(chunk)
                        length += len(chunk)
            assert length == SIZE
            assert f"sha256:{received.hexdigest()}" == body["checksum"]
            assert memory.samples > 10
            assert memory.peak < PEAK_RSS_LIMIT, f"server peak RSS {memory.peak / 1e6:.0f} MB"
    finally:
        server.stop()

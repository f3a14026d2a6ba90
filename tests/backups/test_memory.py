"""Memory stays flat while a large project is backed up: 1 GiB of files and 200,000
documents through a `cloudbox worker` process on Redis, whose peak RSS must stay under
250 MB (the archive is streamed; nothing holds a section, file or archive whole)."""

from __future__ import annotations

import time
import uuid
from pathlib import Path

import httpx
import pytest

from tests.plugins.bulk import insert_documents, upload_streamed
from tests.plugins.rss import PeakRss
from tests.plugins.server import redis_url_or_skip, start_server, start_worker

pytestmark = [pytest.mark.slow, pytest.mark.e2e, pytest.mark.integration]

FILES = 16
FILE_SIZE = 64 * 2**20  # 16 x 64 MiB = 1 GiB
DOCUMENTS = 200_000


def test_backup_of_a_large_project_keeps_worker_memory_flat(tmp_path: Path) -> None:
    env = {
        "CLOUDBOX_REDIS_URL": redis_url_or_skip(),
        "CLOUDBOX_QUEUE_NAME": f"mem-{uuid.uuid4().hex}",
        "CLOUDBOX_JOB_PROGRESS_INTERVAL_SECONDS": "0.5",
    }
    data_dir = tmp_path / "data"
    server = start_server(data_dir, env)
    worker = start_worker(data_dir, env)
    try:
        with httpx.Client(base_url=server.base_url, timeout=600) as client:
            token = client.post(
                "/api/auth/register",
                json={"email": "big@example.com", "password": "big-password", "name": "B"},
            ).json()["token"]
            client.headers["Authorization"] = f"Bearer {token}"
            pid = client.post("/api/projects", json={"name": "Big"}).json()["id"]
            client.post(f"/api/projects/{pid}/collections", json={"name": "big"})
            client.post(f"/api/projects/{pid}/buckets", json={"name": "media"})
            for n in range(FILES):
                upload_streamed(
                    client, f"/api/projects/{pid}/buckets/media/files", f"f{n}.bin", FILE_SIZE, n
                )
            insert_documents(f"sqlite:///{data_dir / 'cloudbox.db'}", pid, "big", DOCUMENTS)

            with PeakRss(worker.pid) as rss:
                backup = client.post(f"/api/projects/{pid}/backups", json={"name": "big"}).json()
                deadline = time.monotonic() + 900
                while time.monotonic() < deadline:
                    backup = client.get(f"/api/backups/{backup['id']}").json()
                    if backup["status"] != "creating":
                        break
                    time.sleep(0.5)
            assert backup["status"] == "completed", backup
            assert backup["sections"]["documents"] == DOCUMENTS
            assert backup["sections"]["files"] == FILES
            assert backup["size"] > FILES * FILE_SIZE * 0.9  # random bytes do not compress
    finally:
        worker.terminate()
        worker.wait(30)
        server.stop()
    print(f"worker peak RSS {rss.peak_mb:.0f} MB")
    assert rss.peak_mb < 250, f"worker peak RSS {rss.peak_mb:.0f} MB"

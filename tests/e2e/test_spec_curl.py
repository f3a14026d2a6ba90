"""The specification's curl examples, run as written against a live server: only the
host, the token and the backup id (123 in the spec) are substituted."""

from __future__ import annotations

import json
import os
import re
import subprocess
import time
from pathlib import Path

import httpx
import pytest

from tests.plugins.server import ServerProcess

pytestmark = pytest.mark.e2e

SPEC = Path(__file__).resolve().parents[3] / "shared" / "spec" / "backup-and-restore.md"


def curl_examples() -> list[str]:
    if not SPEC.exists():
        if os.environ.get("CI", "").lower() == "true":
            pytest.fail(f"the specification is missing at {SPEC}")
        pytest.skip(f"the specification is not at {SPEC}")
    blocks = re.findall(r"```bash\n(.*?)```", SPEC.read_text(), re.S)
    return [block for block in blocks if re.search(r"^curl ", block, re.M)]


def run(command: str, server: ServerProcess, token: str, backup_id: int) -> tuple[int, object]:
    command = command.replace("http://localhost:8080", server.base_url)
    command = command.replace("YOUR_TOKEN", token).replace(
        "/backups/123/", f"/backups/{backup_id}/"
    )
    command = re.sub(r"^curl ", "curl -s -w '\\n%{http_code}' ", command, count=1, flags=re.M)
    out = subprocess.run(
        ["bash", "-c", command], capture_output=True, text=True, timeout=120, check=True
    ).stdout
    body, _, status = out.rpartition("\n")
    return int(status), json.loads(body)


def test_the_specs_curl_examples(server: ServerProcess) -> None:
    commands = curl_examples()
    assert len(commands) == 4, commands
    create, list_, restore_same, restore_other = commands
    with httpx.Client(base_url=server.base_url, timeout=30) as client:
        token = client.post(
            "/api/auth/register",
            json={"email": "spec@example.com", "password": "spec-password", "name": "S"},
        ).json()["token"]
        client.headers["Authorization"] = f"Bearer {token}"
        assert client.post("/api/projects", json={"name": "My Project"}).json()["id"] == 1
        assert client.post("/api/projects", json={"name": "Other"}).json()["id"] == 2
        client.post("/api/projects/1/collections", json={"name": "posts"})
        client.post(
            "/api/projects/1/collections/posts/documents", json={"id": "hello", "data": {"a": 1}}
        )

        status, backup = run(create, server, token, 0)
        assert status == 201 and isinstance(backup, dict)
        assert (
            backup["name"] == "Weekly Backup" and backup["description"] == "Automated weekly backup"
        )
        assert (
            backup["type"] == "manual"
            and backup["status"] == "creating"
            and backup["project_id"] == 1
        )
        deadline = time.monotonic() + 60
        while client.get(f"/api/backups/{backup['id']}").json()["status"] == "creating":
            assert time.monotonic() < deadline
            time.sleep(0.1)

        status, listed = run(list_, server, token, backup["id"])
        assert status == 200 and isinstance(listed, list) and listed[0]["id"] == backup["id"]
        assert listed[0]["status"] == "completed" and listed[0]["checksum"].startswith("sha256:")

        client.delete("/api/projects/1/collections/posts/documents/hello")
        status, answer = run(restore_same, server, token, backup["id"])
        assert status == 200
        assert answer == {
            **answer,
            "message": "Backup restore completed successfully",
            "target_project_id": 1,
        }
        assert client.get("/api/projects/1/collections/posts/documents/hello").status_code == 200

        status, answer = run(restore_other, server, token, backup["id"])
        assert status == 200 and isinstance(answer, dict)
        assert (
            answer["message"] == "Backup restore completed successfully"
            and answer["target_project_id"] == 2
        )
        assert client.get("/api/projects/2/collections/posts/documents/hello").json()["data"] == {
            "a": 1
        }

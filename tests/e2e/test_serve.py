from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import httpx
import pytest

from tests.plugins.api import MASTER_KEY
from tests.plugins.server import ServerProcess

pytestmark = pytest.mark.e2e


def test_serve_answers_health_and_a_full_flow(server: ServerProcess) -> None:
    health = httpx.get(f"{server.base_url}/api/health")
    assert health.status_code == 200 and health.json()["status"] == "ok"
    reg = httpx.post(
        f"{server.base_url}/api/auth/register",
        json={"email": "e2e@example.com", "password": "e2e-password", "name": "E2E"},
    )
    assert reg.status_code == 201
    headers = {"Authorization": f"Bearer {reg.json()['token']}"}
    created = httpx.post(f"{server.base_url}/api/projects", json={"name": "E2E"}, headers=headers)
    assert created.status_code == 201
    assert (server.data_dir / "cloudbox.db").exists()


def test_admin_create_user_then_login(server: ServerProcess) -> None:
    env = {**os.environ, "CLOUDBOX_DATA_DIR": str(server.data_dir), "MASTER_KEY": MASTER_KEY}
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "cloudbox.cli.main",
            "admin",
            "create-user",
            "--email",
            "Root@Example.com",
            "--password",
            "root-password",
            "--platform-admin",
        ],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 0, result.stderr
    assert "root@example.com" in result.stdout
    login = httpx.post(
        f"{server.base_url}/api/auth/login",
        json={"email": "root@example.com", "password": "root-password"},
    )
    assert login.status_code == 200 and login.json()["user"]["is_platform_admin"] is True
    again = subprocess.run(
        [
            sys.executable,
            "-m",
            "cloudbox.cli.main",
            "admin",
            "create-user",
            "--email",
            "root@example.com",
            "--password",
            "root-password",
        ],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert again.returncode != 0 and "already exists" in again.stderr


def test_production_without_master_key_refuses_to_start(tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if k not in ("MASTER_KEY", "CLOUDBOX_MASTER_KEY")}
    env.update({"CLOUDBOX_DATA_DIR": str(tmp_path), "CLOUDBOX_ENV": "production"})
    result = subprocess.run(
        [sys.executable, "-m", "cloudbox.cli.main", "serve", "--port", "1"],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode != 0 and "MASTER_KEY" in result.stderr


def test_db_upgrade_is_idempotent(tmp_path: Path) -> None:
    env = {**os.environ, "CLOUDBOX_DATA_DIR": str(tmp_path), "MASTER_KEY": MASTER_KEY}
    for _ in range(2):
        result = subprocess.run(
            [sys.executable, "-m", "cloudbox.cli.main", "db", "upgrade"],
            env=env,
            capture_output=True,
            text=True,
            timeout=60,
        )
        assert result.returncode == 0, result.stderr


def test_unwritable_backup_dir_is_a_clear_startup_error(tmp_path: Path) -> None:
    blocker = tmp_path / "not-a-directory"
    blocker.write_text("a file where BACKUP_DIR should be")
    env = {**os.environ, "CLOUDBOX_DATA_DIR": str(tmp_path / "data"), "MASTER_KEY": MASTER_KEY}
    env["BACKUP_DIR"] = str(blocker)
    result = subprocess.run(
        [sys.executable, "-m", "cloudbox.cli.main", "serve", "--port", "1"],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode != 0
    assert "storage is not usable" in result.stderr and str(blocker) in result.stderr
    assert "Traceback" not in result.stderr

"""A real `cloudbox serve` process for end-to-end tests."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest

from tests.plugins.api import MASTER_KEY


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


@dataclass
class ServerProcess:
    process: subprocess.Popen[bytes]
    base_url: str
    data_dir: Path
    log_path: Path

    def stop(self, sig: int = signal.SIGTERM) -> None:
        if self.process.poll() is None:
            self.process.send_signal(sig)
            try:
                self.process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")


def start_server(
    data_dir: Path, env: Mapping[str, str] | None = None, timeout: float = 30
) -> ServerProcess:
    port = free_port()
    data_dir.mkdir(parents=True, exist_ok=True)
    log_path = data_dir / f"server-{port}.log"
    full_env = {
        **os.environ,
        "CLOUDBOX_DATA_DIR": str(data_dir),
        "CLOUDBOX_PORT": str(port),
        "CLOUDBOX_HOST": "127.0.0.1",
        "MASTER_KEY": MASTER_KEY,
        **(env or {}),
    }
    with log_path.open("wb") as log:
        process = subprocess.Popen(
            [sys.executable, "-m", "cloudbox.cli.main", "serve"],
            env=full_env,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
    server = ServerProcess(process, f"http://127.0.0.1:{port}", data_dir, log_path)
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"server exited early:\n{server.log()}")
        try:
            if httpx.get(f"{server.base_url}/api/health", timeout=1).status_code == 200:
                return server
        except httpx.TransportError:
            pass
        time.sleep(0.1)
    server.stop()
    raise RuntimeError(f"server did not answer within {timeout}s:\n{server.log()}")


@pytest.fixture
def server(tmp_path: Path) -> Iterator[ServerProcess]:
    proc = start_server(tmp_path / "server")
    yield proc
    proc.stop()


def start_worker(data_dir: Path, env: Mapping[str, str]) -> subprocess.Popen[bytes]:
    """A `cloudbox worker` process sharing a server's data directory and queue."""
    full_env = {**os.environ, "CLOUDBOX_DATA_DIR": str(data_dir), "MASTER_KEY": MASTER_KEY, **env}
    with (data_dir / f"worker-{time.monotonic_ns()}.log").open("wb") as log:
        return subprocess.Popen(
            [sys.executable, "-m", "cloudbox.cli.main", "worker", "--workers", "2"],
            env=full_env,
            stdout=log,
            stderr=subprocess.STDOUT,
        )


def redis_url_or_skip() -> str:
    """A Redis database for queue tests; skipped without Redis except under CI=true."""
    import redis

    url = os.environ.get("CLOUDBOX_TEST_REDIS_URL", "redis://127.0.0.1:6379/0")
    try:
        redis.Redis.from_url(url, socket_connect_timeout=2).ping()
    except Exception as exc:  # noqa: BLE001 - any failure means "no Redis here"
        if os.environ.get("CI", "").lower() == "true":
            pytest.fail(f"Redis is required under CI=true but unavailable: {exc}")
        pytest.skip(f"Redis unavailable: {exc}")
    return url

"""Shared machinery of the bench: server and worker processes, an authenticated API
client, peak-RSS sampling, statistics and machine information.

Adapted from tests/plugins (server.py, rss.py): the bench must run without the test
suite, so it carries its own copies.
"""

from __future__ import annotations

import contextlib
import os
import platform
import shutil
import signal
import socket
import sqlite3
import statistics
import subprocess
import sys
import threading
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

import httpx
import psutil

#: a fixed key, so archives of one run restore in the same run (any value works)
MASTER_KEY = "bench-master-key-0123456789abcdef"
PASSWORD = "bench-password-0123"


class BenchError(RuntimeError):
    """The bench cannot go on (a job failed, a restored project differs, ...)."""


# -- processes ---------------------------------------------------------------------------


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def base_env() -> dict[str, str]:
    """The environment children inherit: ours minus anything that would change what
    they measure (GZIP options, a CloudBox configuration of the caller)."""
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith("CLOUDBOX_") and k not in ("GZIP", "BACKUP_DIR", "MASTER_KEY")
    }
    env.pop("PIGZ", None)
    return env


@dataclass
class Proc:
    process: subprocess.Popen[bytes]
    log_path: Path

    @property
    def pid(self) -> int:
        return self.process.pid

    def stop(self, timeout: float = 30) -> None:
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        else:
            self.process.wait()

    def log(self, tail: int = 4000) -> str:
        try:
            return self.log_path.read_text(errors="replace")[-tail:]
        except OSError:
            return ""


@dataclass
class Server(Proc):
    base_url: str = ""
    data_dir: Path = field(default_factory=Path)


def _spawn(args: list[str], env: Mapping[str, str], log_path: Path) -> subprocess.Popen[bytes]:
    with log_path.open("wb") as log:
        return subprocess.Popen(args, env=dict(env), stdout=log, stderr=subprocess.STDOUT)


def start_server(
    data_dir: Path, env: Mapping[str, str] | None = None, timeout: float = 60
) -> Server:
    """A `cloudbox serve` process (migrates its database first, as `serve` does)."""
    port = free_port()
    data_dir.mkdir(parents=True, exist_ok=True)
    log_path = data_dir / f"serve-{port}.log"
    full_env = {
        **base_env(),
        "CLOUDBOX_DATA_DIR": str(data_dir),
        "CLOUDBOX_PORT": str(port),
        "CLOUDBOX_HOST": "127.0.0.1",
        "MASTER_KEY": MASTER_KEY,
        # the collector would delete blobs of dropped restore targets mid-run
        "CLOUDBOX_GC_INTERVAL_SECONDS": "0",
        **(env or {}),
    }
    process = _spawn([sys.executable, "-m", "cloudbox.cli.main", "serve"], full_env, log_path)
    server = Server(process, log_path, f"http://127.0.0.1:{port}", data_dir)
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            process.wait()
            raise BenchError(f"cloudbox serve exited early:\n{server.log()}")
        try:
            if httpx.get(f"{server.base_url}/api/health/ready", timeout=1).status_code == 200:
                return server
        except httpx.TransportError:
            pass
        time.sleep(0.1)
    server.stop()
    raise BenchError(f"cloudbox serve did not answer within {timeout}s:\n{server.log()}")


def start_worker(data_dir: Path, env: Mapping[str, str], workers: int = 2) -> Proc:
    """A `cloudbox worker` process sharing a server's data directory and queue."""
    full_env = {
        **base_env(),
        "CLOUDBOX_DATA_DIR": str(data_dir),
        "MASTER_KEY": MASTER_KEY,
        "CLOUDBOX_GC_INTERVAL_SECONDS": "0",
        **env,
    }
    log_path = data_dir / f"worker-{time.monotonic_ns()}.log"
    process = _spawn(
        [sys.executable, "-m", "cloudbox.cli.main", "worker", "--workers", str(workers)],
        full_env,
        log_path,
    )
    time.sleep(0.5)
    if process.poll() is not None:
        process.wait()
        raise BenchError(f"cloudbox worker exited early:\n{log_path.read_text()[-4000:]}")
    return Proc(process, log_path)


# -- API ---------------------------------------------------------------------------------


def parse_ts(value: str) -> datetime:
    return datetime.fromisoformat(value.replace("Z", "+00:00"))


class Api:
    """An authenticated client of one server, speaking the public API only."""

    def __init__(self, base_url: str, email: str) -> None:
        self.client = httpx.Client(base_url=base_url, timeout=httpx.Timeout(30, read=None))
        response = self.client.post(
            "/api/auth/register", json={"email": email, "password": PASSWORD, "name": "Bench"}
        )
        if response.status_code != 201:
            response = self.client.post(
                "/api/auth/login", json={"email": email, "password": PASSWORD}
            )
        self.check(response, 200, 201)
        self.token: str = response.json()["token"]
        self.client.headers["Authorization"] = f"Bearer {self.token}"

    def close(self) -> None:
        self.client.close()

    @staticmethod
    def check(response: httpx.Response, *ok: int) -> Any:
        if response.status_code not in ok:
            raise BenchError(
                f"{response.request.method} {response.request.url.path} answered "
                f"{response.status_code}: {response.text[:2000]}"
            )
        return response.json() if response.content else None

    def post(self, url: str, ok: Sequence[int] = (200, 201), **kw: Any) -> Any:
        return self.check(self.client.post(url, **kw), *ok)

    def get(self, url: str, **kw: Any) -> Any:
        return self.check(self.client.get(url, **kw), 200)

    def delete(self, url: str) -> None:
        self.check(self.client.delete(url), 200, 204)

    def create_project(self, name: str) -> int:
        return int(self.post("/api/projects", json={"name": name})["id"])

    def backup(self, project_id: int, name: str, timeout: float = 7200) -> dict[str, Any]:
        """Request a backup and wait for it; `seconds` is the server's own request →
        `completed` time (created_at → completed_at), `wall_seconds` the client's."""
        start = time.perf_counter()
        created = self.post(f"/api/projects/{project_id}/backups", json={"name": name})
        deadline = time.monotonic() + timeout
        delay = 0.02
        while True:
            body: dict[str, Any] = self.get(f"/api/backups/{created['id']}")
            if body["status"] != "creating":
                break
            if time.monotonic() > deadline:
                raise BenchError(f"backup {created['id']} did not finish in {timeout}s")
            time.sleep(delay)
            delay = min(delay * 1.5, 0.1)
        wall = time.perf_counter() - start
        if body["status"] != "completed":
            raise BenchError(f"backup {body['id']} failed: {body.get('error')}")
        body["seconds"] = (
            parse_ts(body["completed_at"]) - parse_ts(body["created_at"])
        ).total_seconds()
        body["wall_seconds"] = wall
        return body

    def restore(
        self, backup_id: int, target_project_id: int, *, pre_restore_backup: bool = False
    ) -> dict[str, Any]:
        """Restore into `target_project_id` and wait (the spec's synchronous restore).
        The target is new and empty, so by default no pre-restore snapshot is taken."""
        start = time.perf_counter()
        response = self.client.post(
            f"/api/backups/{backup_id}/restore",
            json={
                "target_project_id": target_project_id,
                "wait": True,
                "pre_restore_backup": pre_restore_backup,
            },
        )
        wall = time.perf_counter() - start
        body: dict[str, Any] = self.check(response, 200)
        restore: dict[str, Any] = body["restore"]
        if restore["status"] != "completed":
            raise BenchError(f"restore {restore['id']} failed: {restore.get('error')}")
        restore["seconds"] = (
            parse_ts(restore["completed_at"]) - parse_ts(restore["created_at"])
        ).total_seconds()
        restore["wall_seconds"] = wall
        return restore


# -- memory ------------------------------------------------------------------------------


class PeakRss:
    """Peak resident memory of a process and its children, sampled in a thread.

    `peak` is the peak of their sum; `own_peak` and `children_peak` split it, because under
    `cloudbox serve` the jobs run in a `cloudbox worker` child (the job process) while the
    server itself only answers requests: each has its own peak, and the sum is what the
    machine pays.
    """

    def __init__(self, pid: int, interval: float = 0.02) -> None:
        self.process = psutil.Process(pid)
        self.interval = interval
        self.start = self.own_start = self.children_start = 0
        self.peak = self.own_peak = self.children_peak = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _sample_split(self) -> tuple[int, int]:
        own = int(self.process.memory_info().rss)
        children = 0
        for child in self.process.children(recursive=True):
            with contextlib.suppress(psutil.Error):
                children += int(child.memory_info().rss)
        return own, children

    def _sample(self) -> int:
        own, children = self._sample_split()
        return own + children

    def _record(self) -> None:
        own, children = self._sample_split()
        self.peak = max(self.peak, own + children)
        self.own_peak = max(self.own_peak, own)
        self.children_peak = max(self.children_peak, children)

    def _run(self) -> None:
        while not self._stop.wait(self.interval):
            try:
                self._record()
            except psutil.Error:
                return

    def __enter__(self) -> PeakRss:
        self.own_start, self.children_start = self._sample_split()
        self.start = self.own_start + self.children_start
        self.peak, self.own_peak, self.children_peak = (
            self.start,
            self.own_start,
            self.children_start,
        )
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join(5)
        with contextlib.suppress(psutil.Error):
            self._record()

    @property
    def peak_mb(self) -> float:
        return self.peak / 2**20

    @property
    def start_mb(self) -> float:
        return self.start / 2**20

    @property
    def own_peak_mb(self) -> float:
        return self.own_peak / 2**20

    @property
    def children_peak_mb(self) -> float:
        return self.children_peak / 2**20

    @property
    def job_peak_mb(self) -> float:
        """The process that ran the job: the worker child if there is one, else the
        process itself (jobs in its threads)."""
        return self.children_peak_mb if self.children_peak else self.own_peak_mb


# -- statistics --------------------------------------------------------------------------


def summary(values: Sequence[float]) -> dict[str, Any]:
    """Median with min-max of a metric's rounds."""
    if not values:
        return {"median": None, "min": None, "max": None, "rounds": []}
    return {
        "median": statistics.median(values),
        "min": min(values),
        "max": max(values),
        "rounds": list(values),
    }


def percentile(values: Sequence[float], q: float) -> float:
    """Nearest-rank percentile (q in 0..100)."""
    ordered = sorted(values)
    if not ordered:
        return float("nan")
    rank = max(1, min(len(ordered), int(-(-q * len(ordered) // 100))))
    return ordered[rank - 1]


# -- machine -----------------------------------------------------------------------------


def _first_line(args: list[str]) -> str | None:
    if shutil.which(args[0]) is None:
        return None
    try:
        out = subprocess.run(args, capture_output=True, text=True, timeout=10, check=False)
    except (OSError, subprocess.TimeoutExpired):
        return None
    text = (out.stdout or out.stderr).strip()
    return text.splitlines()[0] if text else None


def cpu_model() -> str:
    with contextlib.suppress(OSError):
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    return platform.processor() or "unknown"


def code_digest() -> dict[str, Any]:
    """Which CloudBox code ran: a digest of the package's sources (the bench never runs
    git; the tree may be changing under a shared checkout)."""
    import hashlib

    import cloudbox

    root = Path(cloudbox.__file__).resolve().parent
    digest = hashlib.sha256()
    newest = 0.0
    for path in sorted(root.rglob("*.py")):
        digest.update(str(path.relative_to(root)).encode() + b"\0" + path.read_bytes())
        newest = max(newest, path.stat().st_mtime)
    return {
        "sources_sha256": digest.hexdigest()[:16],
        "newest_source_mtime": datetime.fromtimestamp(newest)
        .astimezone()
        .isoformat(timespec="seconds"),
        "version": getattr(cloudbox, "__version__", None),
    }


def machine_info() -> dict[str, Any]:
    import isal
    import sqlalchemy

    mem = psutil.virtual_memory().total
    return {
        "nproc": os.cpu_count(),
        "cpu_model": cpu_model(),
        "memory_gib": round(mem / 2**30, 1),
        "python": platform.python_version(),
        "platform": platform.platform(),
        "sqlite": sqlite3.sqlite_version,
        "sqlalchemy": sqlalchemy.__version__,
        "isal": getattr(isal, "__version__", None),
        "tar": _first_line(["tar", "--version"]),
        "gzip": _first_line(["gzip", "--version"]),
        "pigz": _first_line(["pigz", "--version"]),
        "load_average_at_start": [round(x, 2) for x in os.getloadavg()],
    }

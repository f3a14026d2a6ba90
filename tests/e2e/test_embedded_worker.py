"""The embedded shape under `cloudbox serve`: jobs run in a supervised `cloudbox worker`
child process on the same SQLite queue, which is restarted when it dies and never
outlives the server."""

from __future__ import annotations

import re
import signal
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx
import psutil
import pytest

from tests.plugins.server import ServerProcess, start_server

pytestmark = pytest.mark.e2e

ENV = {"CLOUDBOX_JOB_PROGRESS_INTERVAL_SECONDS": "0.1", "CLOUDBOX_GC_INTERVAL_SECONDS": "0"}


def wait_for(condition: Callable[[], Any], timeout: float, what: str) -> Any:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = condition()
        if value:
            return value
        time.sleep(0.05)
    raise AssertionError(f"timed out after {timeout}s waiting for {what}")


def workers_of(server: ServerProcess) -> list[psutil.Process]:
    """The server's live `cloudbox worker` children."""
    found = []
    for child in psutil.Process(server.process.pid).children(recursive=True):
        try:
            if "worker" in child.cmdline() and child.status() != psutil.STATUS_ZOMBIE:
                found.append(child)
        except psutil.NoSuchProcess:
            continue
    return found


def the_worker(server: ServerProcess) -> psutil.Process:
    """The one worker child, once its consumer runs."""
    found = wait_for(lambda: workers_of(server), 30, "the worker child")
    assert len(found) == 1, found
    worker: psutil.Process = found[0]
    wait_for(lambda: consumer_started(server, worker.pid), 30, "the worker's consumer")
    return worker


def consumer_started(server: ServerProcess, pid: int) -> bool:
    return f"worker[{pid}] huey.consumer: Huey consumer started" in server.log()


def gone(pid: int) -> bool:
    try:
        return psutil.Process(pid).status() == psutil.STATUS_ZOMBIE
    except psutil.NoSuchProcess:
        return True


class Client:
    def __init__(self, server: ServerProcess) -> None:
        self.http = httpx.Client(base_url=server.base_url, timeout=30)
        token = self.http.post(
            "/api/auth/register",
            json={"email": "jobs@example.com", "password": "jobs-password", "name": "Jobs"},
        ).json()["token"]
        self.http.headers["Authorization"] = f"Bearer {token}"
        self.project = self.http.post("/api/projects", json={"name": "Jobs"}).json()["id"]
        self.http.post(f"/api/projects/{self.project}/collections", json={"name": "posts"})
        for n in range(20):
            self.http.post(
                f"/api/projects/{self.project}/collections/posts/documents",
                json={"id": f"d{n}", "data": {"n": n}},
            )

    def backup(self, name: str) -> dict[str, Any]:
        created = self.http.post(f"/api/projects/{self.project}/backups", json={"name": name})
        assert created.status_code == 201, created.text
        backup_id = created.json()["id"]

        def finished() -> dict[str, Any] | None:
            body: dict[str, Any] = self.http.get(f"/api/backups/{backup_id}").json()
            return body if body["status"] != "creating" else None

        body: dict[str, Any] = wait_for(finished, 60, f"backup {name}")
        return body

    def close(self) -> None:
        self.http.close()


def executed_by(server: ServerProcess) -> set[int]:
    """Pids of the processes whose log lines say they executed a task (the worker tags
    its lines in the server's log with its pid)."""
    return {int(m.group(1)) for m in re.finditer(r"worker\[(\d+)\] huey: Executing", server.log())}


def test_serve_runs_backups_in_a_worker_child_and_stops_it(tmp_path: Path) -> None:
    server = start_server(tmp_path / "data", ENV)
    try:
        worker = the_worker(server)
        assert worker.pid != server.process.pid
        assert worker.ppid() == server.process.pid
        client = Client(server)
        body = client.backup("in a child")
        client.close()
        assert body["status"] == "completed", body
        assert executed_by(server) == {worker.pid}
    finally:
        server.stop()
    assert "Application shutdown complete." in server.log()
    assert f"worker[{worker.pid}] huey.consumer: Consumer exiting." in server.log()
    assert gone(worker.pid), "the worker outlived the server"


def test_a_worker_that_dies_is_restarted_and_jobs_still_complete(tmp_path: Path) -> None:
    server = start_server(tmp_path / "data", ENV)
    try:
        first = the_worker(server)
        first.send_signal(signal.SIGKILL)
        wait_for(lambda: gone(first.pid), 10, "the killed worker to go")
        second = wait_for(
            lambda: [w for w in workers_of(server) if w.pid != first.pid], 30, "a new worker"
        )[0]
        assert f"job worker (pid {first.pid}) exited unexpectedly" in server.log()
        client = Client(server)
        body = client.backup("after a restart")
        client.close()
        assert body["status"] == "completed", body
        assert second.pid in executed_by(server)
    finally:
        server.stop()
    assert gone(second.pid)


def test_a_killed_server_takes_its_worker_with_it(tmp_path: Path) -> None:
    server = start_server(tmp_path / "data", ENV)
    try:
        worker = the_worker(server)  # past its start-up, so the parent-death signal ends it
    finally:
        server.stop(signal.SIGKILL)
    wait_for(lambda: gone(worker.pid), 10, "the orphaned worker to die")


def test_thread_mode_keeps_jobs_in_the_server(tmp_path: Path) -> None:
    server = start_server(tmp_path / "data", {**ENV, "CLOUDBOX_EMBEDDED_WORKER": "thread"})
    try:
        client = Client(server)
        body = client.backup("in a thread")
        client.close()
        assert body["status"] == "completed", body
        assert workers_of(server) == []
        assert executed_by(server) == set()
    finally:
        server.stop()

"""The Huey queue: SQLite-backed in the embedded shape, consumed by a `cloudbox worker`
child process that `cloudbox serve` supervises (or by threads of the server, for tests);
Redis-backed with `cloudbox worker` processes when CLOUDBOX_REDIS_URL is set."""

from __future__ import annotations

import asyncio
import contextlib
import ctypes
import logging
import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Sequence
from typing import Any

from huey import Huey, RedisHuey, SqliteHuey
from huey.consumer import Consumer

from cloudbox import clib
from cloudbox.config import Settings

log = logging.getLogger(__name__)

#: Polling back-off of every consumer. The SQLite queue cannot wake a consumer, so an idle
#: consumer's back-off bounds how long a new job waits before it starts (0.5 s made up
#: most of a small backup's time; Huey's default is 10 s). A poll is one small query on
#: jobs.db per worker thread, in the consuming process; Redis blocks instead of polling.
POLL_INITIAL_DELAY = 0.05
POLL_MAX_DELAY = 0.1


def build_queue(settings: Settings) -> Huey:
    if settings.redis_url:
        return RedisHuey(settings.queue_name, url=settings.redis_url, results=False, utc=True)
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    return SqliteHuey(
        settings.queue_name, filename=str(settings.data_dir / "jobs.db"), results=False, utc=True
    )


class EmbeddedConsumer(Consumer):  # type: ignore[misc]
    """A consumer run as threads of another process (the API server or a test).

    The host process owns signal handling, so the consumer installs none.
    """

    def _set_signal_handlers(self) -> None:
        return None


class QueueWorkers:
    """Starts and stops consumer threads for a queue."""

    def __init__(self, queue: Huey, workers: int, periodic: bool = True) -> None:
        self._consumer = EmbeddedConsumer(
            queue,
            workers=workers,
            worker_type="thread",
            periodic=periodic,
            initial_delay=POLL_INITIAL_DELAY,
            max_delay=POLL_MAX_DELAY,
            check_worker_health=False,
        )
        self._lock = threading.Lock()
        self._started = False

    def start(self) -> None:
        with self._lock:
            if not self._started:
                self._consumer.start()
                self._started = True

    def stop(self, timeout: float = 30) -> None:
        with self._lock:
            if not self._started:
                return
            self._consumer.stop(graceful=False)
            for _, thread in [
                *self._consumer.worker_threads,
                ("scheduler", self._consumer.scheduler),
            ]:
                thread.join(timeout)
            self._started = False


def run_worker(queue: Huey, workers: int, **kwargs: Any) -> None:
    """Run a standalone consumer in the foreground (`cloudbox worker`)."""
    options: dict[str, Any] = {
        "initial_delay": POLL_INITIAL_DELAY,
        "max_delay": POLL_MAX_DELAY,
        **kwargs,
    }
    consumer = queue.create_consumer(workers=workers, worker_type="thread", **options)
    consumer.run()


# -- the embedded consumer as a child process of `cloudbox serve` -----------------------

_PR_SET_PDEATHSIG = 1


def die_with_parent(parent_pid: int, poll_interval: float = 1.0) -> None:
    """Make this process (a supervised `cloudbox worker`) end when `parent_pid` does.

    A worker orphaned by a killed server would keep consuming the queue of a server
    that no longer exists, and a restarted server would start a second one next to it.
    On Linux the kernel kills us the moment the parent goes (PR_SET_PDEATHSIG); the
    parent may already have gone before we got here, hence the re-check; a watchdog
    thread covers other systems (and a missing libc).
    """
    if sys.platform.startswith("linux"):
        prctl = clib.function("prctl")
        if prctl is None:
            log.warning("prctl is unavailable; watching the parent process instead")
        elif prctl(_PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0) != 0:
            log.warning("prctl(PR_SET_PDEATHSIG) failed: errno %d", ctypes.get_errno())
    if os.getppid() != parent_pid:
        _parent_gone(parent_pid)

    def watch() -> None:
        while True:
            time.sleep(poll_interval)
            if os.getppid() != parent_pid:
                _parent_gone(parent_pid)

    threading.Thread(target=watch, name="parent-watch", daemon=True).start()


def _parent_gone(parent_pid: int) -> None:
    log.error("the server (pid %d) is gone; this worker stops with it", parent_pid)
    logging.shutdown()
    os._exit(1)


class ConsumerProcess:
    """Runs and supervises one `cloudbox worker` child process for `cloudbox serve`.

    A job's row loop in the server process would hold the GIL against requests and add
    its memory to the server's; in a child it competes only for CPU. The child reads the
    same environment (so the same settings and the same SQLite queue), leaves recovery
    to the server (`--no-recovery`: the server already runs it), and dies with the server
    (`--parent-pid`). If it exits on its own it is restarted after a growing delay.

    `start` must be called from a thread that lives as long as the server (its event
    loop): Linux sends the parent-death signal when the thread that forked the child
    ends, not the process.
    """

    def __init__(
        self,
        workers: int,
        *,
        stop_timeout: float = 10.0,
        first_restart_delay: float = 0.5,
        max_restart_delay: float = 30.0,
        stable_seconds: float = 30.0,
        check_interval: float = 0.25,
        command: Sequence[str] | None = None,
    ) -> None:
        self.workers = workers
        self.stop_timeout = stop_timeout
        self.first_restart_delay = first_restart_delay
        self.max_restart_delay = max_restart_delay
        self.stable_seconds = stable_seconds
        self.check_interval = check_interval
        self._command = list(command) if command is not None else None
        self._process: subprocess.Popen[bytes] | None = None
        self._started_at = 0.0
        self._watch: asyncio.Task[None] | None = None
        self.restarts = 0

    @property
    def pid(self) -> int | None:
        process = self._process
        return process.pid if process is not None and process.poll() is None else None

    def command(self) -> list[str]:
        if self._command is not None:
            return self._command
        return [
            sys.executable,
            "-m",
            "cloudbox.cli.main",
            "worker",
            "--workers",
            str(self.workers),
            "--no-recovery",
            "--parent-pid",
            str(os.getpid()),
        ]

    def _spawn(self) -> None:
        # Same environment and output streams as the server; a session of its own so a
        # terminal's Ctrl-C reaches only the server, which then stops the child itself.
        self._process = subprocess.Popen(self.command(), start_new_session=True)
        self._started_at = time.monotonic()
        log.info("job worker started (pid %d, %d threads)", self._process.pid, self.workers)

    async def start(self) -> None:
        if self._watch is not None:
            return
        self._spawn()
        self._watch = asyncio.create_task(self._supervise(), name="job-worker-supervisor")

    async def _supervise(self) -> None:
        delay = self.first_restart_delay
        while True:
            await asyncio.sleep(self.check_interval)
            process = self._process
            if process is None or (code := process.poll()) is None:
                continue
            if time.monotonic() - self._started_at >= self.stable_seconds:
                delay = self.first_restart_delay
            log.error(
                "job worker (pid %d) exited unexpectedly with code %s; restarting in %.2f s",
                process.pid,
                code,
                delay,
            )
            await asyncio.sleep(delay)
            delay = min(delay * 2, self.max_restart_delay)
            try:
                self._spawn()
                self.restarts += 1
            except OSError:
                log.exception("could not start the job worker; retrying")

    async def stop(self) -> None:
        """SIGTERM (the worker drops its jobs at once; recovery fails them), then SIGKILL
        if it has not exited within `stop_timeout`."""
        if self._watch is not None:
            self._watch.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._watch
            self._watch = None
        process, self._process = self._process, None
        if process is None or process.poll() is not None:
            return
        process.terminate()
        deadline = time.monotonic() + self.stop_timeout
        while process.poll() is None and time.monotonic() < deadline:
            await asyncio.sleep(0.05)
        if process.poll() is None:
            log.warning(
                "job worker (pid %d) ignored SIGTERM for %.0f s; killing it",
                process.pid,
                self.stop_timeout,
            )
            process.kill()
            await asyncio.to_thread(process.wait)

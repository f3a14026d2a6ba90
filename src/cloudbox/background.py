"""What a server process runs besides requests: the embedded shape's queue consumer (a
supervised `cloudbox worker` child process under `cloudbox serve`, threads of the server
in tests), the periodic recovery of interrupted jobs and the blob garbage collector
(every shape: both are safe to run from many processes at once)."""

from __future__ import annotations

import asyncio
import contextlib
import logging

from anyio import to_thread

from cloudbox.backups import service as backups
from cloudbox.files.gc import PeriodicGc, start_periodic_gc
from cloudbox.jobs.queue import ConsumerProcess, QueueWorkers
from cloudbox.restores import service as restores
from cloudbox.runtime import Runtime

log = logging.getLogger(__name__)


def recover_jobs(runtime: Runtime) -> None:
    backups.recover(runtime)
    restores.recover(runtime)


class Background:
    def __init__(self, runtime: Runtime) -> None:
        self.runtime = runtime
        settings = runtime.settings
        threads = settings.consumer_threads
        # Unset means thread: only `cloudbox serve` asks for a child process, so apps built
        # in-process (tests) keep consuming in their own threads.
        in_process = (settings.embedded_worker or "thread") == "process"
        self.workers = QueueWorkers(runtime.queue, threads) if threads and not in_process else None
        self.worker_process = ConsumerProcess(threads) if threads and in_process else None
        self._tasks: list[asyncio.Task[None]] = []
        self._gc: PeriodicGc | None = None

    async def start(self) -> None:
        await to_thread.run_sync(recover_jobs, self.runtime)
        if self.workers is not None:
            self.workers.start()
        if self.worker_process is not None:
            await self.worker_process.start()
        interval = self.runtime.settings.recovery_interval_seconds
        if interval > 0:
            self._tasks.append(asyncio.create_task(self._every(interval, recover_jobs)))
        self._gc = start_periodic_gc(self.runtime)  # None when CLOUDBOX_GC_INTERVAL_SECONDS=0

    async def _every(self, interval: float, job: object) -> None:
        while True:
            await asyncio.sleep(interval)
            try:
                await to_thread.run_sync(job, self.runtime)  # type: ignore[arg-type]
            except Exception:
                log.exception("periodic job failed")

    async def stop(self) -> None:
        if self._gc is not None:
            await self._gc.stop()
        for task in self._tasks:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
        if self.workers is not None:
            await to_thread.run_sync(self.workers.stop)
        if self.worker_process is not None:
            await self.worker_process.stop()

"""The Huey queue: SQLite-backed with consumer threads inside `cloudbox serve` by default,
Redis-backed with `cloudbox worker` processes when CLOUDBOX_REDIS_URL is set."""

from __future__ import annotations

import logging
import threading
from typing import Any

from huey import Huey, RedisHuey, SqliteHuey
from huey.consumer import Consumer

from cloudbox.config import Settings

log = logging.getLogger(__name__)


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
            initial_delay=0.05,
            max_delay=0.5,
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
    consumer = queue.create_consumer(workers=workers, worker_type="thread", **kwargs)
    consumer.run()

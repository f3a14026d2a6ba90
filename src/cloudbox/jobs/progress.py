"""Durable, rate-limited progress reporting with a heartbeat.

A job updates an in-memory `Progress`; a reporter thread writes it to the job's row at
most once per `interval` seconds through its own connection, bumping the heartbeat even
when progress stalls, and reads back the cancel flag. So progress writes never sit in the
job's long snapshot transaction, and a dead process is recognisable by its stale
heartbeat (DESIGN §2.8).
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field


@dataclass
class Progress:
    phase: str = "queued"
    items_done: int = 0
    items_total: int = 0
    bytes_done: int = 0
    bytes_total: int = 0
    #: archive bytes per second the job may move (CLOUDBOX_JOB_MAX_BYTES_PER_SECOND;
    #: 0: unlimited): a job that gets ahead sleeps in its own thread when it reports bytes,
    #: so a big backup or restore leaves disk and network to the rest of the server
    max_bytes_per_second: int = 0
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)
    _started: float = field(default_factory=lambda: time.monotonic(), repr=False)

    def update(self, **changes: int | str) -> None:
        with self._lock:
            for key, value in changes.items():
                setattr(self, key, value)
            done = self.bytes_done
        if "bytes_done" in changes:
            self._pace(done)

    def add(self, items: int = 0, nbytes: int = 0) -> None:
        with self._lock:
            self.items_done += items
            self.bytes_done += nbytes
            done = self.bytes_done
        if nbytes:
            self._pace(done)

    def _pace(self, bytes_done: int) -> None:
        if self.max_bytes_per_second <= 0:
            return
        ahead = bytes_done / self.max_bytes_per_second - (time.monotonic() - self._started)
        if ahead > 0:
            # at most a second per report, so cancellation checks stay frequent
            time.sleep(min(ahead, 1.0))

    def snapshot(self) -> dict[str, int | str]:
        with self._lock:
            return {
                "phase": self.phase,
                "items_done": self.items_done,
                "items_total": self.items_total,
                "bytes_done": self.bytes_done,
                "bytes_total": self.bytes_total,
            }

    @property
    def percent(self) -> float:
        return percent_of(self.snapshot())


def percent_of(values: dict[str, int | str]) -> float:
    """Bytes dominate when there are bytes; otherwise items. Never above 99.9 before
    the job itself says it is complete."""
    bytes_total = int(values.get("bytes_total", 0))
    items_total = int(values.get("items_total", 0))
    if bytes_total > 0:
        done = min(int(values.get("bytes_done", 0)), bytes_total) / bytes_total
    elif items_total > 0:
        done = min(int(values.get("items_done", 0)), items_total) / items_total
    else:
        done = 0.0
    return round(min(done * 100, 99.9), 1)


class Cancelled(Exception):
    """The job was asked to stop."""


class Reporter:
    """Runs `flush(snapshot) -> cancel_requested` every `interval` seconds in a thread."""

    def __init__(
        self,
        progress: Progress,
        flush: Callable[[dict[str, int | str]], bool],
        interval: float = 0.5,
    ) -> None:
        self.progress = progress
        self._flush = flush
        self._interval = interval
        self._stop = threading.Event()
        self._cancelled = threading.Event()
        self._paused = threading.Event()
        self._thread = threading.Thread(target=self._run, name="job-reporter", daemon=True)

    def __enter__(self) -> Reporter:
        self._safe_flush()
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join(timeout=10)

    def check_cancelled(self) -> None:
        if self._cancelled.is_set():
            raise Cancelled()

    @contextmanager
    def paused(self) -> Iterator[None]:
        """No flushes while the block runs; they resume after it.

        A SQLite restore's apply holds the database's only write lock until it commits: a
        flush meanwhile could only wait out the busy timeout and fail, logging an error
        every interval of a long restore. A flush already under way finishes.
        """
        self._paused.set()
        try:
            yield
        finally:
            self._paused.clear()

    def _run(self) -> None:
        while not self._stop.wait(self._interval):
            if not self._paused.is_set():
                self._safe_flush()

    def _safe_flush(self) -> None:
        try:
            if self._flush(self.progress.snapshot()):
                self._cancelled.set()
        except Exception:
            import logging

            logging.getLogger(__name__).exception("progress flush failed")

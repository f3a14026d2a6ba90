"""The job reporter: periodic flushes, cancellation, failures logged, and pauses (a SQLite
restore's apply holds the only write lock, so a flush then could only wait and fail)."""

from __future__ import annotations

import logging
import threading
import time

import pytest

from cloudbox.jobs.progress import Cancelled, Progress, Reporter

INTERVAL = 0.01


class Flushes:
    def __init__(self, cancel: bool = False, fail: bool = False) -> None:
        self.calls: list[dict[str, int | str]] = []
        self.cancel = cancel
        self.fail = fail
        self.lock = threading.Lock()

    def __call__(self, snapshot: dict[str, int | str]) -> bool:
        with self.lock:
            self.calls.append(snapshot)
        if self.fail:
            raise RuntimeError("database is locked")
        return self.cancel

    def count(self) -> int:
        with self.lock:
            return len(self.calls)


def _wait_for(predicate: object, timeout: float = 5.0) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():  # type: ignore[operator]
        if time.monotonic() > deadline:
            raise AssertionError("timed out")
        time.sleep(INTERVAL)


def test_flushes_on_entry_and_then_periodically() -> None:
    flushes = Flushes()
    progress = Progress(phase="starting")
    with Reporter(progress, flushes, INTERVAL):
        assert flushes.count() >= 1  # the entry flush is synchronous
        progress.update(phase="apply")
        _wait_for(lambda: any(c.get("phase") == "apply" for c in list(flushes.calls)))


def test_no_flush_while_paused_and_flushes_resume_after() -> None:
    flushes = Flushes()
    with Reporter(Progress(phase="starting"), flushes, INTERVAL) as reporter:
        with reporter.paused():
            time.sleep(INTERVAL * 3)  # a flush already under way may finish
            during = flushes.count()
            time.sleep(INTERVAL * 20)
            assert flushes.count() == during
        _wait_for(lambda: flushes.count() > during)


def test_a_flush_reporting_a_cancel_makes_check_cancelled_raise() -> None:
    reporter = Reporter(Progress(phase="starting"), Flushes(cancel=True), INTERVAL)
    with reporter, pytest.raises(Cancelled):
        reporter.check_cancelled()


def test_a_failing_flush_is_logged_and_the_job_goes_on(caplog: pytest.LogCaptureFixture) -> None:
    flushes = Flushes(fail=True)
    with caplog.at_level(logging.ERROR), Reporter(Progress(phase="a"), flushes, INTERVAL) as r:
        _wait_for(lambda: flushes.count() >= 2)
        r.check_cancelled()  # no cancel was reported
    assert any("progress flush failed" in rec.getMessage() for rec in caplog.records)

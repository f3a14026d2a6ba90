"""CLOUDBOX_JOB_MAX_BYTES_PER_SECOND: a job that reports bytes faster than the limit sleeps
in its own thread until it is back on pace (cloudbox.jobs.progress.Progress)."""

from __future__ import annotations

import pytest

from cloudbox.config import Settings
from cloudbox.jobs import progress as progress_module
from cloudbox.jobs.progress import Progress


class Clock:
    """A monotonic clock that only moves when the job sleeps."""

    def __init__(self) -> None:
        self.now = 100.0
        self.sleeps: list[float] = []

    def monotonic(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self.now += seconds


@pytest.fixture
def clock(monkeypatch: pytest.MonkeyPatch) -> Clock:
    fake = Clock()
    monkeypatch.setattr(progress_module.time, "monotonic", fake.monotonic)
    monkeypatch.setattr(progress_module.time, "sleep", fake.sleep)
    return fake


def test_a_job_ahead_of_its_limit_sleeps_back_to_pace(clock: Clock) -> None:
    progress = Progress(max_bytes_per_second=1_000_000)
    progress.add(nbytes=500_000)  # 0.5 s worth, at once
    assert clock.sleeps == [pytest.approx(0.5)]
    progress.update(bytes_done=3_500_000)  # 3 s ahead: at most 1 s per report
    assert clock.sleeps[-1] == pytest.approx(1.0)
    progress.add(nbytes=0, items=5)  # items alone never pace
    assert len(clock.sleeps) == 2
    clock.now += 10  # the job fell behind (slow disk): no sleep
    progress.add(nbytes=100)
    assert len(clock.sleeps) == 2
    assert progress.snapshot()["bytes_done"] == 3_500_100


def test_unlimited_by_default(clock: Clock) -> None:
    progress = Progress()
    progress.add(nbytes=10**12)
    progress.update(bytes_done=10**13, phase="x")
    assert clock.sleeps == []
    assert Settings(_env_file=None).job_max_bytes_per_second == 0  # type: ignore[call-arg]


def test_the_setting_refuses_negative_rates() -> None:
    with pytest.raises(ValueError, match="job_max_bytes_per_second"):
        Settings(_env_file=None, job_max_bytes_per_second=-1)  # type: ignore[call-arg]

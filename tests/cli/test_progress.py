"""The progress bar: its rendering, and `cloudbox backup create --wait` in a real
pseudo-terminal."""

from __future__ import annotations

import io
import json
import os
import pty
import re
import select
import subprocess
import sys
import time

import pytest

from cloudbox.cli.progress import ProgressBar, format_bytes, format_duration
from tests.cli.conftest import Cli, User, seed

RATE = re.compile(r"\d+(?:\.\d)? (?:B|KiB|MiB|GiB)/s")
PERCENT = re.compile(r"(\d+\.\d)%")


class FakeClock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def test_format_helpers() -> None:
    assert format_bytes(0) == "0 B"
    assert format_bytes(1536) == "1.5 KiB"
    assert format_bytes(5 * 2**30) == "5.0 GiB"
    assert format_duration(75) == "1:15"
    assert format_duration(3725) == "1:02:05"


@pytest.fixture(autouse=True)
def wide_terminal(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("COLUMNS", "200")


def test_tty_rendering_redraws_in_place() -> None:
    clock = FakeClock()
    out = io.StringIO()
    bar = ProgressBar("Download 1", out, tty=True, width=10, clock=clock)
    clock.now += 1
    bar.update(done=1024 * 1024, total=4 * 1024 * 1024)
    clock.now += 1
    bar.update(done=2 * 1024 * 1024)
    bar.finish()
    frames = out.getvalue().split("\r")[1:]
    assert len(frames) == 3
    assert frames[0].startswith("Download 1 [##--------]  25.0%  1.0 MiB / 4.0 MiB  1.0 MiB/s")
    assert "ETA 0:02" in frames[1]  # 2 MiB left at 1 MiB/s
    assert frames[2].startswith("Download 1 [##########] 100.0%  4.0 MiB / 4.0 MiB")
    assert frames[2].endswith("\n") and "in 0:02" in frames[2]


def test_a_narrow_terminal_gets_a_narrower_bar(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("COLUMNS", "60")
    out = io.StringIO()
    bar = ProgressBar("Backup 12", out, tty=True, clock=FakeClock())
    bar.update(percent=50.0, done=5 * 2**20, total=10 * 2**20, phase="section:documents")
    frame = out.getvalue().removeprefix("\r")
    assert len(frame) <= 59
    assert "50.0%" in frame and "/s" in frame


def test_job_percent_wins_over_bytes() -> None:
    out = io.StringIO()
    bar = ProgressBar("Backup 3", out, tty=True, width=10, clock=FakeClock())
    bar.update(percent=42.0, done=10, total=1000, phase="section:documents")
    assert " 42.0%" in out.getvalue() and "section:documents" in out.getvalue()


def test_plain_output_is_throttled_lines() -> None:
    clock = FakeClock()
    out = io.StringIO()
    bar = ProgressBar("Upload x", out, tty=False, clock=clock, plain_interval=1.0)
    for step in range(1, 40):
        clock.now += 0.01
        bar.update(done=step, total=1000)  # less than 10 %: one line only
    bar.update(done=500, total=1000)  # crosses 10 % steps
    bar.finish()
    lines = out.getvalue().splitlines()
    assert "\r" not in out.getvalue()
    assert len(lines) == 3
    assert lines[-1].startswith("Upload x [") and "100.0%" in lines[-1]


def test_a_failed_job_does_not_claim_100() -> None:
    out = io.StringIO()
    bar = ProgressBar("Backup 4", out, tty=True, clock=FakeClock())
    bar.update(percent=30.0)
    bar.finish(success=False)
    assert "100.0%" not in out.getvalue()
    assert out.getvalue().rstrip("\n").endswith(out.getvalue().split("\r")[-1].rstrip("\n"))


@pytest.mark.e2e
def test_backup_create_wait_in_a_pseudo_terminal(owner_cli: Cli, owner: User) -> None:
    """The acceptance check: a live bar, redrawn with carriage returns, with a
    percent and a rate, ending at 100 %."""
    project_id = owner.project("PTY")
    seed(owner, project_id, file_bytes=4 * 2**20)
    env = {
        key: value
        for key, value in {**os.environ, **owner_cli.environment()}.items()
        if value is not None
    }
    env["COLUMNS"] = "160"
    command = [
        sys.executable, "-m", "cloudbox.cli.main",
        "backup", "create", "--project", str(project_id), "--name", "in a terminal", "--wait",
    ]  # fmt: skip
    primary, secondary = pty.openpty()
    try:
        process = subprocess.Popen(
            command, stdin=secondary, stdout=secondary, stderr=secondary, env=env
        )
    finally:
        os.close(secondary)
    output = bytearray()
    deadline = time.monotonic() + 90
    try:
        while time.monotonic() < deadline:
            ready, _, _ = select.select([primary], [], [], 0.2)
            if ready:
                try:
                    chunk = os.read(primary, 65536)
                except OSError:  # EIO: the child closed the terminal
                    break
                if not chunk:
                    break
                output += chunk
            elif process.poll() is not None:
                break
        returncode = process.wait(timeout=30)
    finally:
        os.close(primary)
        if process.poll() is None:
            process.kill()
            process.wait()
    text = output.decode(errors="replace")
    assert returncode == 0, text

    assert "\r" in text
    frames = [f for f in re.split(r"\r\n|\r|\n", text) if f.startswith("Backup ")]
    bars = [f for f in frames if "[" in f and "%" in f]
    assert len(bars) >= 2, text  # drawn more than once, in place
    assert all(PERCENT.search(f) for f in bars)
    assert all(RATE.search(f) for f in bars), bars
    percents = [float(PERCENT.search(f).group(1)) for f in bars]  # type: ignore[union-attr]
    assert percents == sorted(percents)
    assert percents[-1] == 100.0
    assert "in " in bars[-1]  # the final frame reports the duration
    assert "status      completed" in text
    backups = owner.sdk.backups.list(project_id=project_id)
    assert [b.status for b in backups] == ["completed"]
    assert json.dumps(percents)

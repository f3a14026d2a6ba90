"""The supervisor of the embedded shape's worker child (`ConsumerProcess`) and the
worker's tie to its parent (`die_with_parent`), with stand-in commands: restarts with a
growing delay, SIGKILL after an ignored SIGTERM, no orphan when the parent dies."""

from __future__ import annotations

import asyncio
import logging
import subprocess
import sys
import textwrap
import time

import psutil
import pytest

from cloudbox.jobs.queue import ConsumerProcess


def gone(pid: int) -> bool:
    try:
        return psutil.Process(pid).status() == psutil.STATUS_ZOMBIE
    except psutil.NoSuchProcess:
        return True


def test_a_child_that_exits_is_restarted_with_a_growing_delay(
    caplog: pytest.LogCaptureFixture,
) -> None:
    supervisor = ConsumerProcess(
        1,
        command=[sys.executable, "-c", "raise SystemExit(3)"],
        first_restart_delay=0.05,
        max_restart_delay=0.4,
        check_interval=0.02,
    )

    async def scenario() -> None:
        await supervisor.start()
        await asyncio.sleep(2.0)
        await supervisor.stop()

    with caplog.at_level(logging.ERROR, logger="cloudbox.jobs.queue"):
        asyncio.run(scenario())
    delays = [
        float(r.getMessage().rsplit("restarting in ", 1)[1].split()[0])
        for r in caplog.records
        if "exited unexpectedly with code 3" in r.getMessage()
    ]
    assert supervisor.restarts >= 2
    assert delays[:4] == [0.05, 0.1, 0.2, 0.4][: len(delays[:4])]
    assert max(delays) == pytest.approx(0.4)  # capped
    assert supervisor.pid is None


def test_stop_kills_a_child_that_ignores_sigterm(caplog: pytest.LogCaptureFixture) -> None:
    stubborn = textwrap.dedent(
        """
        import signal, sys, time
        signal.signal(signal.SIGTERM, signal.SIG_IGN)
        print("ready", flush=True)
        time.sleep(60)
        """
    )
    supervisor = ConsumerProcess(1, command=[sys.executable, "-c", stubborn], stop_timeout=0.5)
    pids: list[int] = []

    async def scenario() -> float:
        await supervisor.start()
        pid = supervisor.pid
        assert pid is not None
        pids.append(pid)
        await asyncio.sleep(1.0)  # past the interpreter's start-up: SIGTERM is ignored
        started = time.monotonic()
        await supervisor.stop()
        return time.monotonic() - started

    with caplog.at_level(logging.WARNING, logger="cloudbox.jobs.queue"):
        took = asyncio.run(scenario())
    assert gone(pids[0])
    assert 0.4 < took < 5
    assert "ignored SIGTERM" in caplog.text
    assert supervisor.restarts == 0


@pytest.mark.skipif(sys.platform != "linux", reason="the watchdog thread covers other systems")
def test_a_worker_dies_with_its_parent() -> None:
    """A parent process starts a child that calls `die_with_parent`, then is killed."""
    child_code = textwrap.dedent(
        """
        import os, sys, time
        from cloudbox.jobs.queue import die_with_parent
        die_with_parent(int(sys.argv[1]), poll_interval=30)  # the kernel, not the watchdog
        print("armed", flush=True)
        time.sleep(60)
        """
    )
    parent_code = textwrap.dedent(
        f"""
        import os, subprocess, sys, time
        child = subprocess.Popen(
            [sys.executable, "-c", {child_code!r}, str(os.getpid())], stdout=subprocess.PIPE
        )
        assert child.stdout.readline().strip() == b"armed"
        print(child.pid, flush=True)
        time.sleep(60)
        """
    )
    parent = subprocess.Popen([sys.executable, "-c", parent_code], stdout=subprocess.PIPE)
    try:
        assert parent.stdout is not None
        child_pid = int(parent.stdout.readline())
        assert not gone(child_pid)
    finally:
        parent.kill()
        parent.wait()
        if parent.stdout is not None:
            parent.stdout.close()
    deadline = time.monotonic() + 10
    while not gone(child_pid) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert gone(child_pid)

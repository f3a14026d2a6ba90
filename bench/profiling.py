"""Sampling profiles of a live CloudBox process with py-spy (not a project dependency:
`.venv/bin/pip install py-spy`), summarised as the functions that hold the most samples.

py-spy samples every active thread (compression threads included: they run C code with
the GIL released), so percentages are shares of the CPU time the process used, not of
wall time.

    python -m bench.profiling summarize bench/results/profile-backup-sqlite.txt
"""

from __future__ import annotations

import argparse
import re
import shutil
import signal
import subprocess
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

_FRAME = re.compile(r"^(?P<func>.*?) \((?P<file>[^()]*?)(?::(?P<line>\d+))?\)$")


@dataclass
class Profile:
    path: Path
    report: dict[str, Any] = field(default_factory=dict)


def _short(file: str) -> str:
    for marker in ("/site-packages/", "/src/", "/lib/python3"):
        if marker in file:
            return file.split(marker, 1)[1]
    return file


def _frame_name(frame: str) -> str:
    match = _FRAME.match(frame)
    if not match:
        return frame
    return f"{match['func']} ({_short(match['file'])})"


#: leaf frames of a thread that waits rather than works (py-spy still samples some)
IDLE_LEAVES = (
    "Condition.wait (",
    "Event.wait (",
    "Worker.sleep (",
    "Runner.run (asyncio",
    "select (",
    "_wait (cloudbox/restores/routes.py)",
    "sleep (",
)


def summarize(
    path: Path, top: int = 30, thread: str | None = None, busy_only: bool = True
) -> dict[str, Any]:
    """Inclusive and self shares per function, and samples per thread.

    `thread`: only threads whose name contains it (e.g. "Worker-" for the job threads);
    `busy_only`: leave out samples of threads caught waiting (see IDLE_LEAVES), so the
    shares are of the work done, not of the time spent blocked.
    """
    inclusive: Counter[str] = Counter()
    own: Counter[str] = Counter()
    threads: Counter[str] = Counter()
    total = 0
    for raw in path.read_text(errors="replace").splitlines():
        stack, _, count_text = raw.rpartition(" ")
        if not stack or not count_text.isdigit():
            continue
        count = int(count_text)
        frames = stack.split(";")
        name = ""
        if frames and frames[0].startswith(("thread (", "process ")):
            name = frames[0]
            frames = frames[1:]
        if thread is not None and thread not in name:
            continue
        names = [_frame_name(f) for f in frames]
        if busy_only and names and names[-1].startswith(IDLE_LEAVES):
            continue
        if name:
            threads[name.split(": ", 1)[-1].rstrip(")")] += count
        total += count
        for name in set(names):
            inclusive[name] += count
        if names:
            own[names[-1]] += count
    if not total:
        return {"samples": 0}

    def share(counter: Counter[str]) -> list[dict[str, Any]]:
        return [
            {"function": name, "percent": round(100 * n / total, 1), "samples": n}
            for name, n in counter.most_common(top)
        ]

    return {
        "samples": total,
        "threads": {t: round(100 * n / total, 1) for t, n in threads.most_common(10)},
        "inclusive": share(inclusive),
        "self": share(own),
    }


@contextmanager
def py_spy(pid: int, out: Path, rate: int = 100) -> Iterator[Profile]:
    """Record `pid` while the block runs; `report` holds the summary afterwards."""
    exe = shutil.which("py-spy")
    if exe is None:
        venv = Path(__file__).resolve().parents[1] / ".venv" / "bin" / "py-spy"
        exe = str(venv) if venv.exists() else None
    if exe is None:
        raise RuntimeError("py-spy is not installed (.venv/bin/pip install py-spy)")
    out.parent.mkdir(parents=True, exist_ok=True)
    profile = Profile(out)
    args = ["record", "--pid", str(pid), "--rate", str(rate), "--format", "raw", "--threads"]
    process = subprocess.Popen(
        [exe, *args, "--output", str(out)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    try:
        yield profile
    finally:
        process.send_signal(signal.SIGINT)
        try:
            _, err = process.communicate(timeout=60)
        except subprocess.TimeoutExpired:
            process.kill()
            _, err = process.communicate()
        if out.exists():
            profile.report = summarize(out)
        else:
            profile.report = {"error": (err or b"").decode(errors="replace")[-500:]}


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description="Summarise a py-spy raw profile")
    sub = parser.add_subparsers(dest="command", required=True)
    s = sub.add_parser("summarize")
    s.add_argument("path", type=Path)
    s.add_argument("--top", type=int, default=30)
    s.add_argument("--thread", default=None, help="only threads whose name contains this")
    s.add_argument("--with-idle", action="store_true", help="keep samples of waiting threads")
    args = parser.parse_args(argv)
    report = summarize(args.path, args.top, args.thread, not args.with_idle)
    print(f"{report['samples']} samples; threads: {report.get('threads')}")
    for kind in ("inclusive", "self"):
        print(f"\n{kind}:")
        for row in report.get(kind, []):
            print(f"  {row['percent']:5.1f}%  {row['function']}")


if __name__ == "__main__":
    main()

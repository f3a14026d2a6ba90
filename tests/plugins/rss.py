"""Peak resident memory of a process (and its children), sampled in a thread."""

from __future__ import annotations

import contextlib
import threading

import psutil


class PeakRss:
    """The peak resident memory of a process tree, sampled every `interval` seconds.

    By default the sum of the process and its children; with `largest=True` the largest
    single process of the tree, i.e. the one doing the work: `cloudbox serve` for an
    upload, its job worker child for a backup or restore.
    """

    def __init__(self, pid: int, interval: float = 0.05, *, largest: bool = False) -> None:
        self.process = psutil.Process(pid)
        self.interval = interval
        self.largest = largest
        self.peak = 0
        self.samples = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _sample(self) -> int:
        sizes = [self.process.memory_info().rss]
        for child in self.process.children(recursive=True):
            with contextlib.suppress(psutil.Error):
                sizes.append(child.memory_info().rss)
        return int(max(sizes) if self.largest else sum(sizes))

    def _run(self) -> None:
        while not self._stop.wait(self.interval):
            try:
                self.peak = max(self.peak, self._sample())
                self.samples += 1
            except psutil.Error:
                return

    def __enter__(self) -> PeakRss:
        self.peak = self._sample()
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join(5)

    @property
    def peak_mb(self) -> float:
        return self.peak / 2**20

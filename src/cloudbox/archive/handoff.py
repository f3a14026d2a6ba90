"""Producing items in the calling thread while a second thread consumes them, in order.

A backup's documents section is built by the database on the calling thread (Python
holds the GIL between rows) while the writer checks, hashes and compresses what came
before. The writer's per-chunk work runs mostly without the GIL (glibc `memmem`, SHA-256,
isal), so a second thread doing it overlaps the database instead of waiting its turn.
The queue is short: memory stays at a few chunks whatever the section's size.
"""

from __future__ import annotations

import queue
import threading
from collections.abc import Callable, Iterable
from typing import Final, TypeVar

T = TypeVar("T")

_END: Final = object()


def handed_off(items: Iterable[T], consume: Callable[[T], None], *, depth: int = 4) -> None:
    """Call `consume` on every item of `items`, in order, in a second thread.

    `items` is iterated here. The first exception from either side stops both and is
    raised here, after the second thread has ended (it never outlives the call).
    """
    pending: queue.Queue[object] = queue.Queue(depth)
    failures: list[BaseException] = []

    def run() -> None:
        try:
            while (item := pending.get()) is not _END:
                consume(item)  # type: ignore[arg-type]
        except BaseException as exc:  # noqa: BLE001 - raised again in the caller
            failures.append(exc)
            while pending.get() is not _END:  # the producer must never block on put
                pass

    worker = threading.Thread(target=run, name="archive-handoff", daemon=True)
    worker.start()
    try:
        for item in items:
            if failures:
                break
            pending.put(item)
    finally:
        pending.put(_END)
        worker.join()
    if failures:
        raise failures[0]

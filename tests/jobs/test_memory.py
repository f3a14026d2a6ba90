"""A finished job gives its freed memory back (`jobs/memory.py`), so one big restore does
not raise the worker's memory for every later job."""

from __future__ import annotations

import subprocess
import sys
import textwrap

import pytest

from cloudbox.jobs.memory import release_freed_memory
from cloudbox.runtime import Runtime

CHILD = textwrap.dedent(
    """
    import re
    from cloudbox.jobs.memory import release_freed_memory

    def rss():
        return int(re.search(r"VmRSS:\\s+(\\d+)", open("/proc/self/status").read()).group(1))

    base = rss()
    # small objects come from the heap, not from their own mappings
    rows = [bytes(1000) + str(n).encode() for n in range(150_000)]
    keep = rows[-1]  # the heap's top stays in use, as in a worker that goes on
    del rows
    freed = rss()
    assert release_freed_memory()
    print(base, freed, rss())
    """
)


def test_trim_returns_freed_heap_memory_to_the_system() -> None:
    if not release_freed_memory():
        pytest.skip("the C library has no malloc_trim")
    out = subprocess.run(
        [sys.executable, "-c", CHILD], check=True, capture_output=True, text=True
    ).stdout
    base, freed, trimmed = (int(x) for x in out.split())
    assert freed - base > 100_000, (base, freed)  # KiB: the 150 MB stayed with the process
    assert trimmed - base < (freed - base) / 2, (base, freed, trimmed)


def test_every_job_ends_with_a_trim(runtime: Runtime) -> None:
    hooks = runtime.queue._post_execute  # Huey's registry of post-execute hooks
    assert "_after_each_job" in hooks

"""The same-run baselines: GNU tar with gzip (and pigz when installed) over the plain copy
of the dataset (file bytes plus `documents.ndjson`).

`tar czf` runs `gzip` at its default level, 6, so its output size is gzip -6's; `GZIP`
and `PIGZ` are removed from the environment so no option sneaks in.
"""

from __future__ import annotations

import shutil
import subprocess
import time
from pathlib import Path

from bench.common import BenchError, base_env

MEMBERS = ["files", "documents.ndjson"]


def have_pigz() -> bool:
    return shutil.which("pigz") is not None


def _run(args: list[str]) -> float:
    start = time.perf_counter()
    done = subprocess.run(args, env=base_env(), capture_output=True, check=False)
    seconds = time.perf_counter() - start
    if done.returncode != 0:
        raise BenchError(f"{' '.join(args)} failed: {done.stderr.decode(errors='replace')}")
    return seconds


def tar_czf(plain: Path, out: Path) -> float:
    """GNU `tar czf` (gzip -6, one core)."""
    out.unlink(missing_ok=True)
    return _run(["tar", "czf", str(out), "-C", str(plain), *MEMBERS])


def tar_pigz(plain: Path, out: Path) -> float:
    """`tar -I pigz` (level 6, one compression thread per core)."""
    out.unlink(missing_ok=True)
    return _run(["tar", "-I", "pigz", "-cf", str(out), "-C", str(plain), *MEMBERS])


def tar_cf(plain: Path, out: Path) -> float:
    """Uncompressed `tar cf`: what moving the bytes alone costs (a reference, no target)."""
    out.unlink(missing_ok=True)
    return _run(["tar", "cf", str(out), "-C", str(plain), *MEMBERS])


def tar_xzf(archive: Path, dest: Path) -> float:
    """`tar xzf` into a fresh directory (removed by the caller, outside the timing)."""
    if dest.exists():
        shutil.rmtree(dest)
    dest.mkdir(parents=True)
    return _run(["tar", "xzf", str(archive), "-C", str(dest)])

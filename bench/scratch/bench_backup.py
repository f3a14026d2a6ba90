"""Documents section of a backup: the code at HEAD vs the working tree, same process.

    .venv/bin/python -m bench.scratch.bench_backup --db sqlite:////tmp/x.db --project 1
    .venv/bin/python -m bench.scratch.bench_backup --db postgresql://postgres@127.0.0.1/db \\
        --project 1 --rounds 3

"after" runs `archiver.write_project` of the working tree, whose only big section is
documents on a documents-only project; "before" runs the same with the `ArchiveWriter` of
`git show HEAD:src/cloudbox/archive/writer.py` (commit the sections' changes first to
compare only the writer's). Both write a real archive (isal level 1, 2 threads) to
/dev/null-like sinks; rounds alternate so load drifts hit both alike. Also times
`tar czf` of the documents as NDJSON (the bench's baseline) for a same-run ratio.
"""

from __future__ import annotations

import argparse
import io
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from types import ModuleType
from typing import Any

import cloudbox.models  # noqa: F401
from cloudbox.backups.archiver import snapshot, write_project
from cloudbox.db.engine import Database
from cloudbox.db.types import utcnow


class _Null(io.RawIOBase):
    def writable(self) -> bool:
        return True

    def write(self, data: Any) -> int:
        return len(data)


class _Progress:
    def update(self, **_: Any) -> None:
        pass

    def add(self, **_: Any) -> None:
        pass


def _load_head(path: str, name: str) -> ModuleType:
    text = subprocess.run(
        ["git", "show", f"HEAD:{path}"], check=True, capture_output=True, text=True
    ).stdout
    module = ModuleType(name)
    module.__file__ = f"<HEAD:{path}>"
    sys.modules[name] = module
    exec(compile(text, module.__file__, "exec"), module.__dict__)
    return module


def before(db: Database, project_id: int) -> tuple[int, float]:
    """`write_project` of the working tree with HEAD's `ArchiveWriter` swapped in."""
    from cloudbox.backups import archiver

    head = _load_head("src/cloudbox/archive/writer.py", "_head_writer")
    current = archiver.ArchiveWriter
    archiver.ArchiveWriter = head.ArchiveWriter  # type: ignore[misc]
    try:
        rows, seconds, _ = after(db, project_id)
    finally:
        archiver.ArchiveWriter = current  # type: ignore[misc]
    return rows, seconds


def after(db: Database, project_id: int) -> tuple[int, float, bytes]:
    start = time.perf_counter()
    with snapshot(db) as conn, tempfile.TemporaryFile() as out:
        result = write_project(
            conn,
            project_id,
            out,
            blobs=None,  # type: ignore[arg-type]
            metadata={},
            key_fingerprint="b",
            now=utcnow(),
            progress=_Progress(),  # type: ignore[arg-type]
            check_cancelled=lambda: None,
        )
        seconds = time.perf_counter() - start
        out.seek(0)
        archive = out.read()
    return result.sections["documents"], seconds, archive


def tar_czf(archive: bytes) -> float:
    """tar czf of the documents member as plain NDJSON, as the bench's baseline."""
    import tarfile

    with tempfile.TemporaryDirectory() as tmp:
        with tarfile.open(fileobj=io.BytesIO(archive)) as tar:
            member = tar.extractfile("data/documents.ndjson")
            assert member is not None
            Path(tmp, "documents.ndjson").write_bytes(member.read())
        env = {k: v for k, v in os.environ.items() if k != "GZIP"}
        start = time.perf_counter()
        subprocess.run(
            ["tar", "czf", f"{tmp}/b.tar.gz", "-C", tmp, "documents.ndjson"], check=True, env=env
        )
        return time.perf_counter() - start


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--db", required=True)
    parser.add_argument("--project", type=int, required=True)
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args(argv)
    url = args.db
    if url.startswith("postgresql://"):
        url = "postgresql+psycopg://" + url.split("://", 1)[1]
    db = Database(url)
    engine = "SQLite" if db.is_sqlite else "PostgreSQL"
    old: list[float] = []
    new: list[float] = []
    tar: list[float] = []
    for _ in range(args.rounds):
        n_old, s_old = before(db, args.project)
        n_new, s_new, archive = after(db, args.project)
        assert n_old == n_new, (n_old, n_new)
        s_tar = tar_czf(archive)
        old.append(n_old / s_old)
        new.append(n_new / s_new)
        tar.append(s_tar / s_new)
        print(
            f"  {engine}: before {n_old / s_old:>9,.0f} rows/s ({s_old:.2f} s)  "
            f"after {n_new / s_new:>9,.0f} rows/s ({s_new:.2f} s)  "
            f"x{s_old / s_new:.1f}  tar czf {s_tar:.2f} s -> backup {s_tar / s_new:.2f}x faster"
        )
    old.sort()
    new.sort()
    tar.sort()
    print(
        f"{engine} median: before {old[len(old) // 2]:,.0f} rows/s, after "
        f"{new[len(new) // 2]:,.0f} rows/s; backup vs tar czf {tar[len(tar) // 2]:.2f}x"
    )
    db.dispose()


if __name__ == "__main__":
    main()

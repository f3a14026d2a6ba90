"""The backup and restore jobs run in this process, without the server, timed by phase.

    cp /tmp/ins/base.db /tmp/ins/jobs.db    # it writes backups and restores into it
    .venv/bin/python -m bench.scratch.jobs_in_process --db sqlite:////tmp/ins/jobs.db \\
        --data /tmp/jobs --project 1 --target 2 --rounds 2

Each round backs `--project` up (`backups.service.run_backup`) and restores the newest
backup into `--target` (`restores.service.run_restore`, no pre-restore backup), after
deleting the target's documents (the database of `sqlite_insert_order --dir` has an empty
project 2 beside the source). It prints the job's seconds, the time inside
`write_project` / `restorer.apply`, this process's CPU seconds and its peak memory: the
gap between these and the bench's figures is the server's share (queueing, the worker
child and what earlier jobs left in it).
The master key is generated once into `--data`.
"""

from __future__ import annotations

import argparse
import base64
import functools
import os
import secrets
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from sqlalchemy import select, text

import cloudbox.models  # noqa: F401
from cloudbox.audit.service import SYSTEM
from cloudbox.backups import service as backups
from cloudbox.backups.models import Backup
from cloudbox.config import Settings
from cloudbox.restores import restorer
from cloudbox.restores import service as restores
from cloudbox.runtime import Runtime


class Timings(dict[str, float]):
    def wrap(self, module: Any, name: str) -> None:
        """Add the time spent in `module.name` to this dict under `name`."""
        function: Callable[..., Any] = getattr(module, name)

        @functools.wraps(function)
        def timed(*args: Any, **kwargs: Any) -> Any:
            started = time.perf_counter()
            try:
                return function(*args, **kwargs)
            finally:
                self[name] = self.get(name, 0.0) + time.perf_counter() - started

        setattr(module, name, timed)


def _runtime(url: str, data: Path) -> Runtime:
    data.mkdir(parents=True, exist_ok=True)
    key_file = data / "master.key"
    if not key_file.exists():
        key_file.write_text(base64.b64encode(secrets.token_bytes(32)).decode())
    settings = Settings(
        env="test", data_dir=data, database_url=url, master_key=key_file.read_text().strip()
    )
    return Runtime.build(settings)


def _memory() -> dict[str, int]:
    """This process's resident memory in MiB: in all, anonymous, file-backed (mappings:
    libraries, SQLite's WAL index)."""
    wanted = ("VmRSS", "RssAnon", "RssFile")
    with open("/proc/self/status") as status:
        fields = dict(line.split(":", 1) for line in status)
    return {name: int(fields[name].split()[0]) // 1024 for name in wanted}


def _measured(job: Callable[[], None], timings: Timings) -> str:
    """Run `job`; its seconds, the wrapped functions' share, CPU and peak memory."""
    timings.clear()
    peak = _memory()
    done = threading.Event()

    def sample() -> None:
        nonlocal peak
        while not done.wait(0.02):
            now = _memory()
            if now["VmRSS"] > peak["VmRSS"]:
                peak = now

    sampler = threading.Thread(target=sample, daemon=True)
    sampler.start()
    cpu = os.times()
    started = time.perf_counter()
    try:
        job()
    finally:
        done.set()
        sampler.join()
    seconds = time.perf_counter() - started
    used = os.times()
    spent = used.user - cpu.user + used.system - cpu.system
    inner = ", ".join(f"{name} {value:.2f} s" for name, value in timings.items())
    memory = ", ".join(f"{name} {value}" for name, value in peak.items())
    return f"{seconds:6.2f} s ({inner}; CPU {spent:.2f} s; peak MiB {memory})"


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--db", required=True, help="a SQLAlchemy URL")
    parser.add_argument("--data", type=Path, required=True, help="data directory (archives)")
    parser.add_argument("--project", type=int, default=1)
    parser.add_argument("--target", type=int, default=2)
    parser.add_argument("--rounds", type=int, default=2)
    args = parser.parse_args(argv)
    runtime = _runtime(args.db, args.data)
    timings = Timings()
    timings.wrap(backups, "write_project")
    timings.wrap(restorer, "apply")
    for number in range(args.rounds):
        with runtime.db.transaction() as session:
            row = backups.create(
                session,
                runtime,
                args.project,
                name=f"in-process {number}",
                description="",
                type="manual",
                actor=SYSTEM,
                user_id=None,
            )
            backup_id = row.id
        took = _measured(functools.partial(backups.run_backup, runtime, backup_id), timings)
        with runtime.db.session() as session:
            status = backups.get(session, backup_id).status
        print(f"backup  {status:9s} {took}", flush=True)
        with runtime.db.transaction() as session:
            session.execute(text("DELETE FROM documents WHERE project_id = :p"), {"p": args.target})
        with runtime.db.transaction() as session:
            backup = session.scalars(
                select(Backup).where(Backup.id == backup_id, Backup.status == "completed")
            ).one()
            restore_id = restores.start(
                session, backup, args.target, options={"pre_restore_backup": False}, actor=SYSTEM
            ).id
        took = _measured(functools.partial(restores.run_restore, runtime, restore_id), timings)
        with runtime.db.session() as session:
            status = restores.get(session, restore_id).status
        print(f"restore {status:9s} {took}", flush=True)
    runtime.close()


if __name__ == "__main__":
    main()

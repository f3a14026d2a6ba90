"""Restore with the proof beside the apply against the proof first, same server, same
backup, rounds alternating.

    .venv/bin/python -m bench.scratch.restore_modes --scale 0.3 --rounds 3 [--files]
    .venv/bin/python -m bench.scratch.restore_modes --scale 0.3 --postgres

Starts a SQLite `cloudbox serve` (or, with --postgres, a server and a `cloudbox worker`
on Redis over a scratch PostgreSQL database, dropped after), loads the bench dataset
(documents only, or the whole project with --files), backs it up, then restores it into
new projects: without a pre-restore backup (pass 1 runs beside the apply) and with one
(pass 1 first, then the snapshot of the empty target, which is a few rows, then the
apply). Prints the server's request → completed seconds of each.
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
from pathlib import Path

from bench.dataset import DatasetSpec, load_project, write_plain
from bench.run import drop_database, postgres_shape, sqlite_shape

ADMIN_URL = "postgresql+psycopg://postgres@127.0.0.1:5432/postgres"
REDIS_URL = "redis://127.0.0.1:6379/0"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--scale", type=float, default=0.3)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--files", action="store_true")
    parser.add_argument("--postgres", action="store_true")
    args = parser.parse_args()
    spec = DatasetSpec.for_scale(args.scale)
    with tempfile.TemporaryDirectory(prefix="restore-modes-") as tmp:
        work = Path(tmp)
        plain = write_plain(spec, work / "plain") if args.files else None
        shape = postgres_shape(work, ADMIN_URL, REDIS_URL) if args.postgres else sqlite_shape(work)
        try:
            loaded = load_project(
                shape.api.client,
                shape.database_url,
                spec,
                "modes",
                plain=plain,
                with_files=args.files,
            )
            backup = shape.api.backup(loaded.project_id, "modes")
            print(f"{loaded.documents:,} documents, backup {backup['seconds']:.2f} s", flush=True)
            times: dict[str, list[float]] = {"beside": [], "first": []}
            for r in range(args.rounds):
                order = ["beside", "first"] if r % 2 == 0 else ["first", "beside"]
                for mode in order:
                    target = shape.api.create_project(f"{mode} {r}")
                    body = shape.api.restore(
                        backup["id"], target, pre_restore_backup=mode == "first"
                    )
                    times[mode].append(body["seconds"])
                    print(f"  round {r + 1} {mode:6s} {body['seconds']:.2f} s", flush=True)
                    shape.api.delete(f"/api/projects/{target}")
            for mode, values in times.items():
                print(f"{mode}: median {statistics.median(values):.2f} s {values}")
        finally:
            shape.close()
            if args.postgres:
                drop_database(ADMIN_URL, shape.extra["database"])


if __name__ == "__main__":
    main()

"""A scratch PostgreSQL database holding the bench documents, for the prototypes.

.venv/bin/python -m bench.scratch.pg_fixture create --scale 0.1   # prints URL, project
.venv/bin/python -m bench.scratch.pg_fixture drop --name proto_pg_xxxx
"""

from __future__ import annotations

import argparse
import time
import uuid

from sqlalchemy import create_engine, insert, text

import cloudbox.models  # noqa: F401
from bench.dataset import COLLECTIONS, DatasetSpec, insert_documents
from cloudbox.db.base import Base
from cloudbox.db.migrate import upgrade_database

ADMIN = "postgresql+psycopg://postgres@127.0.0.1:5432/postgres"


def create(scale: float, admin_url: str) -> tuple[str, int]:
    name = f"proto_pg_{uuid.uuid4().hex[:8]}"
    admin = create_engine(admin_url, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    admin.dispose()
    url = admin_url.rsplit("/", 1)[0] + f"/{name}"
    upgrade_database(url)
    engine = create_engine(url)
    projects = Base.metadata.tables["projects"]
    collections = Base.metadata.tables["collections"]
    with engine.begin() as conn:
        project_id = int(
            conn.execute(
                insert(projects)
                .values(name="docs", description="", settings={})
                .returning(projects.c.id)
            ).scalar_one()
        )
        ids = {c: f"col-{c}" for c in COLLECTIONS}
        conn.execute(
            insert(collections),
            [
                {"project_id": project_id, "id": ids[c], "name": c, "description": ""}
                for c in COLLECTIONS
            ],
        )
    engine.dispose()
    start = time.perf_counter()
    n = insert_documents(url, project_id, ids, DatasetSpec.for_scale(scale))
    print(f"{n:,} documents in {time.perf_counter() - start:.1f} s")
    return url, project_id


def drop(name: str, admin_url: str) -> None:
    admin = create_engine(admin_url, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    admin.dispose()


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("command", choices=["create", "drop"])
    parser.add_argument("--scale", type=float, default=0.1)
    parser.add_argument("--name")
    parser.add_argument("--admin-url", default=ADMIN)
    args = parser.parse_args()
    if args.command == "create":
        url, project_id = create(args.scale, args.admin_url)
        print(f"url {url}\nproject {project_id}")
    else:
        drop(args.name, args.admin_url)


if __name__ == "__main__":
    main()

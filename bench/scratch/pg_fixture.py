"""A scratch PostgreSQL database holding the bench documents, for the prototypes.

.venv/bin/python -m bench.scratch.pg_fixture create --scale 0.1   # prints URL, project
.venv/bin/python -m bench.scratch.pg_fixture drop --name proto_pg_xxxx
"""

from __future__ import annotations

import argparse
import time
import uuid

from sqlalchemy import Connection, create_engine, insert, text

import cloudbox.models  # noqa: F401
from bench.dataset import COLLECTIONS, DatasetSpec, insert_documents
from cloudbox.db.base import Base
from cloudbox.db.migrate import upgrade_database

ADMIN = "postgresql+psycopg://postgres@127.0.0.1:5432/postgres"


def create_database(admin_url: str, prefix: str = "proto_pg") -> tuple[str, str]:
    """A new database migrated to the current schema: (name, url)."""
    name = f"{prefix}_{uuid.uuid4().hex[:8]}"
    admin = create_engine(admin_url, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    admin.dispose()
    url = admin_url.rsplit("/", 1)[0] + f"/{name}"
    upgrade_database(url)
    return name, url


def add_project(conn: Connection, collection_ids: dict[str, str]) -> int:
    """A project holding the dataset's collections (name → id); returns its id."""
    projects = Base.metadata.tables["projects"]
    collections = Base.metadata.tables["collections"]
    project_id = int(
        conn.execute(
            insert(projects)
            .values(name="docs", description="", settings={})
            .returning(projects.c.id)
        ).scalar_one()
    )
    conn.execute(
        insert(collections),
        [
            {"project_id": project_id, "id": cid, "name": name, "description": ""}
            for name, cid in collection_ids.items()
        ],
    )
    return project_id


def create(scale: float, admin_url: str) -> tuple[str, int]:
    _, url = create_database(admin_url)
    engine = create_engine(url)
    ids = {c: f"col-{c}" for c in COLLECTIONS}
    with engine.begin() as conn:
        project_id = add_project(conn, ids)
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

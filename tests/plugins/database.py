"""Database fixtures: every test that asks for `database_url` runs on SQLite and on
PostgreSQL. The schema always comes from the migrations.

PostgreSQL: one database per test session (per xdist worker), migrated once, truncated
after each test. SQLite: one migrated template file, copied for each test. A developer
without PostgreSQL sees the postgresql cases skipped; under CI=true they fail instead.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import create_engine, text

from cloudbox.db.migrate import upgrade_database

PG_ADMIN_URL = os.environ.get(
    "CLOUDBOX_TEST_PG_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test"
)
IN_CI = os.environ.get("CI", "").lower() == "true"


def _unavailable(what: str, reason: str) -> None:
    if IN_CI:
        pytest.fail(f"{what} is required under CI=true but unavailable: {reason}")
    pytest.skip(f"{what} unavailable: {reason}")


def _worker() -> str:
    return os.environ.get("PYTEST_XDIST_WORKER", "main")


@pytest.fixture(scope="session")
def sqlite_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("sqlite-template") / "template.db"
    upgrade_database(f"sqlite:///{path}")
    return path


@pytest.fixture(scope="session")
def pg_database() -> Iterator[str]:
    name = f"cloudbox_test_{_worker()}_{os.getpid()}"
    admin = create_engine(PG_ADMIN_URL, isolation_level="AUTOCOMMIT")
    try:
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
            conn.execute(text(f'CREATE DATABASE "{name}"'))
    except Exception as exc:  # noqa: BLE001 - any failure means "no PostgreSQL here"
        admin.dispose()
        _unavailable("PostgreSQL", str(exc).splitlines()[0])
    url = PG_ADMIN_URL.rsplit("/", 1)[0] + f"/{name}"
    upgrade_database(url)
    yield url
    with admin.connect() as conn:
        conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    admin.dispose()


def truncate_all(url: str) -> None:
    engine = create_engine(url)
    with engine.begin() as conn:
        tables = (
            conn.execute(
                text(
                    "SELECT tablename FROM pg_tables WHERE schemaname = 'public' "
                    "AND tablename <> 'alembic_version'"
                )
            )
            .scalars()
            .all()
        )
        if tables:
            joined = ", ".join(f'"{t}"' for t in tables)
            conn.execute(text(f"TRUNCATE {joined} RESTART IDENTITY CASCADE"))
    engine.dispose()


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.integration)])
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    if request.param == "sqlite":
        template: Path = request.getfixturevalue("sqlite_template")
        path = tmp_path / "cloudbox.db"
        shutil.copyfile(template, path)
        yield f"sqlite:///{path}"
        return
    url: str = request.getfixturevalue("pg_database")
    truncate_all(url)
    yield url
    truncate_all(url)

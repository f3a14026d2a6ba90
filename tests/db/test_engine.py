"""`Database.bulk_transaction`: a transaction like any other (all or nothing) whose SQLite
tuning for a bulk load stays on the connection only for the load."""

from __future__ import annotations

from typing import Any

import pytest
from sqlalchemy import func, select

from cloudbox.db.engine import BULK_CACHE_KIB, Database
from cloudbox.projects.models import Project


def _count(db: Database) -> int:
    with db.session() as session:
        return int(session.scalar(select(func.count()).select_from(Project)) or 0)


def test_commits_on_success_and_writes_nothing_on_error(database_url: str) -> None:
    db = Database(database_url)
    try:
        before = _count(db)
        with db.bulk_transaction() as session:
            session.add(Project(name="kept", description="", settings={}))
        assert _count(db) == before + 1
        with pytest.raises(RuntimeError), db.bulk_transaction() as session:
            session.add(Project(name="dropped", description="", settings={}))
            session.flush()
            raise RuntimeError("fail the load")
        assert _count(db) == before + 1
    finally:
        db.dispose()


def test_sqlite_tuning_is_undone_before_the_connection_is_reused(database_url: str) -> None:
    if not database_url.startswith("sqlite"):
        pytest.skip("SQLite pragmas")
    db = Database(database_url)
    try:

        def pragmas(raw: Any) -> tuple[int, int]:
            return (
                raw.execute("PRAGMA cache_size").fetchone()[0],
                raw.execute("PRAGMA wal_autocheckpoint").fetchone()[0],
            )

        with db.bulk_transaction() as session:
            raw = session.connection().connection.driver_connection
            assert pragmas(raw) == (-BULK_CACHE_KIB, 0)
            session.add(Project(name="p", description="", settings={}))
        assert pragmas(raw) == (-2000, 1000)
        with pytest.raises(RuntimeError), db.bulk_transaction() as session:
            raw = session.connection().connection.driver_connection
            raise RuntimeError("fail the load")
        assert pragmas(raw) == (-2000, 1000)
    finally:
        db.dispose()

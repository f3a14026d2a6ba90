"""Engine and session factory.

SQLite runs in WAL mode with explicit BEGIN statements: pysqlite's implicit transaction
handling would otherwise break consistent read snapshots (backups) and let two writers
deadlock on lock upgrade. Writers therefore open `BEGIN IMMEDIATE` via `write_session`.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from sqlalchemy import Engine, create_engine, event
from sqlalchemy.orm import Session, sessionmaker

#: SQLite's page cache for a bulk load, in KiB (the default is 2 MiB). A restore inserts
#: rows into indexes keyed at random (document ids); with the default cache the dirty
#: pages spill to the WAL and are read back over and over. Measured on a million
#: documents: 16 MiB inserts 1.17x as fast, 32 MiB 1.27x, but the job process's peak
#: memory grows by about the cache's size, and it must stay within 200 MB.
BULK_CACHE_KIB = 16 * 1024


def make_engine(url: str, **kwargs: Any) -> Engine:
    if url.startswith("sqlite"):
        engine = create_engine(
            url,
            connect_args={"check_same_thread": False, "timeout": 30},
            pool_size=10,
            max_overflow=20,
            **kwargs,
        )
        _configure_sqlite(engine)
        return engine
    # No server-side prepared statements: psycopg would switch hot queries to a generic
    # plan after five runs, which on freshly bulk-loaded tables (no statistics yet) made a
    # restore's per-batch lookups 60x slower.
    return create_engine(
        url,
        pool_pre_ping=True,
        pool_size=10,
        max_overflow=20,
        connect_args={"prepare_threshold": None},
        **kwargs,
    )


def _configure_sqlite(engine: Engine) -> None:
    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_conn: Any, _record: Any) -> None:
        dbapi_conn.isolation_level = None  # we emit BEGIN ourselves
        cur = dbapi_conn.cursor()
        cur.execute("PRAGMA journal_mode=WAL")
        cur.execute("PRAGMA synchronous=NORMAL")
        cur.execute("PRAGMA foreign_keys=ON")
        cur.execute("PRAGMA busy_timeout=30000")
        cur.close()

    @event.listens_for(engine, "begin")
    def _on_begin(conn: Any) -> None:
        mode = conn.get_execution_options().get("sqlite_begin", "")
        conn.exec_driver_sql(f"BEGIN {mode}".strip())


@contextmanager
def _committed(session: Session) -> Iterator[None]:
    """Commit `session` when the block ends normally, roll it back on any error."""
    try:
        yield
        session.commit()
    except BaseException:
        session.rollback()
        raise


class Database:
    """Owns the engine and hands out sessions; one per process."""

    def __init__(self, url: str) -> None:
        self.url = url
        self.engine = make_engine(url)
        self.is_sqlite = url.startswith("sqlite")
        self._read = sessionmaker(bind=self.engine, expire_on_commit=False)
        write_bind = (
            self.engine.execution_options(sqlite_begin="IMMEDIATE")
            if self.is_sqlite
            else self.engine
        )
        self._write = sessionmaker(bind=write_bind, expire_on_commit=False)

    def session(self, *, write: bool = False) -> Session:
        return (self._write if write else self._read)()

    @contextmanager
    def transaction(self) -> Iterator[Session]:
        """A write transaction committed on success, rolled back on any error."""
        with self.session(write=True) as session, _committed(session):
            yield session

    @contextmanager
    def bulk_transaction(self) -> Iterator[Session]:
        """`transaction` for loading many rows at once (a restore's apply).

        On SQLite the connection gets a bigger page cache for the load, and the WAL is
        checkpointed after the commit rather than inside it: the commit is what makes the
        rows visible, and copying a load's hundreds of MiB of WAL into the database
        took longer than the commit's own work. Both settings are restored before the
        connection goes back to the pool.
        """
        if not self.is_sqlite:
            with self.transaction() as session:
                yield session
            return
        with self.engine.connect() as conn:
            raw: Any = conn.connection.driver_connection
            cache = int(raw.execute("PRAGMA cache_size").fetchone()[0])
            autocheckpoint = int(raw.execute("PRAGMA wal_autocheckpoint").fetchone()[0])
            raw.execute(f"PRAGMA cache_size=-{BULK_CACHE_KIB}")
            raw.execute("PRAGMA wal_autocheckpoint=0")
            try:
                bind = conn.execution_options(sqlite_begin="IMMEDIATE")
                with Session(bind=bind, expire_on_commit=False) as session, _committed(session):
                    yield session
                raw.execute("PRAGMA wal_checkpoint(PASSIVE)").fetchall()
            finally:
                raw.execute(f"PRAGMA wal_autocheckpoint={autocheckpoint}")
                raw.execute(f"PRAGMA cache_size={cache}")

    def dispose(self) -> None:
        self.engine.dispose()

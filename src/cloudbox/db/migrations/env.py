"""Alembic environment: online migrations only, using the engine settings of CloudBox."""

from __future__ import annotations

from alembic import context

import cloudbox.models  # noqa: F401  (registers every table for autogenerate)
from cloudbox.db.base import Base
from cloudbox.db.engine import make_engine

config = context.config
url = config.get_main_option("sqlalchemy.url")
assert url is not None
engine = make_engine(url)
try:
    with engine.connect() as connection:
        context.configure(
            connection=connection,
            target_metadata=Base.metadata,
            render_as_batch=connection.dialect.name == "sqlite",
            compare_type=True,
        )
        with context.begin_transaction():
            if connection.dialect.name == "postgresql":
                # Several servers may start at once; one migrates, the others wait.
                connection.exec_driver_sql("SELECT pg_advisory_xact_lock(7243001)")
            context.run_migrations()
        connection.commit()
finally:
    engine.dispose()

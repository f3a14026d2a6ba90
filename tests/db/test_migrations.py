"""The migrations produce exactly the schema the models describe, on both databases."""

from __future__ import annotations

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import create_engine

import cloudbox.models
from cloudbox.db.migrate import alembic_config


def test_models_and_migrations_agree(database_url: str) -> None:
    engine = create_engine(database_url)
    try:
        with engine.connect() as conn:
            context = MigrationContext.configure(conn, opts={"compare_type": True})
            diff = compare_metadata(context, cloudbox.models.Base.metadata)
            head = context.get_current_revision()
    finally:
        engine.dispose()
    assert diff == [], f"models and migrations differ: {diff}"
    assert head == ScriptDirectory.from_config(alembic_config(database_url)).get_current_head()


def test_single_linear_history() -> None:
    script = ScriptDirectory.from_config(alembic_config("sqlite://"))
    assert len(script.get_heads()) == 1

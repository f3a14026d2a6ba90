"""restores

Revision ID: 0008
Revises: 0007
"""

import sqlalchemy as sa
from alembic import op

from cloudbox.db.types import JSONType, UTCDateTime

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "restores",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("backup_id", sa.Integer(), nullable=True),
        sa.Column("source_project_id", sa.Integer(), nullable=False),
        sa.Column("target_project_id", sa.Integer(), nullable=False),
        sa.Column("status", sa.String(length=20), nullable=False),
        sa.Column("dry_run", sa.Boolean(), nullable=False),
        sa.Column("options", JSONType, nullable=False),
        sa.Column("phase", sa.String(length=30), nullable=False),
        sa.Column("items_done", sa.BigInteger(), nullable=False),
        sa.Column("items_total", sa.BigInteger(), nullable=False),
        sa.Column("bytes_done", sa.BigInteger(), nullable=False),
        sa.Column("bytes_total", sa.BigInteger(), nullable=False),
        sa.Column("plan", JSONType, nullable=False),
        sa.Column("warnings", JSONType, nullable=False),
        sa.Column("pre_restore_backup_id", sa.Integer(), nullable=True),
        sa.Column("undo_of", sa.Integer(), nullable=True),
        sa.Column("error_code", sa.String(length=60), nullable=True),
        sa.Column("error_message", sa.String(length=500), nullable=True),
        sa.Column("created_by_actor", JSONType, nullable=False),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.Column("started_at", UTCDateTime(), nullable=True),
        sa.Column("heartbeat_at", UTCDateTime(), nullable=True),
        sa.Column("completed_at", UTCDateTime(), nullable=True),
        sa.ForeignKeyConstraint(
            ["backup_id"],
            ["backups.id"],
            name=op.f("fk_restores_backup_id_backups"),
            ondelete="SET NULL",
        ),
        sa.ForeignKeyConstraint(
            ["target_project_id"],
            ["projects.id"],
            name=op.f("fk_restores_target_project_id_projects"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_restores")),
        sqlite_autoincrement=True,
    )
    op.create_index("ix_restores_target_created", "restores", ["target_project_id", "created_at"])


def downgrade() -> None:
    op.drop_index("ix_restores_target_created", table_name="restores")
    op.drop_table("restores")

"""functions: functions and function domains

Revision ID: 0004
Revises: 0003
"""

import sqlalchemy as sa
from alembic import op

from cloudbox.db.types import JSONType, UTCDateTime

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "functions",
        sa.Column("project_id", sa.Integer(), nullable=False),
        sa.Column("id", sa.String(length=40), nullable=False),
        sa.Column("name", sa.String(length=64), nullable=False),
        sa.Column("description", sa.Text(), nullable=False),
        sa.Column("runtime", sa.String(length=32), nullable=False),
        sa.Column("entry_point", sa.String(length=200), nullable=False),
        sa.Column("code", sa.Text(), nullable=False),
        sa.Column("timeout", sa.Integer(), nullable=False),
        sa.Column("memory", sa.Integer(), nullable=False),
        sa.Column("environment", JSONType, nullable=False),
        sa.Column("secrets_encrypted", JSONType, nullable=False),
        sa.Column("status", sa.String(length=20), nullable=False),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.Column("updated_at", UTCDateTime(), nullable=False),
        sa.ForeignKeyConstraint(
            ["project_id"],
            ["projects.id"],
            name=op.f("fk_functions_project_id_projects"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("project_id", "id", name=op.f("pk_functions")),
        sa.UniqueConstraint("project_id", "name", name=op.f("uq_functions_project_id_name")),
    )
    op.create_table(
        "function_domains",
        sa.Column("project_id", sa.Integer(), nullable=False),
        sa.Column("id", sa.String(length=40), nullable=False),
        sa.Column("domain", sa.String(length=253), nullable=False),
        sa.Column("function_id", sa.String(length=40), nullable=False),
        sa.Column("is_verified", sa.Boolean(), nullable=False),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.Column("updated_at", UTCDateTime(), nullable=False),
        sa.ForeignKeyConstraint(
            ["project_id", "function_id"],
            ["functions.project_id", "functions.id"],
            name=op.f("fk_function_domains_project_id_function_id_functions"),
        ),
        sa.ForeignKeyConstraint(
            ["project_id"],
            ["projects.id"],
            name=op.f("fk_function_domains_project_id_projects"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("project_id", "id", name=op.f("pk_function_domains")),
        sa.UniqueConstraint("domain", name=op.f("uq_function_domains_domain")),
    )
    with op.batch_alter_table("function_domains", schema=None) as batch_op:
        batch_op.create_index(
            "ix_function_domains_function", ["project_id", "function_id"], unique=False
        )


def downgrade() -> None:
    with op.batch_alter_table("function_domains", schema=None) as batch_op:
        batch_op.drop_index("ix_function_domains_function")

    op.drop_table("function_domains")
    op.drop_table("functions")

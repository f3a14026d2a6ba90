"""collections

Revision ID: 0002
Revises: 0001
"""

import sqlalchemy as sa
from alembic import op

from cloudbox.db.types import JSONType, UTCDateTime

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "collections",
        sa.Column("project_id", sa.Integer(), nullable=False),
        sa.Column("id", sa.String(length=40), nullable=False),
        sa.Column("name", sa.String(length=64), nullable=False),
        sa.Column("description", sa.Text(), nullable=False),
        sa.Column("json_schema", JSONType, nullable=True),
        sa.Column("indexes", JSONType, nullable=False),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.Column("updated_at", UTCDateTime(), nullable=False),
        sa.ForeignKeyConstraint(
            ["project_id"],
            ["projects.id"],
            name=op.f("fk_collections_project_id_projects"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("project_id", "id", name=op.f("pk_collections")),
        sa.UniqueConstraint("project_id", "name", name=op.f("uq_collections_project_id_name")),
    )
    op.create_table(
        "documents",
        sa.Column("project_id", sa.Integer(), nullable=False),
        sa.Column("collection_id", sa.String(length=40), nullable=False),
        sa.Column("id", sa.String(length=128), nullable=False),
        sa.Column("data", JSONType, nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.Column("updated_at", UTCDateTime(), nullable=False),
        sa.ForeignKeyConstraint(
            ["project_id", "collection_id"],
            ["collections.project_id", "collections.id"],
            name=op.f("fk_documents_project_id_collection_id_collections"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["project_id"],
            ["projects.id"],
            name=op.f("fk_documents_project_id_projects"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("project_id", "collection_id", "id", name=op.f("pk_documents")),
    )
    with op.batch_alter_table("documents", schema=None) as batch_op:
        batch_op.create_index(
            "ix_documents_collection_created",
            ["project_id", "collection_id", "created_at", "id"],
            unique=False,
        )


def downgrade() -> None:
    with op.batch_alter_table("documents", schema=None) as batch_op:
        batch_op.drop_index("ix_documents_collection_created")

    op.drop_table("documents")
    op.drop_table("collections")

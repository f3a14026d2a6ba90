"""appusers: a project's end users, their sessions, auth settings, sign-in failures

Revision ID: 0006
Revises: 0005
"""

import sqlalchemy as sa
from alembic import op

from cloudbox.db.types import JSONType, UTCDateTime

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "app_users",
        sa.Column("project_id", sa.Integer(), nullable=False),
        sa.Column("id", sa.String(length=40), nullable=False),
        sa.Column("email", sa.String(length=254), nullable=False),
        sa.Column("username", sa.String(length=64), nullable=True),
        sa.Column("name", sa.String(length=200), nullable=True),
        sa.Column("password_hash", sa.String(length=200), nullable=False),
        sa.Column("is_active", sa.Boolean(), nullable=False),
        sa.Column("is_email_verified", sa.Boolean(), nullable=False),
        sa.Column("profile", JSONType, nullable=False),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.Column("updated_at", UTCDateTime(), nullable=False),
        sa.Column("last_login_at", UTCDateTime(), nullable=True),
        sa.ForeignKeyConstraint(
            ["project_id"],
            ["projects.id"],
            name=op.f("fk_app_users_project_id_projects"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("project_id", "id", name=op.f("pk_app_users")),
        sa.UniqueConstraint("project_id", "email", name=op.f("uq_app_users_project_id_email")),
        sa.UniqueConstraint(
            "project_id", "username", name=op.f("uq_app_users_project_id_username")
        ),
    )
    op.create_table(
        "app_sessions",
        sa.Column("project_id", sa.Integer(), nullable=False),
        sa.Column("id", sa.String(length=40), nullable=False),
        sa.Column("user_id", sa.String(length=40), nullable=False),
        sa.Column("token_hash", sa.String(length=64), nullable=False),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.Column("expires_at", UTCDateTime(), nullable=False),
        sa.Column("revoked_at", UTCDateTime(), nullable=True),
        sa.ForeignKeyConstraint(
            ["project_id", "user_id"],
            ["app_users.project_id", "app_users.id"],
            name=op.f("fk_app_sessions_project_id_user_id_app_users"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["project_id"],
            ["projects.id"],
            name=op.f("fk_app_sessions_project_id_projects"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("project_id", "id", name=op.f("pk_app_sessions")),
        sa.UniqueConstraint(
            "project_id", "token_hash", name=op.f("uq_app_sessions_project_id_token_hash")
        ),
    )
    with op.batch_alter_table("app_sessions", schema=None) as batch_op:
        batch_op.create_index(
            "ix_app_sessions_project_user", ["project_id", "user_id"], unique=False
        )

    op.create_table(
        "app_auth_settings",
        sa.Column("project_id", sa.Integer(), nullable=False),
        sa.Column("id", sa.String(length=40), nullable=False),
        sa.Column("allow_signup", sa.Boolean(), nullable=False),
        sa.Column("password_min_length", sa.Integer(), nullable=False),
        sa.Column("session_ttl_seconds", sa.Integer(), nullable=False),
        sa.Column("require_email_verification", sa.Boolean(), nullable=False),
        sa.Column("allowed_email_domains", JSONType, nullable=False),
        sa.Column("updated_at", UTCDateTime(), nullable=False),
        sa.ForeignKeyConstraint(
            ["project_id"],
            ["projects.id"],
            name=op.f("fk_app_auth_settings_project_id_projects"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("project_id", "id", name=op.f("pk_app_auth_settings")),
    )
    # No foreign key to projects on purpose: attempts against missing projects are
    # counted too, so the lockout does not reveal which project ids exist.
    op.create_table(
        "app_login_failures",
        sa.Column("project_id", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("email", sa.String(length=254), nullable=False),
        sa.Column("failures", sa.Integer(), nullable=False),
        sa.Column("window_started_at", UTCDateTime(), nullable=False),
        sa.Column("locked_until", UTCDateTime(), nullable=True),
        sa.PrimaryKeyConstraint("project_id", "email", name=op.f("pk_app_login_failures")),
    )


def downgrade() -> None:
    op.drop_table("app_login_failures")
    op.drop_table("app_auth_settings")
    with op.batch_alter_table("app_sessions", schema=None) as batch_op:
        batch_op.drop_index("ix_app_sessions_project_user")

    op.drop_table("app_sessions")
    op.drop_table("app_users")

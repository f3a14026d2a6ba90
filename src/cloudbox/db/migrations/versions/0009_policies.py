"""backup policies, policy runs, webhook deliveries, drill projects; backups.drill

Revision ID: 0009
Revises: 0008
"""

import sqlalchemy as sa
from alembic import op

from cloudbox.db.types import JSONType, UTCDateTime

revision = "0009"
down_revision = "0008"
branch_labels = None
depends_on = None


def _project_fk(table: str) -> sa.ForeignKeyConstraint:
    return sa.ForeignKeyConstraint(
        ["project_id"],
        ["projects.id"],
        name=op.f(f"fk_{table}_project_id_projects"),
        ondelete="CASCADE",
    )


def _policy_fk(table: str) -> sa.ForeignKeyConstraint:
    return sa.ForeignKeyConstraint(
        ["project_id", "policy_id"],
        ["backup_policies.project_id", "backup_policies.id"],
        name=op.f(f"fk_{table}_project_id_policy_id_backup_policies"),
        ondelete="CASCADE",
    )


def upgrade() -> None:
    op.create_table(
        "backup_policies",
        sa.Column("project_id", sa.Integer(), nullable=False),
        sa.Column("id", sa.String(length=40), nullable=False),
        sa.Column("name", sa.String(length=150), nullable=False),
        sa.Column("schedule", sa.String(length=100), nullable=False),
        sa.Column("timezone", sa.String(length=64), nullable=False),
        sa.Column("enabled", sa.Boolean(), nullable=False),
        sa.Column("keep_last", sa.Integer(), nullable=True),
        sa.Column("keep_daily", sa.Integer(), nullable=True),
        sa.Column("keep_weekly", sa.Integer(), nullable=True),
        sa.Column("keep_monthly", sa.Integer(), nullable=True),
        sa.Column("max_age_days", sa.Integer(), nullable=True),
        sa.Column("verify_after_backup", sa.Boolean(), nullable=False),
        sa.Column("restore_drill", sa.Boolean(), nullable=False),
        sa.Column("webhook_url_encrypted", sa.Text(), nullable=True),
        sa.Column("webhook_secret_encrypted", sa.Text(), nullable=True),
        sa.Column("webhook_origin", sa.String(length=300), nullable=True),
        sa.Column("stale_after_hours", sa.Integer(), nullable=True),
        sa.Column("next_run_at", UTCDateTime(), nullable=True),
        sa.Column("last_run_at", UTCDateTime(), nullable=True),
        sa.Column("stale_notified_at", UTCDateTime(), nullable=True),
        sa.Column("created_by", sa.Integer(), nullable=True),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.Column("updated_at", UTCDateTime(), nullable=False),
        _project_fk("backup_policies"),
        sa.PrimaryKeyConstraint("project_id", "id", name=op.f("pk_backup_policies")),
    )
    op.create_index("ix_backup_policies_id", "backup_policies", ["id"], unique=True)
    op.create_index("ix_backup_policies_due", "backup_policies", ["enabled", "next_run_at"])
    op.create_table(
        "policy_runs",
        sa.Column("project_id", sa.Integer(), nullable=False),
        sa.Column("id", sa.String(length=40), nullable=False),
        sa.Column("policy_id", sa.String(length=40), nullable=False),
        sa.Column("slot_time", UTCDateTime(), nullable=False),
        sa.Column("status", sa.String(length=20), nullable=False),
        sa.Column("reason", sa.String(length=60), nullable=True),
        sa.Column("message", sa.String(length=500), nullable=True),
        sa.Column("backup_id", sa.Integer(), nullable=True),
        sa.Column("details", JSONType, nullable=False),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.Column("finished_at", UTCDateTime(), nullable=True),
        _policy_fk("policy_runs"),
        _project_fk("policy_runs"),
        sa.PrimaryKeyConstraint("project_id", "id", name=op.f("pk_policy_runs")),
        sa.UniqueConstraint(
            "policy_id", "slot_time", name=op.f("uq_policy_runs_policy_id_slot_time")
        ),
    )
    op.create_index("ix_policy_runs_backup", "policy_runs", ["backup_id"])
    op.create_index("ix_policy_runs_created", "policy_runs", ["created_at"])
    op.create_table(
        "webhook_deliveries",
        sa.Column("project_id", sa.Integer(), nullable=False),
        sa.Column("id", sa.String(length=40), nullable=False),
        sa.Column("policy_id", sa.String(length=40), nullable=False),
        sa.Column("event", sa.String(length=40), nullable=False),
        sa.Column("payload", JSONType, nullable=False),
        sa.Column("status", sa.String(length=20), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("response_status", sa.Integer(), nullable=True),
        sa.Column("last_error", sa.String(length=300), nullable=True),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.Column("last_attempt_at", UTCDateTime(), nullable=True),
        sa.Column("delivered_at", UTCDateTime(), nullable=True),
        _policy_fk("webhook_deliveries"),
        _project_fk("webhook_deliveries"),
        sa.PrimaryKeyConstraint("project_id", "id", name=op.f("pk_webhook_deliveries")),
    )
    op.create_index("ix_webhook_deliveries_created", "webhook_deliveries", ["created_at"])
    op.create_table(
        "drill_projects",
        sa.Column("project_id", sa.Integer(), nullable=False),
        sa.Column("backup_id", sa.Integer(), nullable=False),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        _project_fk("drill_projects"),
        sa.PrimaryKeyConstraint("project_id", name=op.f("pk_drill_projects")),
    )
    with op.batch_alter_table("backups", schema=None) as batch_op:
        batch_op.add_column(sa.Column("drill", JSONType, nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("backups", schema=None) as batch_op:
        batch_op.drop_column("drill")
    op.drop_table("drill_projects")
    op.drop_index("ix_webhook_deliveries_created", table_name="webhook_deliveries")
    op.drop_table("webhook_deliveries")
    op.drop_index("ix_policy_runs_created", table_name="policy_runs")
    op.drop_index("ix_policy_runs_backup", table_name="policy_runs")
    op.drop_table("policy_runs")
    op.drop_index("ix_backup_policies_due", table_name="backup_policies")
    op.drop_index("ix_backup_policies_id", table_name="backup_policies")
    op.drop_table("backup_policies")

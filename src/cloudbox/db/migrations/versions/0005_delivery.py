"""delivery: ssh keys, github repositories, web servers, deployments

Revision ID: 0005
Revises: 0004
"""

import sqlalchemy as sa
from alembic import op

from cloudbox.db.types import JSONType, UTCDateTime

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "ssh_keys",
        sa.Column("project_id", sa.Integer(), nullable=False),
        sa.Column("id", sa.String(length=40), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("description", sa.Text(), nullable=False),
        sa.Column("key_type", sa.String(length=40), nullable=False),
        sa.Column("public_key", sa.Text(), nullable=False),
        sa.Column("fingerprint", sa.String(length=100), nullable=False),
        sa.Column("private_key_encrypted", sa.Text(), nullable=False),
        sa.Column("is_active", sa.Boolean(), nullable=False),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.Column("updated_at", UTCDateTime(), nullable=False),
        sa.ForeignKeyConstraint(
            ["project_id"],
            ["projects.id"],
            name=op.f("fk_ssh_keys_project_id_projects"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("project_id", "id", name=op.f("pk_ssh_keys")),
        sa.UniqueConstraint("project_id", "name", name=op.f("uq_ssh_keys_project_id_name")),
    )
    op.create_table(
        "github_repositories",
        sa.Column("project_id", sa.Integer(), nullable=False),
        sa.Column("id", sa.String(length=40), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("full_name", sa.String(length=200), nullable=False),
        sa.Column("clone_url", sa.String(length=500), nullable=False),
        sa.Column("branch", sa.String(length=255), nullable=False),
        sa.Column("is_private", sa.Boolean(), nullable=False),
        sa.Column("ssh_key_id", sa.String(length=40), nullable=True),
        sa.Column("webhook_secret_encrypted", sa.Text(), nullable=True),
        sa.Column("access_token_encrypted", sa.Text(), nullable=True),
        sa.Column("build_command", sa.Text(), nullable=False),
        sa.Column("start_command", sa.Text(), nullable=False),
        sa.Column("environment", JSONType, nullable=False),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.Column("updated_at", UTCDateTime(), nullable=False),
        sa.ForeignKeyConstraint(
            ["project_id"],
            ["projects.id"],
            name=op.f("fk_github_repositories_project_id_projects"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["project_id", "ssh_key_id"],
            ["ssh_keys.project_id", "ssh_keys.id"],
            name="fk_github_repositories_ssh_key_id_ssh_keys",
        ),
        sa.PrimaryKeyConstraint("project_id", "id", name=op.f("pk_github_repositories")),
    )
    with op.batch_alter_table("github_repositories", schema=None) as batch_op:
        batch_op.create_index(
            "ix_github_repositories_ssh_key", ["project_id", "ssh_key_id"], unique=False
        )

    op.create_table(
        "web_servers",
        sa.Column("project_id", sa.Integer(), nullable=False),
        sa.Column("id", sa.String(length=40), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("hostname", sa.String(length=253), nullable=False),
        sa.Column("port", sa.Integer(), nullable=False),
        sa.Column("username", sa.String(length=32), nullable=False),
        sa.Column("ssh_key_id", sa.String(length=40), nullable=True),
        sa.Column("server_type", sa.String(length=20), nullable=False),
        sa.Column("deploy_path", sa.String(length=1024), nullable=False),
        sa.Column("is_active", sa.Boolean(), nullable=False),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.Column("updated_at", UTCDateTime(), nullable=False),
        sa.CheckConstraint("port >= 1 AND port <= 65535", name=op.f("ck_web_servers_port_range")),
        sa.CheckConstraint(
            "server_type IN ('vps', 'dedicated', 'cloud')",
            name=op.f("ck_web_servers_server_type"),
        ),
        sa.ForeignKeyConstraint(
            ["project_id"],
            ["projects.id"],
            name=op.f("fk_web_servers_project_id_projects"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["project_id", "ssh_key_id"],
            ["ssh_keys.project_id", "ssh_keys.id"],
            name="fk_web_servers_ssh_key_id_ssh_keys",
        ),
        sa.PrimaryKeyConstraint("project_id", "id", name=op.f("pk_web_servers")),
    )
    with op.batch_alter_table("web_servers", schema=None) as batch_op:
        batch_op.create_index("ix_web_servers_ssh_key", ["project_id", "ssh_key_id"], unique=False)

    op.create_table(
        "deployments",
        sa.Column("project_id", sa.Integer(), nullable=False),
        sa.Column("id", sa.String(length=40), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("description", sa.Text(), nullable=False),
        sa.Column("domain", sa.String(length=253), nullable=True),
        sa.Column("github_repository_id", sa.String(length=40), nullable=False),
        sa.Column("web_server_id", sa.String(length=40), nullable=False),
        sa.Column("branch", sa.String(length=255), nullable=False),
        sa.Column("environment", JSONType, nullable=False),
        sa.Column("build_command", sa.Text(), nullable=False),
        sa.Column("start_command", sa.Text(), nullable=False),
        sa.Column("status", sa.String(length=20), nullable=False),
        sa.Column("version", sa.String(length=100), nullable=True),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.Column("updated_at", UTCDateTime(), nullable=False),
        sa.CheckConstraint(
            "status IN ('pending', 'building', 'deployed', 'failed')",
            name=op.f("ck_deployments_status"),
        ),
        sa.ForeignKeyConstraint(
            ["project_id"],
            ["projects.id"],
            name=op.f("fk_deployments_project_id_projects"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["project_id", "github_repository_id"],
            ["github_repositories.project_id", "github_repositories.id"],
            name="fk_deployments_github_repository_id_github_repositories",
        ),
        sa.ForeignKeyConstraint(
            ["project_id", "web_server_id"],
            ["web_servers.project_id", "web_servers.id"],
            name="fk_deployments_web_server_id_web_servers",
        ),
        sa.PrimaryKeyConstraint("project_id", "id", name=op.f("pk_deployments")),
    )
    with op.batch_alter_table("deployments", schema=None) as batch_op:
        batch_op.create_index(
            "ix_deployments_github_repository",
            ["project_id", "github_repository_id"],
            unique=False,
        )
        batch_op.create_index(
            "ix_deployments_web_server", ["project_id", "web_server_id"], unique=False
        )


def downgrade() -> None:
    with op.batch_alter_table("deployments", schema=None) as batch_op:
        batch_op.drop_index("ix_deployments_web_server")
        batch_op.drop_index("ix_deployments_github_repository")

    op.drop_table("deployments")
    with op.batch_alter_table("web_servers", schema=None) as batch_op:
        batch_op.drop_index("ix_web_servers_ssh_key")

    op.drop_table("web_servers")
    with op.batch_alter_table("github_repositories", schema=None) as batch_op:
        batch_op.drop_index("ix_github_repositories_ssh_key")

    op.drop_table("github_repositories")
    op.drop_table("ssh_keys")

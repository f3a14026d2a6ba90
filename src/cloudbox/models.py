"""Every model, imported in one place so Alembic and the schema test see the whole schema."""

import cloudbox.appusers.models
import cloudbox.backups.models
import cloudbox.collections.models
import cloudbox.delivery.models
import cloudbox.files.models
import cloudbox.functions.models
import cloudbox.jobs.models
import cloudbox.policies.models
import cloudbox.restores.models  # noqa: F401
from cloudbox.apikeys.models import ApiKey
from cloudbox.audit.models import AuditLog
from cloudbox.auth.models import AuthSession, LoginFailure, User
from cloudbox.cors.models import CorsConfig
from cloudbox.db.base import Base
from cloudbox.projects.models import Project, ProjectMember

__all__ = [
    "ApiKey",
    "AuditLog",
    "AuthSession",
    "Base",
    "CorsConfig",
    "LoginFailure",
    "Project",
    "ProjectMember",
    "User",
]

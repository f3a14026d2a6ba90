"""Every router of the API, in one list the app factory mounts."""

from __future__ import annotations

from fastapi import APIRouter

from cloudbox.api import health
from cloudbox.apikeys import routes as apikeys
from cloudbox.appusers import routes as appusers
from cloudbox.audit import routes as audit
from cloudbox.auth import routes as auth
from cloudbox.backups import routes as backups
from cloudbox.collections import routes as collections
from cloudbox.cors import routes as cors
from cloudbox.delivery import routes as delivery
from cloudbox.files import routes as files
from cloudbox.functions import routes as functions
from cloudbox.policies import routes as policies
from cloudbox.projects import routes as projects
from cloudbox.restores import routes as restores

ROUTERS: list[APIRouter] = [
    health.router,
    auth.router,
    projects.router,
    apikeys.router,
    cors.router,
    audit.router,
    collections.router,
    files.router,
    functions.router,
    delivery.router,
    appusers.router,
    backups.router,
    restores.router,
    policies.router,
]

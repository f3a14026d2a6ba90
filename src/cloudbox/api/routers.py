"""Every router of the API, in one list the app factory mounts."""

from __future__ import annotations

from fastapi import APIRouter

from cloudbox.api import health
from cloudbox.apikeys import routes as apikeys
from cloudbox.audit import routes as audit
from cloudbox.auth import routes as auth
from cloudbox.cors import routes as cors
from cloudbox.projects import routes as projects

ROUTERS: list[APIRouter] = [
    health.router,
    auth.router,
    projects.router,
    apikeys.router,
    cors.router,
    audit.router,
]

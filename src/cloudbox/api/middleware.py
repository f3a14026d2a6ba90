"""ASGI middleware: the audit trail of mutating requests, per-project CORS, and a cap on
request body sizes. Pure ASGI (not BaseHTTPMiddleware) so streamed bodies stay streamed."""

from __future__ import annotations

import json
import logging
import re
from typing import Any

from anyio import to_thread
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from cloudbox.apikeys import service as apikeys
from cloudbox.audit import service as audit
from cloudbox.cors import service as cors
from cloudbox.cors.service import CorsRules
from cloudbox.projects.models import Project
from cloudbox.runtime import Runtime

log = logging.getLogger(__name__)

_VERBS = {"POST": "create", "PUT": "update", "PATCH": "update", "DELETE": "delete"}
_PROJECT_PATH = re.compile(r"^/api/projects/(\d{1,10})(?:/|$)")
_STREAMED_TYPES = ("multipart/form-data", "application/gzip", "application/octet-stream")


#: last path segments that name an action on a resource rather than a sub-resource
_ACTION_SEGMENTS = frozenset(
    {"cancel", "verify", "restore", "undo", "import", "download", "login", "logout", "register"}
)


def audit_name(
    template: str, path_params: dict[str, Any], method: str
) -> tuple[str, str, str | None]:
    """Derive (action, resource, resource_id) from a route template: for example
    `/api/projects/{project_id}/members/{user_id}` DELETE → `members.delete`, and
    `/api/backups/{backup_id}/cancel` POST → `backups.cancel`."""
    parts = [p for p in template.split("/") if p][1:]  # drop "api"
    if parts[:2] == ["projects", "{project_id}"]:
        parts = parts[2:]
    elif parts == ["projects"]:
        parts = []
    verb = _VERBS.get(method, method.lower())
    if parts and parts[-1] in _ACTION_SEGMENTS:
        verb = parts.pop()
    resource, resource_id = "project", None
    statics = [p for p in parts if not p.startswith("{")]
    if statics:
        resource = statics[-1].replace("-", "_")
    if parts and parts[-1].startswith("{"):
        resource_id = str(path_params.get(parts[-1][1:-1]))
    elif not parts and "project_id" in path_params:
        resource_id = str(path_params["project_id"])
    return f"{resource}.{verb}", resource, resource_id


class AuditMiddleware:
    """Writes one audit entry per mutating request that reached a project, after the
    response, in its own transaction, so refused and failed requests are recorded too."""

    def __init__(self, app: ASGIApp, runtime: Runtime) -> None:
        self.app = app
        self.runtime = runtime

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["method"] not in _VERBS:
            await self.app(scope, receive, send)
            return
        status = 500

        async def send_wrapper(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            await send(message)

        try:
            await self.app(scope, receive, send_wrapper)
        finally:
            state = scope.get("state", {})
            target = state.get("audit")
            if target is not None and not state.get("audit_done"):
                await to_thread.run_sync(self._write, scope, state, target, status)

    def _write(self, scope: Scope, state: dict[str, Any], target: Any, status: int) -> None:
        route = scope.get("route")
        template = str(getattr(route, "path", None) or scope["path"])
        action, resource, resource_id = audit_name(
            template, scope.get("path_params", {}), scope["method"]
        )
        action = state.get("audit_action", action)
        resource = state.get("audit_resource", resource)
        resource_id = state.get("audit_resource_id", resource_id)
        success = status < 400
        try:
            with self.runtime.db.transaction() as db:
                if db.get(Project, target.project_id) is None:
                    return  # the request deleted the project; nothing to attach the entry to
                audit.record(
                    db,
                    target.project_id,
                    action=action,
                    resource=resource,
                    resource_id=resource_id,
                    actor=target.actor,
                    success=success,
                    error_code=None if success else state.get("error_code", "INTERNAL_ERROR"),
                    details={"method": scope["method"], "path": scope["path"], "status": status},
                )
        except Exception:
            log.exception(
                "could not write the audit entry for %s %s", scope["method"], scope["path"]
            )


class BodyLimitMiddleware:
    """Refuses JSON bodies over the configured size with 413, before they are buffered.
    Uploads (multipart, gzip, octet-stream) are streamed and limited by their own routes."""

    def __init__(self, app: ASGIApp, max_bytes: int) -> None:
        self.app = app
        self.max_bytes = max_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        headers = dict(scope.get("headers", []))
        content_type = headers.get(b"content-type", b"").decode("latin-1").lower()
        if content_type.startswith(_STREAMED_TYPES):
            await self.app(scope, receive, send)
            return
        length = headers.get(b"content-length")
        if length is not None and (not length.isdigit() or int(length) > self.max_bytes):
            await _send_error(send, 413, "PAYLOAD_TOO_LARGE", "The request body is too large")
            return
        seen = 0

        async def limited_receive() -> Message:
            nonlocal seen
            message = await receive()
            if message["type"] == "http.request":
                seen += len(message.get("body", b""))
                if seen > self.max_bytes:
                    raise _BodyTooLarge()
            return message

        try:
            await self.app(scope, limited_receive, send)
        except _BodyTooLarge:
            await _send_error(send, 413, "PAYLOAD_TOO_LARGE", "The request body is too large")


class _BodyTooLarge(Exception):
    pass


async def _send_error(
    send: Send,
    status: int,
    code: str,
    message: str,
    headers: list[tuple[bytes, bytes]] | None = None,
) -> None:
    body = json.dumps({"error": {"code": code, "message": message, "details": {}}}).encode()
    await send(
        {
            "type": "http.response.start",
            "status": status,
            "headers": [
                (b"content-type", b"application/json"),
                (b"content-length", str(len(body)).encode()),
                *(headers or []),
            ],
        }
    )
    await send({"type": "http.response.body", "body": body})


class ProjectCorsMiddleware:
    """Applies a project's CORS settings.

    Preflights name no credential, so the project comes from the path
    (`/api/projects/{id}/...`). Actual requests get CORS headers when they carry an API
    key of a project whose rules allow the origin. A project that does not exist answers a
    preflight exactly like one without rules.
    """

    def __init__(self, app: ASGIApp, runtime: Runtime) -> None:
        self.app = app
        self.runtime = runtime

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        headers = {
            k.decode("latin-1").lower(): v.decode("latin-1") for k, v in scope.get("headers", [])
        }
        origin = headers.get("origin")
        if not origin:
            await self.app(scope, receive, send)
            return
        if scope["method"] == "OPTIONS" and "access-control-request-method" in headers:
            await self._preflight(scope, send, headers, origin)
            return
        key = headers.get("x-api-key") or _bearer(headers.get("authorization", ""))
        rules = None
        if key and key.startswith("cbk_"):
            rules = await to_thread.run_sync(self._rules_for_key, key)
        if rules is None or not rules.allows_origin(origin):
            await self.app(scope, receive, send)
            return
        extra = _cors_headers(rules, origin)
        if rules.exposed_headers:
            extra.append(
                (b"access-control-expose-headers", ", ".join(rules.exposed_headers).encode())
            )

        async def send_wrapper(message: Message) -> None:
            if message["type"] == "http.response.start":
                message = {**message, "headers": [*message.get("headers", []), *extra]}
            await send(message)

        await self.app(scope, receive, send_wrapper)

    async def _preflight(
        self, scope: Scope, send: Send, headers: dict[str, str], origin: str
    ) -> None:
        match = _PROJECT_PATH.match(scope["path"])
        rules = (
            await to_thread.run_sync(self._rules_for_project, int(match.group(1)))
            if match
            else None
        )
        method = headers["access-control-request-method"]
        requested = [
            h.strip()
            for h in headers.get("access-control-request-headers", "").split(",")
            if h.strip()
        ]
        if rules is None or not (
            rules.allows_origin(origin)
            and rules.allows_method(method)
            and rules.allows_headers(requested)
        ):
            await _send_error(
                send,
                403,
                "CORS_NOT_ALLOWED",
                "This origin may not call this project",
                [(b"vary", b"Origin")],
            )
            return
        out = _cors_headers(rules, origin)
        out += [
            (b"access-control-allow-methods", ", ".join(rules.allowed_methods).encode()),
            (
                b"access-control-allow-headers",
                ", ".join(requested or rules.allowed_headers).encode(),
            ),
            (b"access-control-max-age", str(rules.max_age).encode()),
        ]
        await send({"type": "http.response.start", "status": 204, "headers": out})
        await send({"type": "http.response.body", "body": b""})

    def _rules_for_key(self, key: str) -> CorsRules | None:
        with self.runtime.db.session() as db:
            project_id = apikeys.project_of_key(db, key)
            return cors.rules_for(db, project_id) if project_id is not None else None

    def _rules_for_project(self, project_id: int) -> CorsRules | None:
        with self.runtime.db.session() as db:
            if db.get(Project, project_id) is None:
                return None
            return cors.rules_for(db, project_id)


def _bearer(value: str) -> str | None:
    scheme, _, token = value.partition(" ")
    return token.strip() if scheme.lower() == "bearer" else None


def _cors_headers(rules: CorsRules, origin: str) -> list[tuple[bytes, bytes]]:
    out = [(b"access-control-allow-origin", origin.encode()), (b"vary", b"Origin")]
    if rules.allow_credentials:
        out.append((b"access-control-allow-credentials", b"true"))
    return out

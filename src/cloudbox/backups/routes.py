"""Backup endpoints, with the spec's paths: `/api/projects/{id}/backups` and
`/api/backups/{id}`."""

from __future__ import annotations

import asyncio
import base64
import json
import re
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from typing import Annotated

from anyio import to_thread
from fastapi import APIRouter, Depends, Path, Request, Response, status
from fastapi.responses import StreamingResponse

from cloudbox.api.deps import (
    DbDep,
    PrincipalDep,
    RuntimeDep,
    actor_of,
    authorize_resource,
    project_access,
)
from cloudbox.api.pagination import PageDep, paged
from cloudbox.api.ranges import RangeNotSatisfiable, Unsatisfiable, parse_range
from cloudbox.api.uploads import RequestBody, receive_upload
from cloudbox.audit import service as audit
from cloudbox.backups import service
from cloudbox.backups.errors import BackupIncomplete, BackupNotFound
from cloudbox.backups.models import Backup
from cloudbox.backups.schemas import BackupCreate, BackupOut, VerifyOut
from cloudbox.db.types import utcnow
from cloudbox.errors import AppError, InvalidInput
from cloudbox.projects.roles import Role, Scope
from cloudbox.projects.service import ProjectAccess
from cloudbox.runtime import Runtime

router = APIRouter(tags=["backups"])
BackupId = Annotated[int, Path(ge=1, le=2**31 - 1)]
_ORDER = {
    "created_at": Backup.created_at,
    "name": Backup.name,
    "size": Backup.size,
    "id": Backup.id,
}
ProjectDeveloper = Annotated[
    ProjectAccess, Depends(project_access(Role.developer, Scope.backups, guard_restore=False))
]
ProjectAdmin = Annotated[
    ProjectAccess, Depends(project_access(Role.admin, Scope.backups, guard_restore=False))
]


class UnsupportedUpload(AppError):
    code = "UNSUPPORTED_MEDIA_TYPE"
    status = 415
    message = "Send the archive as multipart/form-data (field `file`) or as application/gzip"


@dataclass(frozen=True)
class BackupAccess:
    backup: Backup
    access: ProjectAccess


def backup_access(min_role: Role) -> Callable[..., BackupAccess]:
    """The backup named in the path, if the caller may act on its project. Someone who is
    not a member gets BACKUP_NOT_FOUND, exactly as for a backup that does not exist."""

    def dependency(
        backup_id: BackupId, request: Request, db: DbDep, principal: PrincipalDep
    ) -> BackupAccess:
        row = db.get(Backup, backup_id)
        if row is None:
            raise BackupNotFound()
        access = authorize_resource(
            request,
            db,
            principal,
            row.project_id,
            min_role,
            not_found=BackupNotFound,
            resource="backups",
            resource_id=str(row.id),
        )
        return BackupAccess(backup=row, access=access)

    return dependency


BackupDeveloper = Annotated[BackupAccess, Depends(backup_access(Role.developer))]
BackupAdmin = Annotated[BackupAccess, Depends(backup_access(Role.admin))]


@router.post(
    "/api/projects/{project_id}/backups",
    status_code=status.HTTP_201_CREATED,
    response_model=BackupOut,
    responses={409: {"description": "BACKUP_IN_PROGRESS"}, 507: {"description": "STORAGE_FULL"}},
)
def create_backup(
    body: BackupCreate, access: ProjectDeveloper, db: DbDep, runtime: RuntimeDep, request: Request
) -> BackupOut:
    row = service.create(
        db,
        runtime,
        access.project_id,
        name=body.name,
        description=body.description,
        type=body.type,
        actor=actor_of(request, access.principal),
        user_id=access.principal.user_id,
    )
    db.commit()
    request.state.audit_resource_id = str(row.id)
    try:
        runtime.enqueue("create_backup", row.id)
    except Exception:
        service._fail(runtime, row.id, "BACKUP_FAILED", "The job queue is unavailable")
        raise
    return BackupOut.of(row)


@router.get("/api/projects/{project_id}/backups", response_model=list[BackupOut])
def list_backups(
    access: ProjectDeveloper, db: DbDep, response: Response, page: PageDep
) -> list[BackupOut]:
    query = service.list_query(access.project_id)
    rows = db.scalars(
        paged(db, response, query, page, _ORDER, Backup.created_at.desc()).order_by(
            Backup.id.desc()
        )
    )
    return [BackupOut.of(row) for row in rows]


@router.get("/api/backups/{backup_id}", response_model=BackupOut)
def get_backup(found: BackupDeveloper) -> BackupOut:
    return BackupOut.of(found.backup)


@router.delete(
    "/api/backups/{backup_id}",
    status_code=status.HTTP_204_NO_CONTENT,
    responses={409: {"description": "BACKUP_IN_PROGRESS while creating"}},
)
def delete_backup(found: BackupAdmin, db: DbDep, runtime: RuntimeDep) -> None:
    key = service.delete(db, found.backup)
    db.commit()
    service.remove_archive(runtime.archives, key)


@router.post("/api/backups/{backup_id}/cancel", response_model=BackupOut)
def cancel_backup(found: BackupDeveloper, db: DbDep) -> BackupOut:
    row = service.cancel(db, found.backup)
    db.commit()
    return BackupOut.of(row)


@router.post("/api/backups/{backup_id}/verify", response_model=VerifyOut)
def verify_backup(found: BackupDeveloper, db: DbDep, runtime: RuntimeDep) -> VerifyOut:
    row = found.backup
    if row.status != service.STATUS_COMPLETED:
        raise BackupIncomplete()
    report = service.verify_stored(runtime.archives, row)
    if report.ok:
        row.verified_at = utcnow()
    db.commit()
    return VerifyOut(
        ok=report.ok,
        checked_members=report.checked_members,
        problems=report.problems,
        checksum=f"sha256:{report.sha256}" if report.sha256 else None,
        size=report.size,
    )


def _event(name: str, data: dict[str, object]) -> bytes:
    return f"event: {name}\ndata: {json.dumps(data, default=str)}\n\n".encode()


@router.get(
    "/api/backups/{backup_id}/events",
    response_class=StreamingResponse,
    responses={200: {"content": {"text/event-stream": {}}}},
)
async def backup_events(
    found: BackupDeveloper, runtime: RuntimeDep, request: Request
) -> StreamingResponse:
    """Server-sent events: `progress` whenever the row changes, then one `status` event
    with the final backup object, then the stream ends."""
    backup_id = found.backup.id
    interval = min(runtime.settings.job_progress_interval_seconds, 1.0)

    def load() -> BackupOut:
        with runtime.db.session() as db:
            row = db.get(Backup, backup_id)
            if row is None:
                raise BackupNotFound()
            return BackupOut.of(row)

    async def stream() -> AsyncIterator[bytes]:
        yield b"retry: 2000\n\n"
        last: str | None = None
        idle = 0.0
        while True:
            current = await to_thread.run_sync(load)
            if current.status != "creating":
                yield _event("status", current.model_dump(mode="json"))
                return
            marker = current.progress.model_dump_json()
            if marker != last:
                last, idle = marker, 0.0
                yield _event(
                    "progress",
                    {"id": backup_id, "status": current.status, **current.progress.model_dump()},
                )
            elif idle >= 15:
                idle = 0.0
                yield b": keep-alive\n\n"
            if await request.is_disconnected():
                return
            await asyncio.sleep(interval)
            idle += interval

    return StreamingResponse(
        stream(),
        media_type="text/event-stream",
        headers={"Cache-Control": "no-cache", "X-Accel-Buffering": "no"},
    )


@router.get(
    "/api/backups/{backup_id}/download",
    response_class=StreamingResponse,
    responses={
        200: {"content": {"application/gzip": {}}},
        206: {"description": "Partial content"},
        409: {"description": "BACKUP_INCOMPLETE"},
        416: {"description": "RANGE_NOT_SATISFIABLE"},
    },
)
def download_backup(found: BackupAdmin, runtime: RuntimeDep, request: Request) -> StreamingResponse:
    row = found.backup
    if row.status != service.STATUS_COMPLETED or row.size is None or not row.checksum:
        raise BackupIncomplete()
    size = row.size
    try:
        byte_range = parse_range(request.headers.get("range"), size)
    except Unsatisfiable:
        raise RangeNotSatisfiable(details={"size": size}) from None
    digest = base64.b64encode(bytes.fromhex(row.checksum.removeprefix("sha256:"))).decode()
    headers = {
        "Content-Disposition": f'attachment; filename="backup-{row.project_id}-{row.id}.tar.gz"',
        "Accept-Ranges": "bytes",
        "ETag": f'"{row.checksum.removeprefix("sha256:")}"',
        "Digest": f"sha-256={digest}",
        "Repr-Digest": f"sha-256=:{digest}:",
    }
    start, end = (byte_range.start, byte_range.end) if byte_range else (0, size)
    chunks = runtime.archives.open(row.file_path, start, end)
    _audit_download(runtime, request, found, byte_range is not None)
    headers["Content-Length"] = str(end - start)
    if byte_range is None:
        return StreamingResponse(iter(chunks), media_type="application/gzip", headers=headers)
    headers["Content-Range"] = f"bytes {start}-{end - 1}/{size}"
    return StreamingResponse(
        iter(chunks), status_code=206, media_type="application/gzip", headers=headers
    )


def _audit_download(runtime: Runtime, request: Request, found: BackupAccess, partial: bool) -> None:
    with runtime.db.transaction() as db:
        audit.record(
            db,
            found.backup.project_id,
            action="backups.download",
            resource="backups",
            resource_id=str(found.backup.id),
            actor=actor_of(request, found.access.principal),
            details={"partial": partial},
        )


_HEX64 = re.compile(r"^(sha256:)?([0-9a-fA-F]{64})$")


def _checksum_param(value: str | None) -> str | None:
    if value is None or value == "":
        return None
    match = _HEX64.match(value.strip())
    if match is None:
        raise InvalidInput(
            "sha256 must be 64 hex digits, with or without the sha256: prefix",
            details={"field": "sha256"},
        )
    return match.group(2).lower()


def _text(value: str | None, field: str, limit: int) -> str | None:
    if value is not None and len(value) > limit:
        raise InvalidInput(f"{field} is too long", details={"field": field, "max_length": limit})
    return value


@router.post(
    "/api/projects/{project_id}/backups/import",
    status_code=status.HTTP_201_CREATED,
    response_model=BackupOut,
    responses={
        422: {"description": "INVALID_ARCHIVE or UNSUPPORTED_BACKUP_VERSION"},
        507: {"description": "STORAGE_FULL"},
    },
    openapi_extra={
        "requestBody": {
            "content": {
                "multipart/form-data": {
                    "schema": {
                        "type": "object",
                        "required": ["file"],
                        "properties": {
                            "file": {"type": "string", "format": "binary"},
                            "name": {"type": "string", "maxLength": 200},
                            "description": {"type": "string", "maxLength": 2000},
                            "sha256": {"type": "string"},
                        },
                    }
                },
                "application/gzip": {"schema": {"type": "string", "format": "binary"}},
            }
        }
    },
)
async def import_backup(
    access: ProjectAdmin, db: DbDep, runtime: RuntimeDep, request: Request
) -> BackupOut:
    """Upload an archive (multipart field `file`, or a raw `application/gzip` body with
    `X-Checksum-SHA256`); it is streamed to storage and verified completely before it
    becomes a completed backup. A bad archive leaves nothing behind."""
    project_id, principal = access.project_id, access.principal
    # Hold no database lock while the body streams (SQLite has one writer); the ORM
    # objects are expired by the rollback, so only plain values are used after it.
    await to_thread.run_sync(db.close)
    content_type = (request.headers.get("content-type") or "").lower()
    raw = content_type.startswith(
        ("application/gzip", "application/x-gzip", "application/octet-stream")
    )
    if not raw and not content_type.startswith("multipart/form-data"):
        raise UnsupportedUpload()
    length = request.headers.get("content-length", "")
    header_name = _text(request.headers.get("x-backup-name"), "name", 200)
    row = await to_thread.run_sync(
        lambda: service.start_import(
            runtime,
            project_id,
            name=header_name or "Imported backup",
            description="",
            actor=actor_of(request, principal),
            user_id=principal.user_id,
            expected_bytes=int(length) if length.isdigit() else None,
        )
    )
    request.state.audit_resource_id = str(row.id)
    request.state.audit_action = "backups.import"
    archives = runtime.archives
    body = RequestBody(request)

    def heartbeat(nbytes: int) -> None:
        service.touch_import(runtime, row.id, nbytes)

    try:
        if raw:
            expected = _checksum_param(request.headers.get("x-checksum-sha256"))
            sha256, size = await to_thread.run_sync(
                service.store_upload, archives, row.file_path, body.pull(), heartbeat
            )
            fields: dict[str, str] = {}
        else:
            received = await receive_upload(
                body,
                request.headers.get("content-type"),
                file_field="file",
                text_fields=frozenset({"name", "description", "sha256"}),
                on_file=lambda part, seen: None,
                store=lambda chunks: service.store_upload(
                    archives, row.file_path, chunks, heartbeat
                ),
            )
            sha256, size = received.stored
            fields = received.fields
            expected = _checksum_param(fields.get("sha256"))
        name = _text(fields.get("name"), "name", 200) or header_name
        description = _text(fields.get("description"), "description", 2000)
    except BaseException:
        await to_thread.run_sync(service.abandon_import, runtime, row.id)
        raise
    finally:
        await body.aclose()
    done = await to_thread.run_sync(
        lambda: service.finish_import(
            runtime,
            row.id,
            sha256=sha256,
            size=size,
            expected_sha256=expected,
            name=name,
            description=description,
        )
    )
    return BackupOut.of(done)

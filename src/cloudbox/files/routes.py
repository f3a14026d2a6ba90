"""HTTP routes of storage buckets and files.

Uploads are an `async` route that parses the multipart body itself (see `upload.py`) and
does its database work in worker threads; it ends the request's transaction before the
body streams so no lock or snapshot is held while bytes arrive. Downloads stream from the
blob store with ranges and ETags.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator, Mapping
from typing import Annotated, Any
from urllib.parse import quote

import anyio.to_thread
from fastapi import APIRouter, Path, Query, Request, Response, status
from fastapi.responses import StreamingResponse
from sqlalchemy.orm import Session

from cloudbox.api.deps import DbDep, Developer, RuntimeDep, Viewer
from cloudbox.api.errors import error_response
from cloudbox.api.pagination import PageDep, paged
from cloudbox.api.ranges import (
    RangeNotSatisfiable,
    Unsatisfiable,
    none_match,
    parse_range,
    range_applies,
)
from cloudbox.api.uploads import (
    MAX_FIELD_BYTES,
    MAX_PARTS,
    FilePart,
    RequestBody,
    receive_upload,
)
from cloudbox.blobstore import BlobInfo, BlobStore
from cloudbox.files import service
from cloudbox.files.errors import FileTooLarge
from cloudbox.files.models import File, StorageBucket
from cloudbox.files.schemas import BucketCreate, BucketOut, BucketUpdate, FileOut, FileUpdate
from cloudbox.files.service import AcceptedPart, UploadTarget

router = APIRouter(prefix="/api/projects/{project_id}", tags=["files"])

BucketNamePath = Annotated[str, Path(min_length=1, max_length=100, description="Bucket name")]
FileIdPath = Annotated[str, Path(min_length=1, max_length=40, pattern=r"^[0-9a-z]+$")]

_BUCKET_ORDER = {"name": StorageBucket.name, "created_at": StorageBucket.created_at}
_FILE_ORDER = {
    "name": File.name,
    "size": File.size,
    "created_at": File.created_at,
    "updated_at": File.updated_at,
}
#: Room for the multipart framing and the small text fields around the file's bytes.
_FORM_OVERHEAD = 64 * 1024 + MAX_PARTS * MAX_FIELD_BYTES

_UPLOAD_BODY: dict[str, Any] = {
    "requestBody": {
        "required": True,
        "content": {
            "multipart/form-data": {
                "schema": {
                    "type": "object",
                    "required": ["file"],
                    "properties": {
                        "file": {"type": "string", "format": "binary"},
                        "folder_path": {"type": "string", "maxLength": 1024},
                    },
                }
            }
        },
    }
}


def _error(description: str) -> dict[str, Any]:
    return {"description": description}


# --- buckets -------------------------------------------------------------------------


@router.get("/buckets", response_model=list[BucketOut])
def list_buckets(
    access: Viewer, db: DbDep, response: Response, page: PageDep
) -> list[StorageBucket]:
    query = service.list_buckets(access.project_id)
    return list(
        db.scalars(paged(db, response, query, page, _BUCKET_ORDER, StorageBucket.name.asc()))
    )


@router.post(
    "/buckets",
    status_code=status.HTTP_201_CREATED,
    response_model=BucketOut,
    responses={409: _error("BUCKET_EXISTS")},
)
def create_bucket(
    body: BucketCreate, access: Developer, db: DbDep, request: Request
) -> StorageBucket:
    bucket = service.create_bucket(db, access.project_id, body.model_dump())
    db.commit()
    request.state.audit_resource_id = bucket.name
    return bucket


@router.get(
    "/buckets/{name}", response_model=BucketOut, responses={404: _error("BUCKET_NOT_FOUND")}
)
def get_bucket(name: BucketNamePath, access: Viewer, db: DbDep) -> StorageBucket:
    return service.get_bucket(db, access.project_id, name)


@router.patch(
    "/buckets/{name}",
    response_model=BucketOut,
    responses={404: _error("BUCKET_NOT_FOUND"), 409: _error("BUCKET_EXISTS")},
)
def update_bucket(
    name: BucketNamePath, body: BucketUpdate, access: Developer, db: DbDep
) -> StorageBucket:
    bucket = service.update_bucket(db, access.project_id, name, body.model_dump(exclude_unset=True))
    db.commit()
    return bucket


@router.delete(
    "/buckets/{name}",
    status_code=status.HTTP_204_NO_CONTENT,
    responses={404: _error("BUCKET_NOT_FOUND"), 409: _error("BUCKET_NOT_EMPTY")},
)
def delete_bucket(
    name: BucketNamePath,
    access: Developer,
    db: DbDep,
    force: Annotated[bool, Query(description="Also delete the bucket's files")] = False,
) -> None:
    service.delete_bucket(db, access.project_id, name, force=force)
    db.commit()


# --- files ---------------------------------------------------------------------------


@router.get(
    "/buckets/{name}/files",
    response_model=list[FileOut],
    responses={404: _error("BUCKET_NOT_FOUND")},
)
def list_files(
    name: BucketNamePath,
    access: Viewer,
    db: DbDep,
    response: Response,
    page: PageDep,
    folder_path: Annotated[
        str | None, Query(max_length=1024, description="Only files directly in this folder")
    ] = None,
) -> list[FileOut]:
    query = service.list_files(db, access.project_id, name, folder_path)
    rows = db.scalars(paged(db, response, query, page, _FILE_ORDER, File.created_at.asc()))
    return [FileOut.of(row) for row in rows]


@router.post(
    "/buckets/{name}/files",
    status_code=status.HTTP_201_CREATED,
    response_model=FileOut,
    openapi_extra=_UPLOAD_BODY,
    responses={
        400: _error("UPLOAD_INCOMPLETE"),
        404: _error("BUCKET_NOT_FOUND"),
        413: _error("FILE_TOO_LARGE"),
        415: _error("FILE_TYPE_NOT_ALLOWED"),
        503: _error("STORAGE_RETRY (retry the request) or STORAGE_UNAVAILABLE"),
        507: _error("STORAGE_FULL"),
    },
)
async def upload_file(
    name: BucketNamePath, access: Developer, db: DbDep, runtime: RuntimeDep, request: Request
) -> FileOut:
    """Upload one file as multipart/form-data (field `file`, optional `folder_path`).

    The body is streamed into storage while it is hashed; it is never buffered whole.
    """
    project_id = access.project_id
    target = await anyio.to_thread.run_sync(_upload_target, db, project_id, name)
    length = request.headers.get("content-length", "")
    if length.isdigit() and int(length) > target.max_file_size + _FORM_OVERHEAD:
        raise FileTooLarge(details={"max_file_size": target.max_file_size})
    blobs = runtime.blobs
    accepted: list[AcceptedPart] = []

    def on_file(part: FilePart, fields: Mapping[str, str]) -> None:
        accepted.append(service.accept_part(target, part.filename, part.content_type))
        service.folder_path_of(fields.get("folder_path"))  # refuse early if it came first

    def store(chunks: Iterator[bytes]) -> BlobInfo:
        return service.store_content(blobs, chunks, target.max_file_size)

    body = RequestBody(request)
    try:
        received = await receive_upload(
            body,
            request.headers.get("content-type"),
            file_field="file",
            text_fields=frozenset({"folder_path"}),
            on_file=on_file,
            store=store,
        )
    finally:
        await body.aclose()
    folder_path = service.folder_path_of(received.fields.get("folder_path"))
    row = await anyio.to_thread.run_sync(
        _record_upload, db, blobs, target, accepted[0], folder_path, received.stored
    )
    request.state.audit_resource_id = row.id
    return FileOut.of(row)


def _upload_target(db: Session, project_id: int, bucket_name: str) -> UploadTarget:
    target = service.upload_target(db, project_id, bucket_name)
    # End the transaction now: an upload may stream for minutes, and on SQLite the
    # request's write transaction holds the database's only write lock.
    db.rollback()
    return target


def _record_upload(
    db: Session,
    blobs: BlobStore,
    target: UploadTarget,
    part: AcceptedPart,
    folder_path: str,
    blob: BlobInfo,
) -> File:
    row = service.record_upload(
        db,
        blobs,
        target,
        name=part.name,
        folder_path=folder_path,
        mime_type=part.mime_type,
        blob=blob,
    )
    db.commit()
    return row


@router.get(
    "/buckets/{name}/files/{file_id}",
    response_model=FileOut,
    responses={404: _error("BUCKET_NOT_FOUND or FILE_NOT_FOUND")},
)
def get_file(name: BucketNamePath, file_id: FileIdPath, access: Viewer, db: DbDep) -> FileOut:
    return FileOut.of(service.get_file(db, access.project_id, name, file_id))


@router.patch(
    "/buckets/{name}/files/{file_id}",
    response_model=FileOut,
    responses={404: _error("BUCKET_NOT_FOUND or FILE_NOT_FOUND")},
)
def update_file(
    name: BucketNamePath, file_id: FileIdPath, body: FileUpdate, access: Developer, db: DbDep
) -> FileOut:
    row = service.update_file(
        db, access.project_id, name, file_id, body.model_dump(exclude_unset=True)
    )
    db.commit()
    return FileOut.of(row)


@router.delete(
    "/buckets/{name}/files/{file_id}",
    status_code=status.HTTP_204_NO_CONTENT,
    responses={404: _error("BUCKET_NOT_FOUND or FILE_NOT_FOUND")},
)
def delete_file(name: BucketNamePath, file_id: FileIdPath, access: Developer, db: DbDep) -> None:
    service.delete_file(db, access.project_id, name, file_id)
    db.commit()


@router.get(
    "/buckets/{name}/files/{file_id}/content",
    response_class=StreamingResponse,
    responses={
        200: {"content": {"application/octet-stream": {}}, "description": "The content"},
        206: {"content": {"application/octet-stream": {}}, "description": "One byte range"},
        304: _error("Not modified (If-None-Match)"),
        404: _error("BUCKET_NOT_FOUND or FILE_NOT_FOUND"),
        416: _error("RANGE_NOT_SATISFIABLE"),
    },
)
def download_file(
    name: BucketNamePath,
    file_id: FileIdPath,
    access: Viewer,
    db: DbDep,
    runtime: RuntimeDep,
    request: Request,
) -> Response:
    """The file's bytes; supports one `Range`, `If-Range` and `If-None-Match`."""
    row = service.get_file(db, access.project_id, name, file_id)
    sha256, size, mime_type, filename = row.sha256, row.size, row.mime_type, row.name
    db.rollback()  # no snapshot held open while the bytes stream
    etag = f'"{sha256}"'
    headers = {
        "ETag": etag,
        "Accept-Ranges": "bytes",
        "Cache-Control": "private, no-cache",
        "X-Content-Type-Options": "nosniff",
        # User content must never run as this origin's script.
        "Content-Security-Policy": "sandbox",
        "Content-Disposition": _attachment(filename),
    }
    if none_match(request.headers.get("if-none-match"), etag):
        return Response(status_code=status.HTTP_304_NOT_MODIFIED, headers=headers)
    byte_range = None
    if range_applies(request.headers.get("if-range"), etag):
        try:
            byte_range = parse_range(request.headers.get("range"), size)
        except Unsatisfiable:
            error = RangeNotSatisfiable(details={"size": size})
            return error_response(
                request,
                error.status,
                error.code,
                error.message,
                error.details,
                headers={"Content-Range": f"bytes */{size}"},
            )
    start, end = (byte_range.start, byte_range.end) if byte_range else (0, size)
    stream = service.open_content(runtime.blobs, file_id, sha256, start, end)
    headers["Content-Type"] = mime_type
    headers["Content-Length"] = str(end - start)
    if byte_range is not None:
        headers["Content-Range"] = byte_range.content_range(size)
    return StreamingResponse(
        _chunks(stream),
        status_code=status.HTTP_206_PARTIAL_CONTENT if byte_range else status.HTTP_200_OK,
        headers=headers,
    )


def _attachment(filename: str) -> str:
    fallback = "".join(ch if 32 <= ord(ch) < 127 and ch not in '"\\' else "_" for ch in filename)
    return f"attachment; filename=\"{fallback}\"; filename*=UTF-8''{quote(filename, safe='')}"


def _next_chunk(stream: Iterator[bytes]) -> bytes | None:
    return next(stream, None)


async def _chunks(stream: Iterator[bytes]) -> AsyncIterator[bytes]:
    """Read in a worker thread, and release the blob's file or connection however the
    response ends (including a client that disconnects mid-way)."""
    try:
        while True:
            chunk = await anyio.to_thread.run_sync(_next_chunk, stream)
            if chunk is None:
                return
            yield chunk
    finally:
        close = getattr(stream, "close", None)
        if callable(close):
            close()

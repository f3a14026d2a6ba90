"""HTTP for collections and documents: viewers read, developers write."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Header, Path, Query, Request, Response, status

from cloudbox.api.deps import DbDep, Developer, RuntimeDep, Viewer
from cloudbox.api.pagination import PageDep, paged
from cloudbox.collections import service
from cloudbox.collections.errors import (
    CollectionExists,
    CollectionNotFound,
    DocumentExists,
    DocumentNotFound,
    DocumentTooLarge,
    SchemaValidationFailed,
    VersionConflict,
)
from cloudbox.collections.models import Collection, Document
from cloudbox.collections.schemas import (
    COLLECTION_NAME_PATTERN,
    DOCUMENT_ID_PATTERN,
    CollectionCreate,
    CollectionOut,
    CollectionUpdate,
    DocumentCreate,
    DocumentOut,
    DocumentPatch,
)
from cloudbox.collections.service import DocumentInCollection
from cloudbox.errors import AppError, InvalidInput

router = APIRouter(prefix="/api/projects/{project_id}", tags=["collections"])

Name = Annotated[
    str,
    Path(min_length=1, max_length=64, pattern=COLLECTION_NAME_PATTERN, description="Collection"),
]
DocId = Annotated[
    str, Path(min_length=1, max_length=128, pattern=DOCUMENT_ID_PATTERN, description="Document")
]
IfMatch = Annotated[
    str | None,
    Header(
        max_length=40,
        description="The document's current version (optionally quoted, as an ETag); "
        "a different version is refused with 412 VERSION_CONFLICT",
    ),
]
Filter = Annotated[
    str | None,
    Query(
        alias="filter",
        max_length=4096,
        description='URL-encoded JSON object of top-level fields to values, e.g. {"a": 1}: '
        "equality on at most 10 fields, values strings, numbers, booleans or null, "
        'compared with their JSON type (1 does not match "1" nor true; null matches an '
        "explicit null only)",
    ),
]

_COLLECTION_ORDER = {
    "name": Collection.name,
    "created_at": Collection.created_at,
    "updated_at": Collection.updated_at,
}
_DOCUMENT_ORDER = {
    "id": Document.id,
    "created_at": Document.created_at,
    "updated_at": Document.updated_at,
    "version": Document.version,
}


def _errors(*errors: type[AppError]) -> dict[int | str, dict[str, Any]]:
    """OpenAPI entries for the domain errors a route may answer with (DESIGN §7)."""
    by_status: dict[int, list[str]] = {}
    for error in errors:
        by_status.setdefault(error.status, []).append(f"{error.code}: {error.message}")
    return {code: {"description": "; ".join(texts)} for code, texts in by_status.items()}


def _collection_out(collection: Collection, count: int | None) -> CollectionOut:
    return CollectionOut(
        id=collection.id,
        name=collection.name,
        description=collection.description,
        json_schema=collection.json_schema,
        indexes=list(collection.indexes or []),
        document_count=count,
        created_at=collection.created_at,
        updated_at=collection.updated_at,
    )


def _document_out(found: DocumentInCollection, response: Response | None = None) -> DocumentOut:
    document = found.document
    if response is not None:
        response.headers["ETag"] = f'"{document.version}"'
    return DocumentOut(
        id=document.id,
        collection=found.collection.name,
        data=document.data,
        version=document.version,
        created_at=document.created_at,
        updated_at=document.updated_at,
    )


def _expected_version(value: str | None) -> int | None:
    """`If-Match: 3`, `"3"` or `W/"3"`; `*` only requires that the document exists."""
    if value is None or value.strip() == "*":
        return None
    text = value.strip().removeprefix("W/").strip('"')
    if not text.isascii() or not text.isdigit() or len(text) > 18:
        raise InvalidInput("If-Match must be a document version", details={"field": "If-Match"})
    return int(text)


# --------------------------------------------------------------------------
# Collections
# --------------------------------------------------------------------------


@router.get("/collections", response_model=list[CollectionOut])
def list_collections(
    access: Viewer, db: DbDep, response: Response, page: PageDep
) -> list[CollectionOut]:
    query = service.list_collections(access.project_id)
    rows = list(
        db.scalars(paged(db, response, query, page, _COLLECTION_ORDER, Collection.name.asc()))
    )
    counts = service.document_counts(db, access.project_id, rows)
    return [_collection_out(row, counts.get(row.id, 0)) for row in rows]


@router.post(
    "/collections",
    status_code=status.HTTP_201_CREATED,
    response_model=CollectionOut,
    responses=_errors(CollectionExists),
)
def create_collection(
    body: CollectionCreate, access: Developer, db: DbDep, request: Request
) -> CollectionOut:
    collection = service.create_collection(
        db,
        access.project_id,
        name=body.name,
        description=body.description,
        json_schema=body.json_schema,
        indexes=body.indexes,
    )
    db.commit()
    request.state.audit_resource_id = collection.name
    return _collection_out(collection, 0)


@router.get(
    "/collections/{name}", response_model=CollectionOut, responses=_errors(CollectionNotFound)
)
def get_collection(name: Name, access: Viewer, db: DbDep) -> CollectionOut:
    collection = service.require_collection(db, access.project_id, name)
    counts = service.document_counts(db, access.project_id, [collection])
    return _collection_out(collection, counts.get(collection.id, 0))


@router.patch(
    "/collections/{name}",
    response_model=CollectionOut,
    responses=_errors(CollectionNotFound, CollectionExists),
)
def update_collection(
    name: Name, body: CollectionUpdate, access: Developer, db: DbDep
) -> CollectionOut:
    collection = service.update_collection(
        db, access.project_id, name, body.model_dump(exclude_unset=True)
    )
    db.commit()
    counts = service.document_counts(db, access.project_id, [collection])
    return _collection_out(collection, counts.get(collection.id, 0))


@router.delete(
    "/collections/{name}",
    status_code=status.HTTP_204_NO_CONTENT,
    responses=_errors(CollectionNotFound),
)
def delete_collection(name: Name, access: Developer, db: DbDep) -> None:
    service.delete_collection(db, access.project_id, name)
    db.commit()


# --------------------------------------------------------------------------
# Documents
# --------------------------------------------------------------------------


@router.get(
    "/collections/{name}/documents",
    response_model=list[DocumentOut],
    responses=_errors(CollectionNotFound),
)
def list_documents(
    name: Name,
    access: Viewer,
    db: DbDep,
    response: Response,
    page: PageDep,
    filter_: Filter = None,
) -> list[DocumentOut]:
    filters = service.parse_filter(filter_)
    query = service.list_documents(db, access.project_id, name, filters)
    descending = page.order_by is not None and page.order_by.startswith("-")
    tie_break = Document.id.desc() if descending else Document.id.asc()
    ordered = paged(db, response, query, page, _DOCUMENT_ORDER, Document.created_at.asc())
    collection_name = name
    return [
        DocumentOut(
            id=row.id,
            collection=collection_name,
            data=row.data,
            version=row.version,
            created_at=row.created_at,
            updated_at=row.updated_at,
        )
        for row in db.scalars(ordered.order_by(tie_break))
    ]


@router.post(
    "/collections/{name}/documents",
    status_code=status.HTTP_201_CREATED,
    response_model=DocumentOut,
    responses=_errors(CollectionNotFound, DocumentExists, SchemaValidationFailed, DocumentTooLarge),
)
def create_document(
    name: Name,
    body: DocumentCreate,
    access: Developer,
    db: DbDep,
    runtime: RuntimeDep,
    request: Request,
    response: Response,
) -> DocumentOut:
    found = service.create_document(
        db,
        access.project_id,
        name,
        doc_id=body.id,
        data=body.data,
        max_bytes=runtime.settings.max_json_body_bytes,
    )
    db.commit()
    request.state.audit_resource_id = found.document.id
    return _document_out(found, response)


@router.get(
    "/collections/{name}/documents/{doc_id}",
    response_model=DocumentOut,
    responses=_errors(CollectionNotFound, DocumentNotFound),
)
def get_document(
    name: Name, doc_id: DocId, access: Viewer, db: DbDep, response: Response
) -> DocumentOut:
    return _document_out(service.get_document(db, access.project_id, name, doc_id), response)


@router.patch(
    "/collections/{name}/documents/{doc_id}",
    response_model=DocumentOut,
    responses=_errors(
        CollectionNotFound,
        DocumentNotFound,
        SchemaValidationFailed,
        VersionConflict,
        DocumentTooLarge,
    ),
)
def update_document(
    name: Name,
    doc_id: DocId,
    body: DocumentPatch,
    access: Developer,
    db: DbDep,
    runtime: RuntimeDep,
    response: Response,
    if_match: IfMatch = None,
) -> DocumentOut:
    found = service.update_document(
        db,
        access.project_id,
        name,
        doc_id,
        patch=body.data,
        expected_version=_expected_version(if_match),
        max_bytes=runtime.settings.max_json_body_bytes,
    )
    db.commit()
    return _document_out(found, response)


@router.delete(
    "/collections/{name}/documents/{doc_id}",
    status_code=status.HTTP_204_NO_CONTENT,
    responses=_errors(CollectionNotFound, DocumentNotFound, VersionConflict),
)
def delete_document(
    name: Name, doc_id: DocId, access: Developer, db: DbDep, if_match: IfMatch = None
) -> None:
    service.delete_document(
        db, access.project_id, name, doc_id, expected_version=_expected_version(if_match)
    )
    db.commit()

"""Collections and documents: the rules every write goes through.

Every check runs before anything is written, so a refusal leaves the database as it was.

- A document's `data` is any JSON object, nested at most `MAX_DATA_DEPTH` levels (the
  object itself is level 1), without NaN/Infinity, NUL characters or lone surrogates
  (PostgreSQL cannot store those, and both engines must accept the same documents), and
  at most the server's JSON body cap once serialised compactly as UTF-8 (a merge patch
  could otherwise grow a document past what a client could ever send).
- When the collection has a JSON Schema (draft 2020-12) the document must match it.
  Changing a collection's schema does not revalidate the documents already stored; the
  next write of each document is checked against the new schema.
- Schemas resolve `$ref` only inside themselves and against the standard meta-schemas:
  nothing is ever fetched over the network. `format` is an annotation, not asserted.
- PATCH of a document is a JSON Merge Patch (RFC 7386). The version goes up by one for
  every PATCH that changes the data; a patch that changes nothing writes nothing.
"""

from __future__ import annotations

import itertools
import json
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, NoReturn

import jsonschema_specifications  # type: ignore[import-untyped]
from jsonschema import Draft202012Validator
from jsonschema.exceptions import SchemaError
from referencing import Registry
from referencing.exceptions import Unresolvable
from referencing.jsonschema import DRAFT202012
from sqlalchemy import Select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session
from sqlalchemy.orm.attributes import flag_modified

from cloudbox.collections import repository as repo
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
from cloudbox.collections.repository import JsonScalar
from cloudbox.db.ids import new_id
from cloudbox.db.types import utcnow
from cloudbox.errors import InvalidInput

#: Nesting of a document's `data` (the object itself is level 1). A backup row wraps
#: `data` in one more object, so archives must allow at least one level more.
MAX_DATA_DEPTH = 64
MAX_SCHEMA_DEPTH = 32
MAX_SCHEMA_BYTES = 64 * 1024
MAX_FILTER_FIELDS = 10
MAX_FILTER_FIELD_LENGTH = 128
MAX_REPORTED_ERRORS = 10
_MAX_MESSAGE = 300
_INT64 = 2**63
_DRAFT_2020_12 = "https://json-schema.org/draft/2020-12/schema"
# The standard meta-schemas, and nothing that retrieves: jsonschema's default registry
# would fetch unknown `$ref` URLs over the network (server-side request forgery).
_REGISTRY: Registry[Any] = jsonschema_specifications.REGISTRY


# --------------------------------------------------------------------------
# JSON content
# --------------------------------------------------------------------------


def _refuse(field: str, message: str, **details: Any) -> NoReturn:
    raise InvalidInput(message, details={"field": field, **details})


def _check_text(value: str, field: str) -> None:
    if "\x00" in value:
        _refuse(field, f"{field} must not contain NUL characters")
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        _refuse(field, f"{field} must be valid Unicode (no lone surrogates)")


def check_json(value: Any, *, field: str, max_depth: int) -> None:
    """Refuse what JSON allows in Python but not in both databases and archives.

    Iterative, so a hostile nesting cannot exhaust the stack before it is refused.
    """
    stack: list[tuple[Any, int]] = [(value, 1)]
    while stack:
        item, depth = stack.pop()
        if isinstance(item, dict | list) and depth > max_depth:
            _refuse(field, f"{field} is nested deeper than {max_depth} levels", max_depth=max_depth)
        if isinstance(item, dict):
            for key, child in item.items():
                _check_text(key, field)
                stack.append((child, depth + 1))
        elif isinstance(item, list):
            stack.extend((child, depth + 1) for child in item)
        elif isinstance(item, str):
            _check_text(item, field)
        elif isinstance(item, float) and not math.isfinite(item):
            _refuse(field, f"{field} must not contain NaN or Infinity")


def json_size(value: Any) -> int:
    """Bytes of the compact UTF-8 serialisation, the form sizes are measured in."""
    text = json.dumps(value, ensure_ascii=False, separators=(",", ":"), allow_nan=False)
    return len(text.encode("utf-8"))


def _canonical(value: Any) -> str:
    """Type-exact comparison: in Python 1 == 1.0 == True, in JSON they differ."""
    return json.dumps(value, sort_keys=True, ensure_ascii=False, separators=(",", ":"))


def merge_patch(target: Any, patch: Any) -> Any:
    """RFC 7386. Returns a new value; `target` is never mutated (SQLAlchemy notices a
    change to a JSON column only when it is assigned a new object)."""
    if not isinstance(patch, dict):
        return patch
    result = dict(target) if isinstance(target, dict) else {}
    for key, value in patch.items():
        if value is None:
            result.pop(key, None)
        else:
            result[key] = merge_patch(result.get(key), value)
    return result


# --------------------------------------------------------------------------
# JSON Schema
# --------------------------------------------------------------------------


def _clip(message: str) -> str:
    """jsonschema messages quote the offending value, which may be megabytes long."""
    return message if len(message) <= _MAX_MESSAGE else message[: _MAX_MESSAGE - 3] + "..."


def _refs(schema: Any) -> list[str]:
    found: list[str] = []
    stack = [schema]
    while stack:
        item = stack.pop()
        if isinstance(item, dict):
            ref = item.get("$ref")
            if isinstance(ref, str):
                found.append(ref)
            stack.extend(item.values())
        elif isinstance(item, list):
            stack.extend(item)
    return found


def _validator(schema: dict[str, Any]) -> Draft202012Validator:
    return Draft202012Validator(schema, registry=_REGISTRY)


def check_schema(schema: dict[str, Any]) -> None:
    """Refuse a schema that is malformed or that could not be applied to documents.

    `$ref`s are resolved from the schema's root; a schema that changes its base URI
    with a nested `$id` and refers relative to it is refused rather than guessed at.
    """
    check_json(schema, field="schema", max_depth=MAX_SCHEMA_DEPTH)
    if json_size(schema) > MAX_SCHEMA_BYTES:
        _refuse("schema", f"schema is larger than {MAX_SCHEMA_BYTES} bytes")
    declared = schema.get("$schema")
    if declared is not None and (
        not isinstance(declared, str) or declared.rstrip("#") != _DRAFT_2020_12
    ):
        _refuse("schema", f"only JSON Schema draft 2020-12 ({_DRAFT_2020_12}) is supported")
    try:
        Draft202012Validator.check_schema(schema)
    except SchemaError as exc:
        _refuse(
            "schema",
            "schema is not a valid JSON Schema",
            path=exc.json_path,
            reason=_clip(exc.message),
        )
    resolver = _REGISTRY.resolver_with_root(DRAFT202012.create_resource(schema))
    for ref in _refs(schema):
        try:
            resolver.lookup(ref)
        except Unresolvable:
            _refuse(
                "schema",
                "schema refers to something it does not contain (remote $ref is not supported)",
                ref=_clip(ref),
            )
    try:
        _validator(schema).is_valid({})
    except RecursionError:
        _refuse("schema", "schema refers to itself without ever reaching a constraint")


def validate_document(schema: dict[str, Any] | None, data: dict[str, Any]) -> None:
    if schema is None:
        return
    try:
        errors = list(itertools.islice(_validator(schema).iter_errors(data), MAX_REPORTED_ERRORS))
    except (Unresolvable, RecursionError):
        # Only a schema stored before a rule existed, or a cycle that depends on the
        # document's shape, can get here.
        raise SchemaValidationFailed(
            "The collection's schema cannot be applied to this document",
            details={"errors": []},
        ) from None
    if errors:
        raise SchemaValidationFailed(
            details={
                "errors": [
                    {
                        "path": error.json_path,
                        "message": _clip(error.message),
                        "keyword": str(error.validator),
                        "schema_path": "/".join(str(p) for p in error.schema_path),
                    }
                    for error in errors
                ]
            }
        )


def _check_data(data: dict[str, Any], schema: dict[str, Any] | None, max_bytes: int) -> None:
    check_json(data, field="data", max_depth=MAX_DATA_DEPTH)
    size = json_size(data)
    if size > max_bytes:
        raise DocumentTooLarge(details={"size": size, "max_bytes": max_bytes})
    validate_document(schema, data)


# --------------------------------------------------------------------------
# Filters
# --------------------------------------------------------------------------


def _no_duplicate_keys(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    result = dict(pairs)
    if len(result) != len(pairs):
        raise ValueError("duplicate key")
    return result


def _no_constants(name: str) -> NoReturn:
    raise ValueError(f"{name} is not JSON")


def parse_filter(text: str | None) -> dict[str, JsonScalar]:
    """`filter={"field": value, ...}`: equality on top-level fields, values JSON scalars
    or null, compared with their JSON type (see the repository)."""
    if text is None:
        return {}
    try:
        value = json.loads(text, object_pairs_hook=_no_duplicate_keys, parse_constant=_no_constants)
    except (ValueError, RecursionError):
        _refuse("filter", "filter must be a JSON object of field names to values")
    if not isinstance(value, dict):
        _refuse("filter", "filter must be a JSON object of field names to values")
    if len(value) > MAX_FILTER_FIELDS:
        _refuse("filter", f"filter may name at most {MAX_FILTER_FIELDS} fields")
    for field, expected in value.items():
        if len(field) > MAX_FILTER_FIELD_LENGTH:
            _refuse(
                "filter", f"filter field names have at most {MAX_FILTER_FIELD_LENGTH} characters"
            )
        _check_text(field, "filter")
        if isinstance(expected, dict | list):
            _refuse(
                "filter", "filter values must be strings, numbers, booleans or null", name=field
            )
        if isinstance(expected, str):
            _check_text(expected, "filter")
        elif isinstance(expected, float) and not math.isfinite(expected):
            _refuse("filter", "filter numbers must be finite", name=field)
        elif isinstance(expected, int) and not -_INT64 <= expected < _INT64:
            _refuse("filter", "filter integers must fit in 64 bits", name=field)
    return value


# --------------------------------------------------------------------------
# Collections
# --------------------------------------------------------------------------


def require_collection(db: Session, project_id: int, name: str) -> Collection:
    collection = repo.get_collection(db, project_id, name)
    if collection is None:
        raise CollectionNotFound(details={"name": name})
    return collection


def list_collections(project_id: int) -> Select[Collection]:
    return repo.collections_of_project(project_id)


def document_counts(
    db: Session, project_id: int, collections: Sequence[Collection]
) -> dict[str, int]:
    return repo.document_counts(db, project_id, (c.id for c in collections))


def _insert(db: Session, row: Collection | Document) -> bool:
    """Insert inside a savepoint; False when a constraint refused the row.

    The existence check before an insert cannot see a concurrent, uncommitted insert of
    the same key on PostgreSQL; the savepoint turns that race into a clean conflict and
    keeps the transaction usable for finding out which constraint it was.
    """
    try:
        with db.begin_nested():
            db.add(row)
    except IntegrityError:
        return False
    return True


def create_collection(
    db: Session,
    project_id: int,
    *,
    name: str,
    description: str,
    json_schema: dict[str, Any] | None,
    indexes: list[str],
) -> Collection:
    if json_schema is not None:
        check_schema(json_schema)
    if repo.get_collection(db, project_id, name) is not None:
        raise CollectionExists(details={"name": name})
    now = utcnow()
    collection = Collection(
        project_id=project_id,
        id=new_id(),
        name=name,
        description=description,
        json_schema=json_schema,
        indexes=list(indexes),
        created_at=now,
        updated_at=now,
    )
    if not _insert(db, collection):
        raise CollectionExists(details={"name": name})
    return collection


def update_collection(
    db: Session, project_id: int, name: str, changes: Mapping[str, Any]
) -> Collection:
    """`changes` holds only the fields the client sent; `json_schema: None` removes the
    schema, while `None` for the other fields means "unchanged"."""
    collection = require_collection(db, project_id, name)
    if changes.get("json_schema") is not None:
        check_schema(changes["json_schema"])
    new_name = changes.get("name")
    if new_name is not None and new_name != collection.name:
        if repo.get_collection(db, project_id, new_name) is not None:
            raise CollectionExists(details={"name": new_name})
        collection.name = new_name
    if changes.get("description") is not None:
        collection.description = changes["description"]
    if "json_schema" in changes:
        collection.json_schema = changes["json_schema"]
    if changes.get("indexes") is not None:
        collection.indexes = list(changes["indexes"])
    try:
        db.flush()
    except IntegrityError:  # renamed concurrently to the same name
        raise CollectionExists(details={"name": new_name}) from None
    return collection


def delete_collection(db: Session, project_id: int, name: str) -> None:
    """Deletes the documents explicitly rather than relying on ON DELETE CASCADE, so the
    outcome does not depend on SQLite's foreign-key pragma."""
    collection = require_collection(db, project_id, name)
    repo.delete_documents_of(db, project_id, collection.id)
    db.delete(collection)
    db.flush()


# --------------------------------------------------------------------------
# Documents
# --------------------------------------------------------------------------


@dataclass(frozen=True)
class DocumentInCollection:
    collection: Collection
    document: Document


def list_documents(
    db: Session, project_id: int, name: str, filters: Mapping[str, JsonScalar]
) -> Select[Document]:
    collection = require_collection(db, project_id, name)
    return repo.documents_of_collection(project_id, collection.id, filters, repo.dialect_of(db))


def _require_document(
    db: Session, collection: Collection, doc_id: str, *, for_update: bool = False
) -> Document:
    document = repo.get_document(
        db, collection.project_id, collection.id, doc_id, for_update=for_update
    )
    if document is None:
        raise DocumentNotFound(details={"collection": collection.name, "id": doc_id})
    return document


def _check_version(document: Document, expected: int | None) -> None:
    if expected is not None and document.version != expected:
        raise VersionConflict(
            details={"expected_version": expected, "current_version": document.version}
        )


def get_document(db: Session, project_id: int, name: str, doc_id: str) -> DocumentInCollection:
    collection = require_collection(db, project_id, name)
    return DocumentInCollection(collection, _require_document(db, collection, doc_id))


def create_document(
    db: Session,
    project_id: int,
    name: str,
    *,
    doc_id: str | None,
    data: dict[str, Any],
    max_bytes: int,
) -> DocumentInCollection:
    collection = require_collection(db, project_id, name)
    _check_data(data, collection.json_schema, max_bytes)
    doc_id = doc_id or new_id()
    if repo.document_exists(db, project_id, collection.id, doc_id):
        raise DocumentExists(details={"collection": name, "id": doc_id})
    now = utcnow()
    document = Document(
        project_id=project_id,
        collection_id=collection.id,
        id=doc_id,
        data=data,
        version=1,
        created_at=now,
        updated_at=now,
    )
    if not _insert(db, document):
        if repo.document_exists(db, project_id, collection.id, doc_id):
            raise DocumentExists(details={"collection": name, "id": doc_id})
        raise CollectionNotFound(details={"name": name})  # deleted concurrently
    return DocumentInCollection(collection, document)


def update_document(
    db: Session,
    project_id: int,
    name: str,
    doc_id: str,
    *,
    patch: dict[str, Any],
    expected_version: int | None,
    max_bytes: int,
) -> DocumentInCollection:
    collection = require_collection(db, project_id, name)
    check_json(patch, field="data", max_depth=MAX_DATA_DEPTH)
    document = _require_document(db, collection, doc_id, for_update=True)
    _check_version(document, expected_version)
    merged = merge_patch(document.data, patch)
    if _canonical(merged) == _canonical(document.data):
        return DocumentInCollection(collection, document)
    _check_data(merged, collection.json_schema, max_bytes)
    document.data = merged
    # The ORM compares JSON values with Python's ==, where 1 == 1.0 == True, and would
    # skip writing such a change; the canonical comparison above already decided.
    flag_modified(document, "data")
    document.version = document.version + 1
    document.updated_at = utcnow()
    db.flush()
    return DocumentInCollection(collection, document)


def delete_document(
    db: Session, project_id: int, name: str, doc_id: str, *, expected_version: int | None
) -> None:
    collection = require_collection(db, project_id, name)
    document = _require_document(db, collection, doc_id, for_update=True)
    _check_version(document, expected_version)
    db.delete(document)
    db.flush()

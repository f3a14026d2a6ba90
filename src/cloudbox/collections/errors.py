from __future__ import annotations

from cloudbox.errors import AppError, Conflict, InvalidInput, NotFound


class CollectionNotFound(NotFound):
    code = "COLLECTION_NOT_FOUND"
    message = "Collection not found"


class CollectionExists(Conflict):
    code = "COLLECTION_EXISTS"
    message = "A collection with this name already exists in the project"


class DocumentNotFound(NotFound):
    code = "DOCUMENT_NOT_FOUND"
    message = "Document not found"


class DocumentExists(Conflict):
    code = "DOCUMENT_EXISTS"
    message = "A document with this id already exists in the collection"


class SchemaValidationFailed(InvalidInput):
    code = "SCHEMA_VALIDATION_FAILED"
    message = "The document does not match the collection's schema"


class VersionConflict(AppError):
    code = "VERSION_CONFLICT"
    status = 412
    message = "The document has changed since the version given in If-Match"


class DocumentTooLarge(AppError):
    code = "DOCUMENT_TOO_LARGE"
    status = 413
    message = "The document would exceed the maximum document size"

"""Request and response bodies of collections and documents.

These models check shape and lengths only. What depends on the JSON content (nesting,
NaN, NUL characters, the collection's JSON Schema, merged sizes) is checked by the
service, so the same rules hold for a create, a merge patch and anything else that
writes a document.

The API field `schema` is `json_schema` in Python: `schema` would shadow a pydantic
`BaseModel` attribute.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

from pydantic import BaseModel, ConfigDict, Field, StringConstraints, field_validator

COLLECTION_NAME_PATTERN = r"^[a-zA-Z][a-zA-Z0-9_-]*$"
DOCUMENT_ID_PATTERN = r"^[A-Za-z0-9_.:-]+$"
MAX_INDEXES = 32
MAX_DESCRIPTION = 2000
MAX_FIELD_NAME = 128

CollectionName = Annotated[
    str, StringConstraints(min_length=1, max_length=64, pattern=COLLECTION_NAME_PATTERN)
]
DocumentId = Annotated[
    str, StringConstraints(min_length=1, max_length=128, pattern=DOCUMENT_ID_PATTERN)
]
FieldName = Annotated[str, StringConstraints(min_length=1, max_length=MAX_FIELD_NAME)]

_SCHEMA_DOC = (
    "A JSON Schema (draft 2020-12) object every document must match, or null for none. "
    "Changing it does not revalidate documents already stored."
)
_INDEXES_DOC = (
    f"Up to {MAX_INDEXES} top-level field names the client intends to query. Stored as "
    "metadata only: no database index is built from them."
)


def _plain_text(value: str, what: str) -> str:
    """NUL and lone surrogates are refused: PostgreSQL cannot store them, SQLite could,
    and the two engines must accept the same input."""
    if "\x00" in value:
        raise ValueError(f"{what} must not contain NUL characters")
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        raise ValueError(f"{what} must be valid Unicode (no lone surrogates)") from None
    return value


def _field_names(names: list[str]) -> list[str]:
    for name in names:
        if any(ord(ch) < 0x20 or ch == "\x7f" for ch in name):
            raise ValueError("index field names must not contain control characters")
        _plain_text(name, "index field names")
    if len(set(names)) != len(names):
        raise ValueError("index field names must be unique")
    return names


class CollectionCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")
    name: CollectionName
    description: str = Field(default="", max_length=MAX_DESCRIPTION)
    json_schema: dict[str, Any] | None = Field(
        default=None, alias="schema", description=_SCHEMA_DOC
    )
    indexes: list[FieldName] = Field(
        default_factory=list, max_length=MAX_INDEXES, description=_INDEXES_DOC
    )

    @field_validator("description")
    @classmethod
    def _description(cls, value: str) -> str:
        return _plain_text(value, "description")

    @field_validator("indexes")
    @classmethod
    def _indexes(cls, value: list[str]) -> list[str]:
        return _field_names(value)


class CollectionUpdate(BaseModel):
    """Only the fields present change; `schema: null` removes the schema. A new name
    must be free in the project; documents follow the rename (they reference the
    collection by id)."""

    model_config = ConfigDict(extra="forbid")
    name: CollectionName | None = None
    description: str | None = Field(default=None, max_length=MAX_DESCRIPTION)
    json_schema: dict[str, Any] | None = Field(
        default=None, alias="schema", description=_SCHEMA_DOC
    )
    indexes: list[FieldName] | None = Field(
        default=None, max_length=MAX_INDEXES, description=_INDEXES_DOC
    )

    @field_validator("description")
    @classmethod
    def _description(cls, value: str | None) -> str | None:
        return None if value is None else _plain_text(value, "description")

    @field_validator("indexes")
    @classmethod
    def _indexes(cls, value: list[str] | None) -> list[str] | None:
        return None if value is None else _field_names(value)


class CollectionOut(BaseModel):
    model_config = ConfigDict(validate_by_name=True, validate_by_alias=True)
    id: str
    name: str
    description: str
    json_schema: dict[str, Any] | None = Field(alias="schema", description=_SCHEMA_DOC)
    indexes: list[str] = Field(description=_INDEXES_DOC)
    document_count: int | None = None
    created_at: datetime
    updated_at: datetime


class DocumentCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")
    id: DocumentId | None = Field(
        default=None,
        description="Client-chosen id, unique in the collection; generated when omitted",
    )
    data: dict[str, Any] = Field(description="Any JSON object (nesting depth at most 64)")

    @field_validator("id")
    @classmethod
    def _not_dot_segment(cls, value: str | None) -> str | None:
        # "." and ".." would be normalised away in a URL path, so the document could
        # never be addressed again.
        if value in (".", ".."):
            raise ValueError("a document id cannot be '.' or '..'")
        return value


class DocumentPatch(BaseModel):
    """A JSON Merge Patch (RFC 7386) applied to `data`: keys set to null are removed,
    nested objects merge recursively, anything else (arrays included) replaces."""

    model_config = ConfigDict(extra="forbid")
    data: dict[str, Any]


class DocumentOut(BaseModel):
    id: str
    collection: str = Field(description="Name of the collection")
    data: dict[str, Any]
    version: int = Field(description="1 at creation, +1 on every change")
    created_at: datetime
    updated_at: datetime

"""Collections and their JSON documents.

Both are project-scoped rows keyed by string ids (DESIGN §2.5). A document is keyed
`(project_id, collection_id, id)`: its id is unique within its collection only, so two
collections may each hold a document "settings". Documents reference their collection by
id, never by name, so renaming a collection touches one row and a restore rewrites
`project_id` only.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import (
    ForeignKey,
    ForeignKeyConstraint,
    Index,
    Integer,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column

from cloudbox.db.base import Base
from cloudbox.db.types import JSONType, UTCDateTime, utcnow


class Collection(Base):
    """A named set of documents, optionally constrained by a JSON Schema.

    `indexes` is metadata only (the fields a client declared it will query); no database
    index is built from it.
    """

    __tablename__ = "collections"
    __table_args__ = (UniqueConstraint("project_id", "name"),)

    project_id: Mapped[int] = mapped_column(
        ForeignKey("projects.id", ondelete="CASCADE"), primary_key=True
    )
    id: Mapped[str] = mapped_column(String(40), primary_key=True)
    name: Mapped[str] = mapped_column(String(64))
    description: Mapped[str] = mapped_column(Text, default="")
    # Not called `schema`: that name means something else to SQL and to pydantic.
    json_schema: Mapped[dict[str, Any] | None] = mapped_column(JSONType, nullable=True)
    indexes: Mapped[list[str]] = mapped_column(JSONType, default=list)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)


class Document(Base):
    """One JSON object of a collection.

    `data` is JSON on SQLite (text) and JSONB on PostgreSQL, so a backup reads it back as
    JSON text without touching Python objects. The primary key serves listing by id; the
    `(project_id, collection_id, created_at, id)` index serves the default listing order
    and its tie-break.
    """

    __tablename__ = "documents"
    __table_args__ = (
        ForeignKeyConstraint(
            ["project_id", "collection_id"],
            ["collections.project_id", "collections.id"],
            ondelete="CASCADE",
        ),
        Index("ix_documents_collection_created", "project_id", "collection_id", "created_at", "id"),
    )

    project_id: Mapped[int] = mapped_column(
        ForeignKey("projects.id", ondelete="CASCADE"), primary_key=True
    )
    collection_id: Mapped[str] = mapped_column(String(40), primary_key=True)
    id: Mapped[str] = mapped_column(String(128), primary_key=True)
    data: Mapped[dict[str, Any]] = mapped_column(JSONType)
    version: Mapped[int] = mapped_column(Integer, default=1)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)

"""Storage buckets, file rows, and the database's view of the blob store.

Buckets and files are project-scoped rows keyed `(project_id, id)` (DESIGN §2.5); a file
references its bucket by id through a composite foreign key, so renaming a bucket touches
one row and a restore rewrites `project_id` only.

`blobs` is server-wide: one row per stored content, with the number of references to it.
It is what makes garbage collection race-free (see `cloudbox.files.blobrefs` and
`cloudbox.files.gc`). `files.sha256` is a foreign key to it, so even a reference-counting
bug cannot let the collector drop the row (and then the bytes) of content a file uses.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import (
    BigInteger,
    Boolean,
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


class Blob(Base):
    __tablename__ = "blobs"
    __table_args__ = (Index("ix_blobs_refcount_last_seen_at", "refcount", "last_seen_at"),)

    sha256: Mapped[str] = mapped_column(String(64), primary_key=True)
    size: Mapped[int] = mapped_column(BigInteger)
    refcount: Mapped[int] = mapped_column(Integer)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    last_seen_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class StorageBucket(Base):
    __tablename__ = "storage_buckets"
    __table_args__ = (UniqueConstraint("project_id", "name"),)

    project_id: Mapped[int] = mapped_column(
        ForeignKey("projects.id", ondelete="CASCADE"), primary_key=True
    )
    id: Mapped[str] = mapped_column(String(40), primary_key=True)
    name: Mapped[str] = mapped_column(String(63))
    description: Mapped[str] = mapped_column(Text, default="")
    is_public: Mapped[bool] = mapped_column(Boolean, default=False)
    max_file_size: Mapped[int] = mapped_column(BigInteger)
    allowed_types: Mapped[list[str]] = mapped_column(JSONType)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)


class File(Base):
    __tablename__ = "files"
    __table_args__ = (
        ForeignKeyConstraint(
            ["project_id", "bucket_id"],
            ["storage_buckets.project_id", "storage_buckets.id"],
            ondelete="CASCADE",
        ),
        Index("ix_files_project_bucket_folder", "project_id", "bucket_id", "folder_path"),
    )

    project_id: Mapped[int] = mapped_column(
        ForeignKey("projects.id", ondelete="CASCADE"), primary_key=True
    )
    id: Mapped[str] = mapped_column(String(40), primary_key=True)
    bucket_id: Mapped[str] = mapped_column(String(40))
    name: Mapped[str] = mapped_column(String(255))
    folder_path: Mapped[str] = mapped_column(String(1024), default="")
    mime_type: Mapped[str] = mapped_column(String(255))
    size: Mapped[int] = mapped_column(BigInteger)
    sha256: Mapped[str] = mapped_column(ForeignKey("blobs.sha256"), index=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)

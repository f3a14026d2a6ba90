from __future__ import annotations

import re
from datetime import datetime
from typing import Annotated, Any

from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Field,
    StringConstraints,
    field_validator,
    model_validator,
)

from cloudbox.files.paths import check_file_name, check_folder_path

BUCKET_NAME_PATTERN = r"^[a-z0-9][a-z0-9._-]{0,62}$"
KiB = 1024
GiB = 1024**3
TiB = 1024**4
DEFAULT_MAX_FILE_SIZE = 5 * GiB
MAX_FILE_SIZE_LIMIT = 5 * TiB
MAX_ALLOWED_TYPES = 100

_TOKEN = r"[a-z0-9][a-z0-9!#$&^_.+-]{0,126}"
_MIME_PATTERN = re.compile(rf"^(?:{_TOKEN}/(?:{_TOKEN}|\*)|\*/\*)$")


def _mime_pattern(value: str) -> str:
    lowered = value.strip().lower()
    if not _MIME_PATTERN.fullmatch(lowered):
        raise ValueError("must be a MIME type such as 'image/png', or 'image/*'")
    return lowered


MimePattern = Annotated[str, StringConstraints(max_length=255), AfterValidator(_mime_pattern)]
BucketName = Annotated[str, StringConstraints(pattern=BUCKET_NAME_PATTERN)]
FileName = Annotated[str, StringConstraints(min_length=1, max_length=255)]
FolderPath = Annotated[str, StringConstraints(max_length=1024)]


def _unique(values: list[str]) -> list[str]:
    return list(dict.fromkeys(values))


class BucketCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")
    name: BucketName
    description: str = Field(default="", max_length=2000)
    is_public: bool = False
    max_file_size: int = Field(default=DEFAULT_MAX_FILE_SIZE, ge=1, le=MAX_FILE_SIZE_LIMIT)
    allowed_types: list[MimePattern] = Field(default_factory=list, max_length=MAX_ALLOWED_TYPES)

    @field_validator("allowed_types")
    @classmethod
    def _dedupe(cls, value: list[str]) -> list[str]:
        return _unique(value)


class BucketUpdate(BaseModel):
    model_config = ConfigDict(extra="forbid")
    name: BucketName | None = None
    description: str | None = Field(default=None, max_length=2000)
    is_public: bool | None = None
    max_file_size: int | None = Field(default=None, ge=1, le=MAX_FILE_SIZE_LIMIT)
    allowed_types: list[MimePattern] | None = Field(default=None, max_length=MAX_ALLOWED_TYPES)

    @field_validator("allowed_types")
    @classmethod
    def _dedupe(cls, value: list[str] | None) -> list[str] | None:
        return None if value is None else _unique(value)

    @model_validator(mode="after")
    def _no_nulls(self) -> BucketUpdate:
        _refuse_nulls(self)
        return self


class BucketOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)
    id: str
    name: str
    description: str
    is_public: bool
    max_file_size: int
    allowed_types: list[str]
    created_at: datetime
    updated_at: datetime


class FileUpdate(BaseModel):
    """Rename (``name``) and/or move (``folder_path``) a file; its content never changes."""

    model_config = ConfigDict(extra="forbid")
    name: FileName | None = None
    folder_path: FolderPath | None = None

    @field_validator("name")
    @classmethod
    def _name(cls, value: str | None) -> str | None:
        return None if value is None else check_file_name(value)

    @field_validator("folder_path")
    @classmethod
    def _folder(cls, value: str | None) -> str | None:
        return None if value is None else check_folder_path(value)

    @model_validator(mode="after")
    def _no_nulls(self) -> FileUpdate:
        _refuse_nulls(self)
        return self


class FileOut(BaseModel):
    id: str
    name: str
    folder_path: str
    mime_type: str
    size: int
    checksum: str = Field(description='"sha256:" followed by the hex SHA-256 of the content')
    created_at: datetime
    updated_at: datetime

    @classmethod
    def of(cls, row: Any) -> FileOut:
        return cls(
            id=row.id,
            name=row.name,
            folder_path=row.folder_path,
            mime_type=row.mime_type,
            size=row.size,
            checksum=f"sha256:{row.sha256}",
            created_at=row.created_at,
            updated_at=row.updated_at,
        )


def _refuse_nulls(model: BaseModel) -> None:
    """PATCH fields are optional but never nullable: an explicit null is a client bug."""
    nulls = [name for name in model.model_fields_set if getattr(model, name) is None]
    if nulls:
        raise ValueError(f"fields may be omitted but not null: {', '.join(sorted(nulls))}")

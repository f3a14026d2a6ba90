from __future__ import annotations

from datetime import datetime

from sqlalchemy import Boolean, ForeignKey, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from cloudbox.db.base import Base
from cloudbox.db.types import JSONType, UTCDateTime, utcnow


class CorsConfig(Base):
    """One row per project (id "default"), keyed like every project-scoped row."""

    __tablename__ = "cors_configs"

    project_id: Mapped[int] = mapped_column(
        ForeignKey("projects.id", ondelete="CASCADE"), primary_key=True
    )
    id: Mapped[str] = mapped_column(String(40), primary_key=True, default="default")
    allowed_origins: Mapped[list[str]] = mapped_column(JSONType, default=list)
    allowed_methods: Mapped[list[str]] = mapped_column(JSONType, default=list)
    allowed_headers: Mapped[list[str]] = mapped_column(JSONType, default=list)
    exposed_headers: Mapped[list[str]] = mapped_column(JSONType, default=list)
    allow_credentials: Mapped[bool] = mapped_column(Boolean, default=False)
    max_age: Mapped[int] = mapped_column(Integer, default=600)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)

"""Query helpers shared by every repository."""

from __future__ import annotations

from typing import Any, cast

from sqlalchemy import CursorResult, Select, func, select
from sqlalchemy.orm import Session


def count(db: Session, query: Select[*tuple[Any, ...]]) -> int:
    return db.scalar(select(func.count()).select_from(query.order_by(None).subquery())) or 0


def rowcount(result: Any) -> int:
    """Rows an UPDATE or DELETE touched (typed access to `CursorResult.rowcount`)."""
    return int(cast("CursorResult[Any]", result).rowcount)

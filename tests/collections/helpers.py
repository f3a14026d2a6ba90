"""Shared helpers of the collections tests."""

from __future__ import annotations

from typing import Any

from sqlalchemy import func, select

from cloudbox.audit.models import AuditLog
from cloudbox.models import Base
from cloudbox.runtime import Runtime
from tests.plugins.api import Account


def base(pid: int) -> str:
    return f"/api/projects/{pid}/collections"


def docs_url(pid: int, name: str) -> str:
    return f"{base(pid)}/{name}/documents"


def make_collection(account: Account, pid: int, name: str, **extra: Any) -> dict[str, Any]:
    response = account.post(base(pid), json={"name": name, **extra})
    assert response.status_code == 201, response.text
    body: dict[str, Any] = response.json()
    return body


def make_document(account: Account, pid: int, name: str, data: Any, **extra: Any) -> dict[str, Any]:
    response = account.post(docs_url(pid, name), json={"data": data, **extra})
    assert response.status_code == 201, response.text
    body: dict[str, Any] = response.json()
    return body


def row_counts(runtime: Runtime) -> dict[str, int]:
    """Every table except the audit log (refusals are audited by design)."""
    with runtime.db.session() as db:
        return {
            table.name: db.scalar(select(func.count()).select_from(table)) or 0
            for table in Base.metadata.sorted_tables
            if table.name not in {AuditLog.__tablename__, "login_failures"}
        }


def snapshot(runtime: Runtime) -> list[tuple[Any, ...]]:
    """Every collection and document row, to prove a refusal changed nothing at all."""
    from cloudbox.collections.models import Collection, Document

    with runtime.db.session() as db:
        collections = [
            (c.project_id, c.id, c.name, c.description, c.json_schema, c.indexes, c.updated_at)
            for c in db.scalars(select(Collection).order_by(Collection.id))
        ]
        documents = [
            (d.project_id, d.collection_id, d.id, d.data, d.version, d.updated_at)
            for d in db.scalars(select(Document).order_by(Document.collection_id, Document.id))
        ]
    return collections + documents

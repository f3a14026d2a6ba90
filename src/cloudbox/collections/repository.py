"""SQL for collections and documents.

The equality filter is the one place the engines differ. Both must compare JSON values
with their JSON type: `{"n": 1}` must not match `"1"` or `true`, `{"b": true}` must not
match `1`, and `{"x": null}` matches an explicit null only (not a missing key). Numbers
compare numerically on both (1 matches 1.0), since JSON has a single number type.

- PostgreSQL: `data -> 'field' = '<value>'::jsonb`; jsonb equality is type-exact.
- SQLite: `json_extract` alone loses the type (true becomes 1, "1" and 1 compare equal
  under affinity), so the filter reads the top-level members with `json_each`, which
  gives each member's JSON `type` next to its SQL `value`. `json_each` also decodes the
  keys, whereas a `$."key"` path is compared with the key as stored, escapes and all, so
  it would miss non-ASCII keys stored as `\\uXXXX`.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping

from sqlalchemy import (
    ColumnElement,
    Select,
    Text,
    and_,
    cast,
    delete,
    exists,
    func,
    literal,
    select,
)
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import Session

from cloudbox.collections.models import Collection, Document

JsonScalar = str | int | float | bool | None


def get_collection(db: Session, project_id: int, name: str) -> Collection | None:
    return db.scalar(
        select(Collection).where(Collection.project_id == project_id, Collection.name == name)
    )


def collections_of_project(project_id: int) -> Select[Collection]:
    return select(Collection).where(Collection.project_id == project_id)


def document_counts(db: Session, project_id: int, collection_ids: Iterable[str]) -> dict[str, int]:
    ids = list(collection_ids)
    if not ids:
        return {}
    rows = db.execute(
        select(Document.collection_id, func.count())
        .where(Document.project_id == project_id, Document.collection_id.in_(ids))
        .group_by(Document.collection_id)
    ).all()
    counts = dict.fromkeys(ids, 0)
    counts.update({collection_id: int(n) for collection_id, n in rows})
    return counts


def delete_documents_of(db: Session, project_id: int, collection_id: str) -> None:
    db.execute(
        delete(Document).where(
            Document.project_id == project_id, Document.collection_id == collection_id
        )
    )


def get_document(
    db: Session, project_id: int, collection_id: str, doc_id: str, *, for_update: bool = False
) -> Document | None:
    """`for_update` locks the row on PostgreSQL so read-modify-write (merge patches,
    If-Match checks) cannot interleave; SQLite writers are serialised already."""
    return db.get(Document, (project_id, collection_id, doc_id), with_for_update=for_update)


def document_exists(db: Session, project_id: int, collection_id: str, doc_id: str) -> bool:
    query = select(Document.id).where(
        Document.project_id == project_id,
        Document.collection_id == collection_id,
        Document.id == doc_id,
    )
    return db.scalar(query) is not None


def documents_of_collection(
    project_id: int, collection_id: str, filters: Mapping[str, JsonScalar], dialect: str
) -> Select[Document]:
    query = select(Document).where(
        Document.project_id == project_id, Document.collection_id == collection_id
    )
    for field, value in filters.items():
        if dialect == "postgresql":
            query = query.where(_pg_equals(field, value))
        else:
            query = query.where(_sqlite_equals(field, value))
    return query


def _pg_equals(field: str, value: JsonScalar) -> ColumnElement[bool]:
    member = Document.data.op("->")(literal(field, Text))
    return member.op("=", is_comparison=True)(cast(literal(json.dumps(value), Text), JSONB))


def _sqlite_equals(field: str, value: JsonScalar) -> ColumnElement[bool]:
    members = func.json_each(Document.data).table_valued("key", "type", "value").alias()
    conditions: list[ColumnElement[bool]] = [members.c.key == literal(field, Text)]
    if value is None:
        conditions.append(members.c.type == "null")
    elif isinstance(value, bool):
        conditions.append(members.c.type == ("true" if value else "false"))
    elif isinstance(value, str):
        conditions += [members.c.type == "text", members.c.value == literal(value, Text)]
    else:
        conditions += [members.c.type.in_(("integer", "real")), members.c.value == value]
    return exists(select(1).select_from(members).where(and_(*conditions)))


def dialect_of(db: Session) -> str:
    return db.get_bind().dialect.name

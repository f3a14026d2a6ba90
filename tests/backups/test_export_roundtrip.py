"""Documents the database turns into archive lines itself (`sections.json_line`) come
back from a restore exactly: unicode, nesting, JSON and SQL nulls, big integers,
timestamps with and without a fraction — on SQLite and PostgreSQL."""

from __future__ import annotations

import json
import tarfile
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import insert, select
from sqlalchemy import text as text_sql

from cloudbox.backups.sections import SPECS_BY_NAME, encode_rows
from cloudbox.runtime import Runtime
from tests.plugins.api import Account
from tests.plugins.jobs import completed_backup
from tests.restores.test_roundtrip import restored

DOCUMENTS = SPECS_BY_NAME["documents"]
DATA: list[Any] = [
    {"text": 'é☃ 😀 \u2028 \t\n"quoted" \\back\\ </script>', "ключ": ["ü", {"日本": "語"}]},
    {"deep": {"a": [1, [2, [3, {"b": None}]]], "empty": {}, "list": []}, "z": None},
    {"big": 2**63 + 1, "neg": -(2**70), "float": 0.1, "exp": 1e300, "tiny": 5e-324},
    {"bools": [True, False], "null": None, "num_str": "123", "zero": 0},
    {},
]
STAMPS = [
    datetime(2024, 1, 1, 0, 0, 0, tzinfo=UTC),  # no fraction: isoformat drops it
    datetime(2024, 2, 29, 23, 59, 59, 999999, tzinfo=UTC),
    datetime(1999, 12, 31, 12, 30, 0, 1, tzinfo=UTC),
]


def _documents(runtime: Runtime, project_id: int) -> list[dict[str, Any]]:
    table = DOCUMENTS.table
    with runtime.db.engine.connect() as conn:
        rows = conn.execute(
            select(*DOCUMENTS.columns())
            .where(table.c.project_id == project_id)
            .order_by(table.c.id)
        )
        return [dict(row._mapping) for row in rows]


def _archived_documents(runtime: Runtime, backup: dict[str, Any]) -> bytes:
    """The documents member of a completed backup's archive, as stored."""
    path = runtime.archives.local_path(backup["file_path"])
    assert path is not None
    with tarfile.open(path) as tar:
        member = tar.extractfile("data/documents.ndjson")
        assert member is not None
        return member.read()


def test_documents_round_trip_exactly(
    account: Account, project: dict[str, Any], runtime: Runtime
) -> None:
    pid = project["id"]
    response = account.post(f"/api/projects/{pid}/collections", json={"name": "things"})
    assert response.status_code == 201, response.text
    collection_id = response.json()["id"]
    rows = [
        {
            "project_id": pid,
            "collection_id": collection_id,
            "id": f"doc-{n}-ü",
            "data": data,
            "version": 2**31 - 1 - n,
            "created_at": STAMPS[n % len(STAMPS)],
            "updated_at": STAMPS[(n + 1) % len(STAMPS)],
        }
        for n, data in enumerate(DATA)
    ]
    with runtime.db.transaction() as db:
        db.execute(insert(DOCUMENTS.table), rows)
    source = _documents(runtime, pid)
    assert len(source) == len(DATA)

    backup = completed_backup(account, pid)
    lines = _archived_documents(runtime, backup).splitlines()
    archived = sorted((json.loads(line) for line in lines), key=lambda row: str(row["id"]))
    keys = [c.name for c in DOCUMENTS.columns()]
    assert [list(row) for row in archived] == [keys] * len(DATA)
    for row, expected in zip(archived, source, strict=True):
        assert row["data"] == expected["data"]
        for name in ("created_at", "updated_at"):
            # the archive's form: isoformat of the aware UTC value, "Z" for "+00:00"
            assert row[name] == expected[name].isoformat().replace("+00:00", "Z")
    assert b'"created_at":"2024-01-01T00:00:00Z"' in b"\n".join(lines)

    target = account.create_project("Copy")["id"]
    restored(account, backup["id"], target_project_id=target, pre_restore_backup=False)
    copy = _documents(runtime, target)
    assert copy == source


def _section_lines(runtime: Runtime, project_id: int) -> bytes:
    with runtime.db.engine.connect() as conn:
        rows = conn.execute(DOCUMENTS.rows_query(project_id))
        return b"".join(line + b"\n" for line in encode_rows(DOCUMENTS, rows))


def test_documents_stored_with_any_spacing_re_export_to_the_archived_bytes(
    account: Account, project: dict[str, Any], runtime: Runtime
) -> None:
    """The restore drill's check: a re-export of restored documents equals the archive's
    documents member byte for byte, however the source's JSON text was spaced (the
    column type's `json.dumps` spacing, minified by an older restore's `json()`)."""
    pid = project["id"]
    response = account.post(f"/api/projects/{pid}/collections", json={"name": "things"})
    assert response.status_code == 201, response.text
    collection_id = response.json()["id"]
    texts = ['{"b": 1, "a": [1, 2.5, null]}', '{"b":1,"a":[1,2.5,null]}', '[ true ,"x" ]']
    with runtime.db.transaction() as db:
        for n, text in enumerate(texts):
            db.execute(
                insert(DOCUMENTS.table).values(
                    project_id=pid,
                    collection_id=collection_id,
                    id=f"d{n}",
                    data=None,
                    version=1,
                    created_at=STAMPS[n],
                    updated_at=STAMPS[n],
                )
            )
            cast = "CAST(:t AS jsonb)" if not runtime.db.is_sqlite else ":t"
            db.execute(
                text_sql(f"UPDATE documents SET data = {cast} WHERE project_id = :p AND id = :i"),
                {"t": text, "p": pid, "i": f"d{n}"},
            )
    backup = completed_backup(account, pid)
    archived = _archived_documents(runtime, backup)
    assert archived == _section_lines(runtime, pid)
    by_id = {row["id"]: row["data"] for row in map(json.loads, archived.splitlines())}
    assert by_id == {f"d{n}": json.loads(t) for n, t in enumerate(texts)}

    target = account.create_project("Copy")["id"]
    restored(account, backup["id"], target_project_id=target, pre_restore_backup=False)
    assert _section_lines(runtime, target) == archived
    assert [d["data"] for d in _documents(runtime, target)] == [json.loads(t) for t in texts]

"""The restore's bulk row path (`restores/bulk.py`) on both databases: documents cut at the
writer's layout or parsed when the layout differs, values converted as the column types
would, and archive faults reported as INVALID_ARCHIVE with nothing written."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

import pytest
from sqlalchemy import select

from cloudbox.backups.sections import SPECS_BY_NAME
from cloudbox.collections.models import Document
from cloudbox.restores.bulk import SectionLoader, db_timestamp
from cloudbox.restores.errors import InvalidArchiveError
from cloudbox.runtime import Runtime
from tests.plugins.api import Account

DOCS = SPECS_BY_NAME["documents"]


@pytest.mark.parametrize(
    ("archived", "stored"),
    [
        ("2026-01-02T03:04:05Z", "2026-01-02 03:04:05.000000"),
        ("2026-01-02T03:04:05.5Z", "2026-01-02 03:04:05.500000"),
        ("2026-01-02T03:04:05.123456Z", "2026-01-02 03:04:05.123456"),
        ("2026-01-02T05:04:05.000001+02:00", "2026-01-02 03:04:05.000001"),
        ("2026-01-02 03:04:05+00:00", "2026-01-02 03:04:05.000000"),
    ],
)
def test_timestamps_become_naive_utc_text(archived: str, stored: str) -> None:
    assert db_timestamp(archived, "t") == stored


@pytest.mark.parametrize("bad", ["2026-01-02T03:04:05", "yesterday", 1700000000, None, ["x"]])
def test_bad_timestamps_are_archive_errors(bad: Any) -> None:
    with pytest.raises(InvalidArchiveError):
        db_timestamp(bad, "t")


def _line(**row: Any) -> bytes:
    return json.dumps(row, ensure_ascii=False, separators=(",", ":")).encode()


def _doc(doc_id: str, data: Any, **extra: Any) -> dict[str, Any]:
    return {
        "collection_id": "c1",
        "id": doc_id,
        "data": data,
        "version": 3,
        "created_at": "2026-01-02T03:04:05.123456Z",
        "updated_at": "2026-01-02T03:04:06Z",
        **extra,
    }


@pytest.fixture
def target(account: Account, project: dict[str, Any]) -> int:
    pid = int(project["id"])
    response = account.post(f"/api/projects/{pid}/collections", json={"name": "c1"})
    assert response.status_code == 201, response.text
    return pid


def _collection_id(runtime: Runtime, pid: int) -> str:
    from cloudbox.collections.models import Collection

    with runtime.db.session() as session:
        return str(session.scalars(select(Collection.id).where(Collection.project_id == pid)).one())


def _stored(runtime: Runtime, pid: int) -> dict[str, tuple[Any, int, datetime, datetime]]:
    with runtime.db.session() as session:
        docs = session.scalars(select(Document).where(Document.project_id == pid))
        return {d.id: (d.data, d.version, d.created_at, d.updated_at) for d in docs}


def test_cut_and_parsed_lines_store_the_same_values(runtime: Runtime, target: int) -> None:
    cid = _collection_id(runtime, target)
    data = {"nested": {"list": [1, 2.5, None, True], "text": 'quote " and \\ back'}, "é": "ü"}
    rows = [
        _doc("plain", data),
        _doc('with,"version":9 inside', {"version": 1, "s": ',"version":2'}),  # escaped id
        _doc("big", {"n": 12345678901234567890, "version": [1]}),
        _doc("null-data", None),
    ]
    lines = [_line(**{**r, "collection_id": cid}) for r in rows]
    # keys out of the writer's order: parsed, not cut
    row = _doc("reordered", [1, {"a": "b"}])
    reordered = {"id": "reordered", "collection_id": cid} | {
        k: v for k, v in row.items() if k not in ("id", "collection_id")
    }
    lines.append(_line(**reordered))
    with runtime.db.transaction() as session:
        loader = SectionLoader(session, DOCS, target)
        assert loader.reads_lines
        assert loader.insert_lines(lines) == len(lines)
    stored = _stored(runtime, target)
    expected_created = datetime(2026, 1, 2, 3, 4, 5, 123456, tzinfo=UTC)
    expected_updated = datetime(2026, 1, 2, 3, 4, 6, tzinfo=UTC)
    assert stored == {
        "plain": (data, 3, expected_created, expected_updated),
        'with,"version":9 inside': (
            {"version": 1, "s": ',"version":2'},
            3,
            expected_created,
            expected_updated,
        ),
        "big": ({"n": 12345678901234567890, "version": [1]}, 3, expected_created, expected_updated),
        "null-data": (None, 3, expected_created, expected_updated),
        "reordered": ([1, {"a": "b"}], 3, expected_created, expected_updated),
    }


@pytest.mark.parametrize(
    "changes",
    [
        {},
        {"created_at": "2026-01-02T03:04:05.5Z", "updated_at": "2026-01-02T03:04:05.000001Z"},
        {"version": 0},
        {"version": -7},
        {"version": 10**17},
        {"data": {"k": ',"version":1,"created_at":"2026-01-02T03:04:05Z"}'}},
        {"data": "just a string"},
    ],
)
def test_the_cut_reads_what_the_parser_reads(runtime: Runtime, changes: dict[str, Any]) -> None:
    with runtime.db.session() as session:
        loader = SectionLoader(session, DOCS, 7)
    row = _doc("d", {"a": [1, None]}) | changes
    line = _line(**row)
    cut = loader._cut(line)
    assert cut is not None, line
    parsed = loader._values(json.loads(line))
    assert cut[:3] + cut[4:] == parsed[:3] + parsed[4:]
    assert json.loads(cut[3]) == json.loads(parsed[3]) == row["data"]


@pytest.mark.parametrize(
    "line",
    [
        # a key between data and version: the cut would take `1,"evil":2` for the data
        b'{"collection_id":"C","id":"d","data":1,"evil":2,"version":1,'
        b'"created_at":"2026-01-02T03:04:05Z","updated_at":"2026-01-02T03:04:05Z"}',
        # a tail key the documents table does not have
        b'{"collection_id":"C","id":"d","data":1,"version":1,"extra":0,'
        b'"created_at":"2026-01-02T03:04:05Z","updated_at":"2026-01-02T03:04:05Z"}',
        # wrong types
        b'{"collection_id":"C","id":"d","data":1,"version":"1",'
        b'"created_at":"2026-01-02T03:04:05Z","updated_at":"2026-01-02T03:04:05Z"}',
        b'{"collection_id":"C","id":7,"data":1,"version":1,'
        b'"created_at":"2026-01-02T03:04:05Z","updated_at":"2026-01-02T03:04:05Z"}',
        b'{"collection_id":"C","id":"d","data":1,"version":1,'
        b'"created_at":"2026-01-02T03:04:05","updated_at":"2026-01-02T03:04:05Z"}',
        b'["not", "an", "object"]',
        # JSON has no leading zeros; the cut must not read 01 as 1
        b'{"collection_id":"C","id":"d","data":1,"version":01,'
        b'"created_at":"2026-01-02T03:04:05Z","updated_at":"2026-01-02T03:04:05Z"}',
        # digits other than ASCII's are not a timestamp
        '{"collection_id":"C","id":"d","data":1,"version":1,'
        '"created_at":"\u0662026-01-02T03:04:05Z","updated_at":"2026-01-02T03:04:05Z"}'.encode(),
        b'{"collection_id":"C","id":"d","data":"\xff","version":1,'
        b'"created_at":"2026-01-02T03:04:05Z","updated_at":"2026-01-02T03:04:05Z"}',
        b'{"collection_id":"C","id":"d","data":{"a":1,"version":1,'
        b'"created_at":"2026-01-02T03:04:05Z","updated_at":"2026-01-02T03:04:05Z"}',
    ],
    ids=[
        "key-inside-cut",
        "unknown-tail-key",
        "version-type",
        "id-type",
        "naive-time",
        "array",
        "leading-zero",
        "arabic-digit",
        "not-utf8",
        "unclosed-data",
    ],
)
def test_faulty_lines_are_archive_errors_and_write_nothing(
    runtime: Runtime, target: int, line: bytes
) -> None:
    cid = _collection_id(runtime, target)
    good = _line(**{**_doc("good", {"a": 1}), "collection_id": cid})
    bad = line.replace(b'"C"', json.dumps(cid).encode())
    with pytest.raises(InvalidArchiveError), runtime.db.transaction() as session:
        SectionLoader(session, DOCS, target).insert_lines([good, bad])
    assert _stored(runtime, target) == {}


def test_rows_of_other_sections_are_type_checked(runtime: Runtime, target: int) -> None:
    spec = SPECS_BY_NAME["collections"]
    row = {
        "id": "c2",
        "name": "second",
        "description": "",
        "json_schema": None,
        "indexes": "not checked: JSON holds any value",
        "created_at": "2026-01-02T03:04:05Z",
        "updated_at": "2026-01-02T03:04:05Z",
    }
    with pytest.raises(InvalidArchiveError), runtime.db.transaction() as session:
        SectionLoader(session, spec, target).insert([{**row, "name": 5}])
    with runtime.db.transaction() as session:
        # a row missing a column with a default takes the general path and the default
        partial = {k: v for k, v in row.items() if k != "description"}
        third = row | {"id": "c3", "name": "third"}
        assert SectionLoader(session, spec, target).insert([third, partial]) == 2
    from cloudbox.collections.models import Collection

    with runtime.db.session() as session:
        got = {
            c.id: (c.description, c.indexes, c.json_schema)
            for c in session.scalars(select(Collection).where(Collection.project_id == target))
        }
    assert got["c2"] == ("", "not checked: JSON holds any value", None)
    assert got["c3"] == ("", "not checked: JSON holds any value", None)

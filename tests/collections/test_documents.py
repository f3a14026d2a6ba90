"""Documents: CRUD, ids, versions, merge patches, schemas, If-Match, refusals."""

from __future__ import annotations

import json
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select

from cloudbox.collections.models import Document
from cloudbox.runtime import Runtime
from tests.collections.helpers import docs_url, make_collection, make_document, snapshot
from tests.plugins.api import Account, assert_error

SCHEMA = {
    "type": "object",
    "properties": {
        "name": {"type": "string", "minLength": 1},
        "age": {"type": "integer", "minimum": 0},
        "tags": {"type": "array", "items": {"type": "string"}},
    },
    "required": ["name"],
}


def test_document_lifecycle(account: Account, project: dict[str, Any], runtime: Runtime) -> None:
    pid = project["id"]
    make_collection(account, pid, "notes")
    url = docs_url(pid, "notes")
    created = account.post(url, json={"data": {"title": "hi", "n": 1}})
    assert created.status_code == 201, created.text
    doc = created.json()
    assert set(doc) == {"id", "collection", "data", "version", "created_at", "updated_at"}
    assert len(doc["id"]) == 26 and doc["collection"] == "notes"
    assert doc["data"] == {"title": "hi", "n": 1} and doc["version"] == 1
    assert created.headers["ETag"] == '"1"'

    got = account.get(f"{url}/{doc['id']}")
    assert got.json() == doc and got.headers["ETag"] == '"1"'

    patched = account.patch(f"{url}/{doc['id']}", json={"data": {"n": 2}}).json()
    assert patched["data"] == {"title": "hi", "n": 2} and patched["version"] == 2
    assert patched["created_at"] == doc["created_at"]
    assert patched["updated_at"] >= doc["updated_at"]

    assert account.delete(f"{url}/{doc['id']}").status_code == 204
    assert_error(account.get(f"{url}/{doc['id']}"), 404, "DOCUMENT_NOT_FOUND")
    assert_error(account.delete(f"{url}/{doc['id']}"), 404, "DOCUMENT_NOT_FOUND")
    assert_error(account.patch(f"{url}/{doc['id']}", json={"data": {}}), 404, "DOCUMENT_NOT_FOUND")
    with runtime.db.session() as db:
        assert db.scalars(select(Document)).all() == []
    _missing_collection(account, project)


def _missing_collection(account: Account, project: dict[str, Any]) -> None:
    url = docs_url(project["id"], "nope")
    assert_error(account.get(url), 404, "COLLECTION_NOT_FOUND")
    assert_error(account.post(url, json={"data": {}}), 404, "COLLECTION_NOT_FOUND")
    assert_error(account.get(f"{url}/x"), 404, "COLLECTION_NOT_FOUND")
    assert_error(account.patch(f"{url}/x", json={"data": {}}), 404, "COLLECTION_NOT_FOUND")
    assert_error(account.delete(f"{url}/x"), 404, "COLLECTION_NOT_FOUND")


def test_client_ids_and_duplicates(
    account: Account, project: dict[str, Any], runtime: Runtime
) -> None:
    pid = project["id"]
    make_collection(account, pid, "a")
    make_collection(account, pid, "b")
    for doc_id in ("user:42", "x", "A.b_c-d:9", "9" * 128, "..."):
        assert make_document(account, pid, "a", {}, id=doc_id)["id"] == doc_id
        assert account.get(f"{docs_url(pid, 'a')}/{doc_id}").json()["id"] == doc_id
    before = snapshot(runtime)
    details = assert_error(
        account.post(docs_url(pid, "a"), json={"id": "x", "data": {"other": True}}),
        409,
        "DOCUMENT_EXISTS",
    )["error"]["details"]
    assert details == {"collection": "a", "id": "x"}
    assert snapshot(runtime) == before
    # ids are unique per collection, not per project
    assert make_document(account, pid, "b", {"in": "b"}, id="x")["data"] == {"in": "b"}
    assert account.get(f"{docs_url(pid, 'a')}/x").json()["data"] == {}

    before = snapshot(runtime)
    for bad in ("", "a" * 129, "a b", "a/b", "é", "..", ".", "a?b", 5, "x\x00"):
        response = account.post(docs_url(pid, "a"), json={"id": bad, "data": {}})
        assert_error(response, 422, "VALIDATION_ERROR")
    assert snapshot(runtime) == before
    _unicode_and_types_round_trip(account, project)


def test_list_paging_order_and_total(account: Account, project: dict[str, Any]) -> None:
    pid = project["id"]
    make_collection(account, pid, "c")
    make_collection(account, pid, "other")
    url = docs_url(pid, "c")
    ids = ["m", "z", "a", "k"]
    for n, doc_id in enumerate(ids):
        make_document(account, pid, "c", {"n": n}, id=doc_id)
    make_document(account, pid, "other", {"n": 0})
    account.patch(f"{url}/a", json={"data": {"n": 10}})
    account.patch(f"{url}/a", json={"data": {"n": 11}})
    account.patch(f"{url}/k", json={"data": {"n": 12}})

    listed = account.get(url)
    assert listed.headers["X-Total-Count"] == "4"
    assert [d["id"] for d in listed.json()] == ids  # default: creation order
    assert all(d["collection"] == "c" for d in listed.json())

    def order(by: str) -> list[str]:
        return [d["id"] for d in account.get(url, params={"order_by": by}).json()]

    assert order("id") == ["a", "k", "m", "z"]
    assert order("-id") == ["z", "m", "k", "a"]
    assert order("-created_at") == ["k", "a", "z", "m"]
    assert order("version") == ["m", "z", "k", "a"]  # ties broken by id
    assert order("-version") == ["a", "k", "z", "m"]
    assert order("updated_at")[-2:] == ["a", "k"]
    page = account.get(url, params={"order_by": "id", "limit": 2, "offset": 1})
    assert page.headers["X-Total-Count"] == "4"
    assert [d["id"] for d in page.json()] == ["k", "m"]
    assert_error(account.get(url, params={"order_by": "data"}), 422, "VALIDATION_ERROR")
    assert_error(account.get(url, params={"limit": 1001}), 422, "VALIDATION_ERROR")


def test_merge_patch_semantics_and_versions(account: Account, project: dict[str, Any]) -> None:
    pid = project["id"]
    make_collection(account, pid, "c")
    url = f"{docs_url(pid, 'c')}/d"
    make_document(
        account,
        pid,
        "c",
        {"keep": 1, "drop": 2, "obj": {"a": 1, "b": {"x": 1}}, "list": [1, 2]},
        id="d",
    )

    def patch(data: dict[str, Any]) -> dict[str, Any]:
        response = account.patch(url, json={"data": data})
        assert response.status_code == 200, response.text
        body: dict[str, Any] = response.json()
        return body

    body = patch({"drop": None, "obj": {"b": {"y": 2}, "a": None}, "list": [3], "new": None})
    assert body["data"] == {"keep": 1, "obj": {"b": {"x": 1, "y": 2}}, "list": [3]}
    assert body["version"] == 2
    body = patch({"obj": 7})
    assert body["data"] == {"keep": 1, "obj": 7, "list": [3]} and body["version"] == 3
    body = patch({"obj": {"fresh": True}})
    assert body["data"]["obj"] == {"fresh": True} and body["version"] == 4
    # a patch that changes nothing writes nothing
    unchanged = patch({"keep": 1, "missing": None})
    assert unchanged["version"] == 4 and unchanged["updated_at"] == body["updated_at"]
    assert patch({})["version"] == 4
    # JSON types are exact: 1 -> 1.0 -> true are each a change
    assert patch({"keep": 1.0})["version"] == 5
    assert patch({"keep": True})["version"] == 6
    assert account.get(url).json()["data"]["keep"] is True
    assert_error(account.patch(url, json={"data": [1]}), 422, "VALIDATION_ERROR")
    assert_error(account.patch(url, json={"data": None}), 422, "VALIDATION_ERROR")
    assert_error(account.patch(url, json={}), 422, "VALIDATION_ERROR")
    assert_error(account.patch(url, json={"data": {}, "version": 1}), 422, "VALIDATION_ERROR")


def test_schema_validation(account: Account, project: dict[str, Any], runtime: Runtime) -> None:
    pid = project["id"]
    make_collection(account, pid, "people", schema=SCHEMA)
    url = docs_url(pid, "people")
    ok = make_document(account, pid, "people", {"name": "Ada", "age": 36}, id="ada")
    assert ok["version"] == 1

    before = snapshot(runtime)
    details = assert_error(
        account.post(url, json={"data": {"name": "Bob", "age": "old", "tags": ["a", 1]}}),
        422,
        "SCHEMA_VALIDATION_FAILED",
    )["error"]["details"]
    found = {(e["path"], e["keyword"]) for e in details["errors"]}
    assert found == {("$.age", "type"), ("$.tags[1]", "type")}
    assert all(e["message"] for e in details["errors"])
    assert_error(account.post(url, json={"data": {}}), 422, "SCHEMA_VALIDATION_FAILED")
    # a patch whose result breaks the schema is refused; the document is untouched
    assert_error(
        account.patch(f"{url}/ada", json={"data": {"name": None}}), 422, "SCHEMA_VALIDATION_FAILED"
    )
    assert_error(
        account.patch(f"{url}/ada", json={"data": {"age": -1}}), 422, "SCHEMA_VALIDATION_FAILED"
    )
    assert snapshot(runtime) == before
    assert account.get(f"{url}/ada").json() == ok

    # a new schema does not revalidate stored documents, but applies to the next write
    strict = {**SCHEMA, "required": ["name", "email"]}
    response = account.patch(f"/api/projects/{pid}/collections/people", json={"schema": strict})
    assert response.status_code == 200, response.text
    assert account.get(f"{url}/ada").json()["data"] == {"name": "Ada", "age": 36}
    assert_error(
        account.patch(f"{url}/ada", json={"data": {"age": 37}}), 422, "SCHEMA_VALIDATION_FAILED"
    )
    fixed = account.patch(f"{url}/ada", json={"data": {"email": "ada@example.com"}}).json()
    assert fixed["version"] == 2
    # without a schema anything goes
    account.patch(f"/api/projects/{pid}/collections/people", json={"schema": None})
    assert make_document(account, pid, "people", {"anything": [1, {"x": None}]})["version"] == 1


def test_if_match(
    client: TestClient, account: Account, project: dict[str, Any], runtime: Runtime
) -> None:
    pid = project["id"]
    make_collection(account, pid, "c")
    url = f"{docs_url(pid, 'c')}/d"
    make_document(account, pid, "c", {"n": 0}, id="d")

    def send(method: str, if_match: str, body: Any = None) -> Any:
        headers = {**account.headers, "If-Match": if_match}
        return client.request(method, url, headers=headers, json=body)

    assert send("PATCH", "1", {"data": {"n": 1}}).json()["version"] == 2
    assert send("PATCH", '"2"', {"data": {"n": 2}}).json()["version"] == 3
    assert send("PATCH", 'W/"3"', {"data": {"n": 3}}).json()["version"] == 4
    assert send("PATCH", "*", {"data": {"n": 4}}).json()["version"] == 5

    before = snapshot(runtime)
    details = assert_error(send("PATCH", "4", {"data": {"n": 99}}), 412, "VERSION_CONFLICT")
    assert details["error"]["details"] == {"expected_version": 4, "current_version": 5}
    assert_error(send("DELETE", "1"), 412, "VERSION_CONFLICT")
    for bad in ("abc", "-1", "1.5", '"x"', "9" * 30):
        assert_error(send("PATCH", bad, {"data": {"n": 99}}), 422, "VALIDATION_ERROR")
        assert_error(send("DELETE", bad), 422, "VALIDATION_ERROR")
    assert snapshot(runtime) == before

    assert send("DELETE", "5").status_code == 204
    assert_error(account.get(url), 404, "DOCUMENT_NOT_FOUND")


def _nested(depth: int) -> dict[str, Any]:
    """An object nested `depth` levels deep (the outer object is level 1)."""
    value: dict[str, Any] = {}
    for _ in range(depth - 1):
        value = {"a": value}
    return value


def test_nesting_depth(account: Account, project: dict[str, Any], runtime: Runtime) -> None:
    pid = project["id"]
    make_collection(account, pid, "c")
    url = docs_url(pid, "c")
    deepest = make_document(account, pid, "c", _nested(64), id="deep")
    assert account.get(f"{url}/deep").json()["data"] == deepest["data"]
    lists: Any = []
    for _ in range(62):
        lists = [lists]
    make_document(account, pid, "c", {"l": lists})  # object + 63 arrays = 64 levels

    before = snapshot(runtime)
    details = assert_error(account.post(url, json={"data": _nested(65)}), 422, "VALIDATION_ERROR")[
        "error"
    ]["details"]
    assert details["field"] == "data" and details["max_depth"] == 64
    assert_error(account.post(url, json={"data": {"l": [lists]}}), 422, "VALIDATION_ERROR")
    assert snapshot(runtime) == before
    # a patch may not push a document past the limit either
    make_document(account, pid, "c", _nested(2), id="shallow")
    before = snapshot(runtime)
    assert_error(
        account.patch(f"{url}/shallow", json={"data": _nested(65)}), 422, "VALIDATION_ERROR"
    )
    assert_error(
        account.patch(f"{url}/deep", json={"data": {"b": _nested(64)}}), 422, "VALIDATION_ERROR"
    )
    assert snapshot(runtime) == before


RAW_BAD_BODIES = [
    ("NaN", b'{"data": {"x": NaN}}'),
    ("Infinity", b'{"data": {"x": -Infinity}}'),
    ("float overflow", b'{"data": {"x": 1e400}}'),
    ("NUL in value", b'{"data": {"x": "a\\u0000b"}}'),
    ("NUL in key", b'{"data": {"a\\u0000": 1}}'),
    ("lone surrogate", b'{"data": {"x": "\\ud800"}}'),
    ("data not an object", b'{"data": [1, 2]}'),
    ("data string", b'{"data": "x"}'),
    ("data missing", b"{}"),
    ("data null", b'{"data": null}'),
    ("unknown field", b'{"data": {}, "version": 3}'),
    ("not json", b'{"data": '),
]


def test_bad_bodies_write_nothing(
    client: TestClient, account: Account, project: dict[str, Any], runtime: Runtime
) -> None:
    pid = project["id"]
    make_collection(account, pid, "c")
    make_document(account, pid, "c", {"x": 1}, id="d")
    before = snapshot(runtime)
    headers = {**account.headers, "Content-Type": "application/json"}
    for case, body in RAW_BAD_BODIES:
        for method, url in (("POST", docs_url(pid, "c")), ("PATCH", f"{docs_url(pid, 'c')}/d")):
            response = client.request(method, url, content=body, headers=headers)
            assert response.status_code == 422, (case, method, response.text)
            assert_error(response, 422, "VALIDATION_ERROR")
    assert snapshot(runtime) == before


def _unicode_and_types_round_trip(account: Account, project: dict[str, Any]) -> None:
    pid = project["id"]
    make_collection(account, pid, "c")
    data = {
        "text": "héllo 日本 🎉",
        "clé": "value",
        "int": 12345678901234567890,
        "float": 0.1,
        "neg": -0.5,
        "big": 1.5e300,
        "t": True,
        "f": False,
        "none": None,
        "empty": {},
        "list": [],
        "": "empty key",
    }
    created = make_document(account, pid, "c", data, id="u")
    assert created["data"] == data
    got = account.get(f"{docs_url(pid, 'c')}/u").json()["data"]
    # PostgreSQL keeps numbers as exact decimals and writes 1.5e300 out in full: the
    # same JSON number, which Python then reads as an int.
    assert float(got.pop("big")) == data.pop("big")
    assert json.dumps(got, sort_keys=True) == json.dumps(data, sort_keys=True)


def test_insert_races_become_conflicts(
    account: Account, project: dict[str, Any], runtime: Runtime, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The existence check cannot see a concurrent insert; the constraint then decides,
    inside a savepoint, and the answer is the same 409 with nothing written."""
    from cloudbox.collections import repository

    pid = project["id"]
    make_collection(account, pid, "c")
    make_document(account, pid, "c", {"v": 1}, id="d")
    before = snapshot(runtime)
    real_exists = repository.document_exists
    calls: list[str] = []

    def blind_once(*args: Any) -> bool:
        calls.append(args[-1])
        return False if len(calls) == 1 else real_exists(*args)

    monkeypatch.setattr(repository, "document_exists", blind_once)
    response = account.post(docs_url(pid, "c"), json={"id": "d", "data": {"v": 2}})
    assert_error(response, 409, "DOCUMENT_EXISTS")
    assert calls == ["d", "d"]

    real_get = repository.get_collection
    seen: list[str] = []

    def blind_collection(db: Any, project_id: int, name: str) -> Any:
        seen.append(name)
        return None if name == "c" and len(seen) == 1 else real_get(db, project_id, name)

    monkeypatch.setattr(repository, "get_collection", blind_collection)
    response = account.post(f"/api/projects/{pid}/collections", json={"name": "c"})
    assert_error(response, 409, "COLLECTION_EXISTS")
    assert snapshot(runtime) == before

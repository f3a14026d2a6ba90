"""Collections: CRUD, JSON Schema checks, roles, and refusals that write nothing."""

from __future__ import annotations

from typing import Any

from fastapi.testclient import TestClient
from sqlalchemy import func, select

from cloudbox.collections.models import Collection, Document
from cloudbox.runtime import Runtime
from tests.collections.helpers import (
    base,
    docs_url,
    make_collection,
    make_document,
    row_counts,
    snapshot,
)
from tests.plugins.api import Account, add_member, assert_error

PERSON = {
    "type": "object",
    "properties": {"name": {"type": "string"}, "age": {"type": "integer", "minimum": 0}},
    "required": ["name"],
}


def test_collection_lifecycle(account: Account, project: dict[str, Any]) -> None:
    pid = project["id"]
    created = make_collection(
        account, pid, "people", description="Humans", schema=PERSON, indexes=["name", "age"]
    )
    assert set(created) == {
        "id",
        "name",
        "description",
        "schema",
        "indexes",
        "document_count",
        "created_at",
        "updated_at",
    }
    assert created["name"] == "people" and created["schema"] == PERSON
    assert created["indexes"] == ["name", "age"] and created["document_count"] == 0
    assert len(created["id"]) == 26

    make_document(account, pid, "people", {"name": "Ada"})
    got = account.get(f"{base(pid)}/people").json()
    assert got["id"] == created["id"] and got["document_count"] == 1

    patched = account.patch(
        f"{base(pid)}/people", json={"description": "Everyone", "indexes": []}
    ).json()
    assert patched["description"] == "Everyone" and patched["indexes"] == []
    assert patched["schema"] == PERSON  # absent fields are unchanged
    assert patched["updated_at"] >= created["updated_at"]
    removed = account.patch(f"{base(pid)}/people", json={"schema": None}).json()
    assert removed["schema"] is None

    assert account.delete(f"{base(pid)}/people").status_code == 204
    assert_error(account.get(f"{base(pid)}/people"), 404, "COLLECTION_NOT_FOUND")
    assert_error(account.delete(f"{base(pid)}/people"), 404, "COLLECTION_NOT_FOUND")
    assert_error(account.patch(f"{base(pid)}/people", json={}), 404, "COLLECTION_NOT_FOUND")


def test_list_paging_and_order(account: Account, project: dict[str, Any]) -> None:
    pid = project["id"]
    for name in ("bravo", "alpha", "charlie"):
        make_collection(account, pid, name)
    make_document(account, pid, "charlie", {"x": 1})
    make_document(account, pid, "charlie", {"x": 2})

    listed = account.get(base(pid))
    assert listed.headers["X-Total-Count"] == "3"
    assert [c["name"] for c in listed.json()] == ["alpha", "bravo", "charlie"]
    assert [c["document_count"] for c in listed.json()] == [0, 0, 2]
    desc = account.get(base(pid), params={"order_by": "-name"}).json()
    assert [c["name"] for c in desc] == ["charlie", "bravo", "alpha"]
    by_created = account.get(base(pid), params={"order_by": "created_at"}).json()
    assert [c["name"] for c in by_created] == ["bravo", "alpha", "charlie"]
    page = account.get(base(pid), params={"limit": 1, "offset": 1})
    assert page.headers["X-Total-Count"] == "3"
    assert [c["name"] for c in page.json()] == ["bravo"]
    assert_error(account.get(base(pid), params={"order_by": "schema"}), 422, "VALIDATION_ERROR")


def test_names_are_unique_per_project(account: Account, project: dict[str, Any]) -> None:
    pid = project["id"]
    other = account.create_project("Other")
    make_collection(account, pid, "items")
    assert_error(account.post(base(pid), json={"name": "items"}), 409, "COLLECTION_EXISTS")
    make_collection(account, other["id"], "items")  # another project: fine
    make_collection(account, pid, "Items")  # names are case-sensitive
    assert account.get(base(pid)).headers["X-Total-Count"] == "2"
    assert account.get(base(other["id"])).headers["X-Total-Count"] == "1"


def test_rename_keeps_documents(
    account: Account, project: dict[str, Any], runtime: Runtime
) -> None:
    pid = project["id"]
    make_collection(account, pid, "old")
    make_collection(account, pid, "taken")
    doc = make_document(account, pid, "old", {"a": 1}, id="d1")
    before = snapshot(runtime)
    assert_error(
        account.patch(f"{base(pid)}/old", json={"name": "taken"}), 409, "COLLECTION_EXISTS"
    )
    assert snapshot(runtime) == before

    renamed = account.patch(f"{base(pid)}/old", json={"name": "new"}).json()
    assert renamed["name"] == "new" and renamed["document_count"] == 1
    assert_error(account.get(f"{base(pid)}/old"), 404, "COLLECTION_NOT_FOUND")
    moved = account.get(f"{docs_url(pid, 'new')}/d1").json()
    assert moved["collection"] == "new" and moved["data"] == doc["data"]
    make_collection(account, pid, "old")  # the old name is free again
    assert account.get(docs_url(pid, "old")).json() == []


def test_delete_collection_deletes_only_its_documents(
    account: Account, project: dict[str, Any], runtime: Runtime
) -> None:
    pid = project["id"]
    make_collection(account, pid, "doomed")
    make_collection(account, pid, "kept")
    for n in range(3):
        make_document(account, pid, "doomed", {"n": n}, id=f"d{n}")
    make_document(account, pid, "kept", {"n": 0}, id="d0")
    with runtime.db.session() as db:
        assert db.scalar(select(func.count()).select_from(Document)) == 4

    assert account.delete(f"{base(pid)}/doomed").status_code == 204
    with runtime.db.session() as db:
        remaining = db.execute(select(Document.collection_id, Document.id)).all()
        kept_id = db.scalar(select(Collection.id).where(Collection.name == "kept"))
    assert remaining == [(kept_id, "d0")]
    assert_error(account.get(docs_url(pid, "doomed")), 404, "COLLECTION_NOT_FOUND")
    make_collection(account, pid, "doomed")
    assert account.get(docs_url(pid, "doomed")).headers["X-Total-Count"] == "0"
    _project_deletion_deletes_collections_and_documents(account, project, runtime)


def _project_deletion_deletes_collections_and_documents(
    account: Account, project: dict[str, Any], runtime: Runtime
) -> None:
    pid = project["id"]
    make_collection(account, pid, "c")
    make_document(account, pid, "c", {"a": 1})
    assert account.delete(f"/api/projects/{pid}").status_code == 204
    counts = row_counts(runtime)
    assert counts["collections"] == 0 and counts["documents"] == 0


def _deep_schema(levels: int) -> dict[str, Any]:
    schema: dict[str, Any] = {"type": "object"}
    for _ in range(levels):
        schema = {"type": "object", "properties": {"a": schema}}
    return schema


BAD_COLLECTIONS: list[tuple[str, Any]] = [
    ("empty name", {"name": ""}),
    ("long name", {"name": "a" * 65}),
    ("leading digit", {"name": "1abc"}),
    ("bad character", {"name": "a b"}),
    ("dot", {"name": "a.b"}),
    ("name not a string", {"name": 5}),
    ("unknown field", {"name": "ok", "owner": 1}),
    ("python field name", {"name": "ok", "json_schema": {}}),
    ("long description", {"name": "ok", "description": "x" * 2001}),
    ("NUL in description", {"name": "ok", "description": "a\x00b"}),
    ("schema not an object", {"name": "ok", "schema": "string"}),
    ("schema boolean", {"name": "ok", "schema": True}),
    ("invalid schema type", {"name": "ok", "schema": {"type": "foo"}}),
    ("invalid schema regex", {"name": "ok", "schema": {"pattern": "(["}}),
    ("invalid schema minimum", {"name": "ok", "schema": {"minimum": "zero"}}),
    ("remote ref", {"name": "ok", "schema": {"$ref": "http://127.0.0.1:9/x.json"}}),
    ("dangling ref", {"name": "ok", "schema": {"$ref": "#/$defs/missing"}}),
    ("self ref cycle", {"name": "ok", "schema": {"$ref": "#"}}),
    (
        "other draft",
        {"name": "ok", "schema": {"$schema": "http://json-schema.org/draft-07/schema#"}},
    ),
    ("schema too deep", {"name": "ok", "schema": _deep_schema(20)}),
    ("schema too large", {"name": "ok", "schema": {"description": "x" * 70_000}}),
    ("too many indexes", {"name": "ok", "indexes": [f"f{i}" for i in range(33)]}),
    ("duplicate indexes", {"name": "ok", "indexes": ["a", "a"]}),
    ("empty index name", {"name": "ok", "indexes": [""]}),
    ("indexes not a list", {"name": "ok", "indexes": "a"}),
]


def test_invalid_collections_are_refused_and_write_nothing(
    account: Account, project: dict[str, Any], runtime: Runtime
) -> None:
    pid = project["id"]
    make_collection(account, pid, "existing", schema=PERSON)
    before = snapshot(runtime)
    counts = row_counts(runtime)
    for case, body in BAD_COLLECTIONS:
        response = account.post(base(pid), json=body)
        assert response.status_code == 422, (case, response.text)
        assert_error(response, 422, "VALIDATION_ERROR")
        patch = {k: v for k, v in body.items() if k != "name"} or {"name": body["name"]}
        response = account.patch(f"{base(pid)}/existing", json=patch)
        assert response.status_code == 422, (case, response.text)
        assert_error(response, 422, "VALIDATION_ERROR")
    assert snapshot(runtime) == before and row_counts(runtime) == counts
    _schema_errors_say_where(account, project)


def _schema_errors_say_where(account: Account, project: dict[str, Any]) -> None:
    pid = project["id"]
    bad = {"type": "object", "properties": {"age": {"type": "integer", "minimum": "zero"}}}
    details = assert_error(
        account.post(base(pid), json={"name": "c", "schema": bad}), 422, "VALIDATION_ERROR"
    )["error"]["details"]
    assert details["field"] == "schema"
    assert details["path"] == "$.properties.age.minimum"
    assert "zero" in details["reason"]
    remote = {"$ref": "https://example.com/schema.json"}
    details = assert_error(
        account.post(base(pid), json={"name": "c", "schema": remote}), 422, "VALIDATION_ERROR"
    )["error"]["details"]
    assert details["ref"] == "https://example.com/schema.json"


def test_schema_features_that_are_accepted(account: Account, project: dict[str, Any]) -> None:
    pid = project["id"]
    tree = {
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "$defs": {
            "node": {
                "type": "object",
                "properties": {"children": {"type": "array", "items": {"$ref": "#/$defs/node"}}},
            }
        },
        "$ref": "#/$defs/node",
    }
    make_collection(account, pid, "tree", schema=tree)
    deep: dict[str, Any] = {}
    for _ in range(20):
        deep = {"children": [deep]}
    make_document(account, pid, "tree", deep)
    assert_error(
        account.post(docs_url(pid, "tree"), json={"data": {"children": [{"children": 1}]}}),
        422,
        "SCHEMA_VALIDATION_FAILED",
    )
    meta = {"$ref": "https://json-schema.org/draft/2020-12/schema"}  # a bundled meta-schema
    make_collection(account, pid, "schemas", schema=meta)
    make_document(account, pid, "schemas", {"type": "string"})
    assert_error(
        account.post(docs_url(pid, "schemas"), json={"data": {"type": 5}}),
        422,
        "SCHEMA_VALIDATION_FAILED",
    )


def test_roles(client: TestClient, account: Account, project: dict[str, Any]) -> None:
    pid = project["id"]
    make_collection(account, pid, "shared")
    make_document(account, pid, "shared", {"a": 1}, id="d1")
    viewer = add_member(account, pid, "viewer", client)
    developer = add_member(account, pid, "developer", client)

    assert viewer.get(base(pid)).status_code == 200
    assert viewer.get(f"{base(pid)}/shared").status_code == 200
    assert viewer.get(docs_url(pid, "shared")).status_code == 200
    assert viewer.get(f"{docs_url(pid, 'shared')}/d1").status_code == 200
    for response in (
        viewer.post(base(pid), json={"name": "mine"}),
        viewer.patch(f"{base(pid)}/shared", json={"description": "x"}),
        viewer.delete(f"{base(pid)}/shared"),
        viewer.post(docs_url(pid, "shared"), json={"data": {}}),
        viewer.patch(f"{docs_url(pid, 'shared')}/d1", json={"data": {"a": 2}}),
        viewer.delete(f"{docs_url(pid, 'shared')}/d1"),
    ):
        assert_error(response, 403, "INSUFFICIENT_PERMISSIONS")

    assert developer.post(base(pid), json={"name": "devs"}).status_code == 201
    assert developer.patch(f"{base(pid)}/devs", json={"schema": PERSON}).status_code == 200
    assert developer.post(docs_url(pid, "devs"), json={"data": {"name": "x"}}).status_code == 201
    assert (
        developer.patch(f"{docs_url(pid, 'shared')}/d1", json={"data": {"b": 2}}).status_code == 200
    )
    assert developer.delete(f"{docs_url(pid, 'shared')}/d1").status_code == 204
    assert developer.delete(f"{base(pid)}/devs").status_code == 204
    _api_key_scopes(client, account, project)


def _api_key_scopes(client: TestClient, account: Account, project: dict[str, Any]) -> None:
    pid = project["id"]
    make_collection(account, pid, "c")
    keys = {
        scope: account.post(
            f"/api/projects/{pid}/api-keys", json={"name": scope, "scopes": [scope]}
        ).json()["key"]
        for scope in ("read", "write")
    }
    read = {"X-API-Key": keys["read"]}
    write = {"X-API-Key": keys["write"]}
    assert client.get(docs_url(pid, "c"), headers=read).status_code == 200
    assert_error(
        client.post(docs_url(pid, "c"), headers=read, json={"data": {}}),
        403,
        "INSUFFICIENT_PERMISSIONS",
    )
    assert client.post(docs_url(pid, "c"), headers=write, json={"data": {}}).status_code == 201


def test_audit_names_the_resources(account: Account, project: dict[str, Any]) -> None:
    pid = project["id"]
    make_collection(account, pid, "c")
    make_document(account, pid, "c", {"a": 1}, id="doc-1")
    account.patch(f"{docs_url(pid, 'c')}/doc-1", json={"data": {"a": 2}})
    logs = account.get(
        f"/api/projects/{pid}/audit-logs", params={"order_by": "created_at", "limit": 10}
    ).json()
    entries = [(e["action"], e["resource_id"]) for e in logs][1:]
    assert entries == [
        ("collections.create", "c"),
        ("documents.create", "doc-1"),
        ("documents.update", "doc-1"),
    ]

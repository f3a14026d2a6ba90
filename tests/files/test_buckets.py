from __future__ import annotations

from typing import Any

from fastapi.testclient import TestClient
from sqlalchemy import select

from cloudbox.audit.models import AuditLog
from cloudbox.runtime import Runtime
from tests.files.helpers import base, counts, create_bucket, refcount, sha, uploaded
from tests.plugins.api import Account, add_member, assert_error


def test_bucket_crud_paging_and_order(account: Account, project: dict[str, Any]) -> None:
    pid = project["id"]
    created = create_bucket(
        account,
        pid,
        "photos",
        description="Holiday pictures",
        is_public=True,
        max_file_size=1024,
        allowed_types=["Image/*", "application/pdf", "image/*"],
    )
    assert created["name"] == "photos" and created["is_public"] is True
    assert created["max_file_size"] == 1024
    assert created["allowed_types"] == ["image/*", "application/pdf"]  # lowered, deduplicated
    default = create_bucket(account, pid, "a-bucket")
    assert default["max_file_size"] == 5 * 1024**3 and default["allowed_types"] == []
    assert default["description"] == "" and default["is_public"] is False
    create_bucket(account, pid, "z.bucket_9")

    listed = account.get(f"{base(pid)}/buckets")
    assert listed.headers["X-Total-Count"] == "3"
    assert [b["name"] for b in listed.json()] == ["a-bucket", "photos", "z.bucket_9"]
    page = account.get(f"{base(pid)}/buckets", params={"limit": 1, "offset": 1})
    assert [b["name"] for b in page.json()] == ["photos"]
    assert page.headers["X-Total-Count"] == "3"
    newest = account.get(f"{base(pid)}/buckets", params={"order_by": "-created_at"})
    assert newest.json()[0]["name"] == "z.bucket_9"
    assert_error(
        account.get(f"{base(pid)}/buckets", params={"order_by": "description"}),
        422,
        "VALIDATION_ERROR",
    )

    got = account.get(f"{base(pid)}/buckets/photos")
    assert got.status_code == 200 and got.json() == created

    patched = account.patch(
        f"{base(pid)}/buckets/photos",
        json={"name": "pictures", "allowed_types": [], "max_file_size": 2048},
    )
    assert patched.status_code == 200, patched.text
    body = patched.json()
    assert body["name"] == "pictures" and body["allowed_types"] == []
    assert body["max_file_size"] == 2048 and body["description"] == "Holiday pictures"
    assert body["id"] == created["id"]
    assert_error(account.get(f"{base(pid)}/buckets/photos"), 404, "BUCKET_NOT_FOUND")

    assert account.delete(f"{base(pid)}/buckets/pictures").status_code == 204
    assert_error(account.get(f"{base(pid)}/buckets/pictures"), 404, "BUCKET_NOT_FOUND")
    assert_error(account.delete(f"{base(pid)}/buckets/pictures"), 404, "BUCKET_NOT_FOUND")
    assert account.get(f"{base(pid)}/buckets").headers["X-Total-Count"] == "2"


def test_bucket_names_are_unique_per_project(account: Account, project: dict[str, Any]) -> None:
    pid = project["id"]
    create_bucket(account, pid, "docs")
    create_bucket(account, pid, "other")
    assert_error(account.post(f"{base(pid)}/buckets", json={"name": "docs"}), 409, "BUCKET_EXISTS")
    assert_error(
        account.patch(f"{base(pid)}/buckets/other", json={"name": "docs"}), 409, "BUCKET_EXISTS"
    )
    # another project may use the same name
    second = account.create_project("Second")
    create_bucket(account, second["id"], "docs")
    # renaming to its own name is a no-op, not a conflict
    assert account.patch(f"{base(pid)}/buckets/docs", json={"name": "docs"}).status_code == 200


def test_bucket_validation_writes_nothing(
    account: Account, project: dict[str, Any], runtime: Runtime
) -> None:
    pid = project["id"]
    url = f"{base(pid)}/buckets"
    before = counts(runtime)
    bad_bodies: list[dict[str, Any]] = [
        {},
        {"name": ""},
        {"name": "Upper"},
        {"name": "-dash-first"},
        {"name": "has space"},
        {"name": "a" * 64},
        {"name": "ok", "max_file_size": 0},
        {"name": "ok", "max_file_size": 5 * 1024**4 + 1},
        {"name": "ok", "allowed_types": ["image"]},
        {"name": "ok", "allowed_types": ["*/png"]},
        {"name": "ok", "allowed_types": ["image/png; charset=x"]},
        {"name": "ok", "allowed_types": [f"t/{i}" for i in range(101)]},
        {"name": "ok", "description": "x" * 2001},
        {"name": "ok", "unknown": 1},
        {"name": "ok", "is_public": "maybe"},
    ]
    for body in bad_bodies:
        assert_error(account.post(url, json=body), 422, "VALIDATION_ERROR")
    assert counts(runtime) == before

    create_bucket(account, pid, "docs", description="kept")
    for body in (
        {"name": None},
        {"max_file_size": None},
        {"allowed_types": ["nope"]},
        {"name": "BAD"},
        {"id": "x"},
    ):
        assert_error(account.patch(f"{url}/docs", json=body), 422, "VALIDATION_ERROR")
    assert account.get(f"{url}/docs").json()["description"] == "kept"
    assert_error(account.patch(f"{url}/missing", json={}), 404, "BUCKET_NOT_FOUND")


def test_bucket_roles(client: TestClient, account: Account, project: dict[str, Any]) -> None:
    pid = project["id"]
    create_bucket(account, pid, "docs")
    viewer = add_member(account, pid, "viewer", client)
    developer = add_member(account, pid, "developer", client)
    assert viewer.get(f"{base(pid)}/buckets").status_code == 200
    assert viewer.get(f"{base(pid)}/buckets/docs").status_code == 200
    for response in (
        viewer.post(f"{base(pid)}/buckets", json={"name": "v"}),
        viewer.patch(f"{base(pid)}/buckets/docs", json={"description": "v"}),
        viewer.delete(f"{base(pid)}/buckets/docs"),
    ):
        assert_error(response, 403, "INSUFFICIENT_PERMISSIONS")
    assert developer.post(f"{base(pid)}/buckets", json={"name": "dev"}).status_code == 201
    assert developer.patch(f"{base(pid)}/buckets/dev", json={"is_public": True}).status_code == 200
    assert developer.delete(f"{base(pid)}/buckets/dev").status_code == 204


def test_delete_non_empty_bucket_needs_force(
    account: Account, project: dict[str, Any], runtime: Runtime
) -> None:
    pid = project["id"]
    create_bucket(account, pid, "docs")
    create_bucket(account, pid, "keep")
    shared = b"shared content"
    uploaded(account, pid, "docs", shared)
    uploaded(account, pid, "docs", shared)
    uploaded(account, pid, "docs", b"only in docs")
    kept = uploaded(account, pid, "keep", shared)
    assert refcount(runtime, sha(shared)) == 3

    refused = assert_error(account.delete(f"{base(pid)}/buckets/docs"), 409, "BUCKET_NOT_EMPTY")
    assert refused["error"]["details"]["file_count"] == 3
    assert counts(runtime)["files"] == 4

    assert account.delete(f"{base(pid)}/buckets/docs", params={"force": "true"}).status_code == 204
    after = counts(runtime)
    assert after["buckets"] == 1 and after["files"] == 1
    # references dropped, blobs left for the collector
    assert refcount(runtime, sha(shared)) == 1
    assert refcount(runtime, sha(b"only in docs")) == 0
    assert after["stored"] == 2
    content = account.get(f"{base(pid)}/buckets/keep/files/{kept['id']}/content")
    assert content.content == shared

    with runtime.db.session() as db:
        actions = list(db.scalars(select(AuditLog.action).where(AuditLog.project_id == pid)))
    assert "buckets.create" in actions and "buckets.delete" in actions

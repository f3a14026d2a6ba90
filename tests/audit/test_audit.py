from __future__ import annotations

from typing import Any

from fastapi.testclient import TestClient

from cloudbox.api.middleware import audit_name
from tests.plugins.api import Account, add_member, assert_error


def test_each_mutating_request_is_recorded_with_its_actor(
    client: TestClient, account: Account, project: dict[str, Any]
) -> None:
    pid = project["id"]
    member = add_member(account, pid, "viewer", client)
    account.patch(f"/api/projects/{pid}", json={"description": "changed"})
    key = account.post(
        f"/api/projects/{pid}/api-keys", json={"name": "k", "scopes": ["read"]}
    ).json()
    account.put(f"/api/projects/{pid}/cors", json={})
    member.patch(f"/api/projects/{pid}", json={"name": "hijack"})  # refused: viewer
    account.post(
        f"/api/projects/{pid}/members", json={"email": "x", "role": "viewer"}
    )  # refused: invalid

    logs = account.get(
        f"/api/projects/{pid}/audit-logs", params={"order_by": "created_at", "limit": 100}
    ).json()
    actions = [(e["action"], e["success"]) for e in logs]
    assert actions == [
        ("project.create", True),
        ("members.create", True),
        ("project.update", True),
        ("api_keys.create", True),
        ("cors.update", True),
        ("project.update", False),
        ("members.create", False),
    ]
    assert logs[1]["resource_id"] == str(member.user["id"])
    assert logs[3]["resource_id"] == key["id"]
    assert {e["actor_email"] for e in logs if e["success"]} == {account.email}
    refused = logs[5]
    assert (
        refused["actor_email"] == member.email
        and refused["error_code"] == "INSUFFICIENT_PERMISSIONS"
    )
    assert logs[6]["error_code"] == "VALIDATION_ERROR"
    assert all(e["actor_type"] == "user" and e["ip"] for e in logs)


def test_filters_paging_and_no_delete(account: Account, project: dict[str, Any]) -> None:
    pid = project["id"]
    for n in range(3):
        account.patch(f"/api/projects/{pid}", json={"description": str(n)})
    url = f"/api/projects/{pid}/audit-logs"
    updates = account.get(url, params={"action": "project.update"})
    assert updates.headers["X-Total-Count"] == "3"
    newest = updates.json()[0]
    since = account.get(url, params={"since": newest["created_at"]}).json()
    assert [e["id"] for e in since] == [newest["id"]]
    assert len(account.get(url, params={"limit": 2}).json()) == 2
    assert_error(account.delete(url), 405, "METHOD_NOT_ALLOWED")
    assert_error(account.get(url, params={"since": "yesterday"}), 422, "VALIDATION_ERROR")


def test_api_key_actor(client: TestClient, account: Account, project: dict[str, Any]) -> None:
    pid = project["id"]
    key = account.post(
        f"/api/projects/{pid}/api-keys", json={"name": "k", "scopes": ["admin"]}
    ).json()
    client.put(f"/api/projects/{pid}/cors", headers={"X-API-Key": key["key"]}, json={})
    entry = account.get(f"/api/projects/{pid}/audit-logs", params={"action": "cors.update"}).json()[
        0
    ]
    assert entry["actor_type"] == "api_key" and entry["actor_id"] == key["id"]


def test_audit_names() -> None:
    assert audit_name("/api/backups/{backup_id}/cancel", {"backup_id": 4}, "POST") == (
        "backups.cancel",
        "backups",
        "4",
    )
    assert (
        audit_name("/api/projects/{project_id}/backups/import", {}, "POST")[0] == "backups.import"
    )
    assert audit_name("/api/projects", {}, "POST")[:2] == ("project.create", "project")
    assert audit_name("/api/projects/{project_id}/collections/{name}/documents", {}, "POST")[0] == (
        "documents.create"
    )
    assert audit_name("/api/projects/{project_id}/members/{user_id}", {"user_id": 7}, "DELETE") == (
        "members.delete",
        "members",
        "7",
    )
    assert audit_name("/api/projects/{project_id}", {"project_id": 3}, "PATCH") == (
        "project.update",
        "project",
        "3",
    )
    assert audit_name("/api/projects/{project_id}/api-keys", {}, "POST") == (
        "api_keys.create",
        "api_keys",
        None,
    )

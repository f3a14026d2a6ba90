from __future__ import annotations

from typing import Any

from fastapi.testclient import TestClient

from tests.plugins.api import Account, add_member, api_routes, assert_error, fill_path, register


def test_register_login_create_and_list_only_own_projects(client: TestClient) -> None:
    alice, bob = register(client), register(client)
    login = client.post("/api/auth/login", json={"email": alice.email, "password": alice.password})
    alice.headers = {"Authorization": f"Bearer {login.json()['token']}"}
    p1 = alice.create_project("Alpha", description="first")
    p2 = alice.create_project("Beta")
    bob.create_project("Bob's")
    assert isinstance(p1["id"], int) and p1["role"] == "owner"

    listed = alice.get("/api/projects")
    assert listed.status_code == 200
    assert [p["id"] for p in listed.json()] == [p1["id"], p2["id"]]
    assert listed.headers["X-Total-Count"] == "2"
    page = alice.get("/api/projects", params={"limit": 1, "offset": 1})
    assert [p["name"] for p in page.json()] == ["Beta"] and page.headers["X-Total-Count"] == "2"
    ordered = alice.get("/api/projects", params={"order_by": "-name"})
    assert [p["name"] for p in ordered.json()] == ["Beta", "Alpha"]
    assert_error(
        alice.get("/api/projects", params={"order_by": "password"}), 422, "VALIDATION_ERROR"
    )


def test_get_update_delete_project(account: Account, project: dict[str, Any]) -> None:
    pid = project["id"]
    assert account.get(f"/api/projects/{pid}").json()["name"] == "Main"
    updated = account.patch(
        f"/api/projects/{pid}", json={"description": "new", "settings": {"tier": 1}}
    )
    assert updated.status_code == 200
    assert updated.json()["description"] == "new" and updated.json()["settings"] == {"tier": 1}
    assert account.delete(f"/api/projects/{pid}").status_code == 204
    assert_error(account.get(f"/api/projects/{pid}"), 404, "PROJECT_NOT_FOUND")


def test_non_member_gets_404_on_every_project_route(
    client: TestClient, account: Account, other_account: Account, project: dict[str, Any]
) -> None:
    """Walks every route under /api/projects/{project_id}: a stranger learns nothing."""
    pid = project["id"]
    checked = 0
    for method, path in api_routes(client):
        if "{project_id}" not in path or path.startswith(PUBLIC_APP_ROUTES):
            continue
        url = fill_path(path, pid)
        response = other_account.client.request(method, url, headers=other_account.headers, json={})
        assert_error(response, 404, "PROJECT_NOT_FOUND")
        # and the same answer as for a project that does not exist at all
        missing_url = url.replace(f"/projects/{pid}", "/projects/999999")
        missing = other_account.client.request(
            method, missing_url, headers=other_account.headers, json={}
        )
        assert missing.json() == response.json()
        checked += 1
    assert checked >= 10


# Routes a project's own app users call without a platform account (issue: project resources).
PUBLIC_APP_ROUTES = ("/api/projects/{project_id}/auth/",)


def test_viewer_reads_but_gets_403_on_writes(
    client: TestClient, account: Account, project: dict[str, Any]
) -> None:
    pid = project["id"]
    viewer = add_member(account, pid, "viewer", client)
    assert viewer.get(f"/api/projects/{pid}").status_code == 200
    assert viewer.get(f"/api/projects/{pid}/members").status_code == 200
    assert viewer.get(f"/api/projects/{pid}/cors").status_code == 200
    checked = 0
    for method, path in api_routes(client):
        if "{project_id}" not in path or path.startswith(PUBLIC_APP_ROUTES):
            continue
        if method in {"POST", "PUT", "PATCH", "DELETE"}:
            url = fill_path(path, pid)
            response = viewer.client.request(method, url, headers=viewer.headers, json={})
            assert_error(response, 403, "INSUFFICIENT_PERMISSIONS")
            checked += 1
    assert checked >= 6


def test_members_roles_and_last_owner(
    client: TestClient, account: Account, project: dict[str, Any]
) -> None:
    pid = project["id"]
    admin = add_member(account, pid, "admin", client)
    dev = add_member(account, pid, "developer", client)
    members = account.get(f"/api/projects/{pid}/members")
    assert members.headers["X-Total-Count"] == "3"
    assert {m["role"] for m in members.json()} == {"owner", "admin", "developer"}

    # an admin manages non-owners but cannot create or touch owners
    assert (
        admin.patch(
            f"/api/projects/{pid}/members/{dev.user['id']}", json={"role": "viewer"}
        ).json()["role"]
        == "viewer"
    )
    assert_error(
        admin.patch(f"/api/projects/{pid}/members/{dev.user['id']}", json={"role": "owner"}),
        403,
        "INSUFFICIENT_PERMISSIONS",
    )
    assert_error(
        admin.delete(f"/api/projects/{pid}/members/{account.user['id']}"),
        403,
        "INSUFFICIENT_PERMISSIONS",
    )
    # the last owner stays
    assert_error(
        account.delete(f"/api/projects/{pid}/members/{account.user['id']}"), 409, "LAST_OWNER"
    )
    assert_error(
        account.patch(f"/api/projects/{pid}/members/{account.user['id']}", json={"role": "admin"}),
        409,
        "LAST_OWNER",
    )
    # with a second owner the first may step down
    assert (
        account.patch(
            f"/api/projects/{pid}/members/{admin.user['id']}", json={"role": "owner"}
        ).status_code
        == 200
    )
    assert account.delete(f"/api/projects/{pid}/members/{account.user['id']}").status_code == 204
    assert_error(account.get(f"/api/projects/{pid}"), 404, "PROJECT_NOT_FOUND")


def test_member_errors(client: TestClient, account: Account, project: dict[str, Any]) -> None:
    pid = project["id"]
    assert_error(
        account.post(
            f"/api/projects/{pid}/members", json={"email": "nobody@example.com", "role": "viewer"}
        ),
        404,
        "USER_NOT_FOUND",
    )
    member = add_member(account, pid, "viewer", client)
    assert_error(
        account.post(
            f"/api/projects/{pid}/members", json={"email": member.email, "role": "viewer"}
        ),
        409,
        "ALREADY_MEMBER",
    )
    assert_error(
        account.post(
            f"/api/projects/{pid}/members", json={"email": member.email, "role": "emperor"}
        ),
        422,
        "VALIDATION_ERROR",
    )
    assert_error(account.delete(f"/api/projects/{pid}/members/999999"), 404, "MEMBER_NOT_FOUND")


def test_developer_cannot_manage_members_or_project(
    client: TestClient, account: Account, project: dict[str, Any]
) -> None:
    pid = project["id"]
    dev = add_member(account, pid, "developer", client)
    assert_error(
        dev.patch(f"/api/projects/{pid}", json={"name": "x"}), 403, "INSUFFICIENT_PERMISSIONS"
    )
    assert_error(
        dev.post(f"/api/projects/{pid}/members", json={"email": dev.email, "role": "admin"}),
        403,
        "INSUFFICIENT_PERMISSIONS",
    )
    admin = add_member(account, pid, "admin", client)
    assert_error(admin.delete(f"/api/projects/{pid}"), 403, "INSUFFICIENT_PERMISSIONS")

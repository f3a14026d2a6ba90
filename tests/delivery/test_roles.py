"""Who may do what: any member reads; developers write web servers and deployments;
SSH keys and GitHub repositories hold credentials, so only admins and owners write them."""

from __future__ import annotations

from typing import Any

from fastapi.testclient import TestClient

from cloudbox.runtime import Runtime
from tests.delivery.helpers import counts, deployment, repository, ssh_key, web_server
from tests.plugins.api import Account, add_member, assert_error

FORBIDDEN = (403, "INSUFFICIENT_PERMISSIONS")


def test_roles_on_every_resource(
    client: TestClient, account: Account, project: dict[str, Any], runtime: Runtime
) -> None:
    pid = project["id"]
    base = f"/api/projects/{pid}"
    key = ssh_key(account, pid)
    repo = repository(account, pid, access_token="ghp_secret_token_value_0000000000")
    server = web_server(account, pid)
    deploy = deployment(account, pid, repo["id"], server["id"])
    developer = add_member(account, pid, "developer", client)
    viewer = add_member(account, pid, "viewer", client)
    admin = add_member(account, pid, "admin", client)
    rows = {
        "ssh-keys": key,
        "github-repositories": repo,
        "web-servers": server,
        "deployments": deploy,
    }

    # everybody reads, and nobody reads a secret
    for member in (viewer, developer, admin):
        for path, row in rows.items():
            listed = member.get(f"{base}/{path}")
            assert listed.status_code == 200 and listed.json() == [row]
            assert member.get(f"{base}/{path}/{row['id']}").json() == row
            assert "ghp_secret" not in listed.text

    before = counts(runtime)
    # viewers write nothing
    for path, row in rows.items():
        assert_error(viewer.post(f"{base}/{path}", json={}), *FORBIDDEN)
        assert_error(viewer.patch(f"{base}/{path}/{row['id']}", json={"name": "v"}), *FORBIDDEN)
        assert_error(viewer.delete(f"{base}/{path}/{row['id']}"), *FORBIDDEN)
    # developers write no credentials, even with a valid body
    assert_error(
        developer.post(f"{base}/ssh-keys", json={"name": "dev", "generate": True}), *FORBIDDEN
    )
    assert_error(
        developer.post(
            f"{base}/github-repositories",
            json={"name": "dev", "full_name": "o/r", "clone_url": "https://github.com/o/r"},
        ),
        *FORBIDDEN,
    )
    for path in ("ssh-keys", "github-repositories"):
        row = rows[path]
        assert_error(
            developer.patch(f"{base}/{path}/{row['id']}", json={"name": "dev"}), *FORBIDDEN
        )
        assert_error(developer.delete(f"{base}/{path}/{row['id']}"), *FORBIDDEN)
    assert counts(runtime) == before

    # developers manage web servers and deployments
    dev_server = web_server(developer, pid, "dev-server", ssh_key_id=key["id"])
    dev_deploy = deployment(developer, pid, repo["id"], dev_server["id"], "dev-deploy")
    assert (
        developer.patch(
            f"{base}/deployments/{dev_deploy['id']}", json={"status": "building"}
        ).json()["status"]
        == "building"
    )
    assert (
        developer.patch(f"{base}/web-servers/{dev_server['id']}", json={"port": 2022}).json()[
            "port"
        ]
        == 2022
    )
    assert developer.delete(f"{base}/deployments/{dev_deploy['id']}").status_code == 204
    assert developer.delete(f"{base}/web-servers/{dev_server['id']}").status_code == 204

    # admins manage credentials
    admin_key = ssh_key(admin, pid, "admin-key")
    admin_repo = repository(admin, pid, "admin-repo", ssh_key_id=admin_key["id"])
    assert (
        admin.patch(
            f"{base}/github-repositories/{admin_repo['id']}", json={"access_token": None}
        ).status_code
        == 200
    )
    assert admin.delete(f"{base}/github-repositories/{admin_repo['id']}").status_code == 204
    assert (
        admin.patch(f"{base}/ssh-keys/{admin_key['id']}", json={"is_active": False}).json()[
            "is_active"
        ]
        is False
    )
    assert admin.delete(f"{base}/ssh-keys/{admin_key['id']}").status_code == 204
    assert counts(runtime) == before


def test_api_key_scopes(client: TestClient, account: Account, project: dict[str, Any]) -> None:
    pid = project["id"]
    base = f"/api/projects/{pid}"

    def api_key(scope: str) -> dict[str, str]:
        response = account.post(f"{base}/api-keys", json={"name": scope, "scopes": [scope]})
        return {"X-API-Key": response.json()["key"]}

    read, write, admin = api_key("read"), api_key("write"), api_key("admin")
    assert client.get(f"{base}/ssh-keys", headers=read).status_code == 200
    assert_error(client.post(f"{base}/web-servers", headers=read, json={}), *FORBIDDEN)
    assert_error(
        client.post(f"{base}/ssh-keys", headers=write, json={"name": "k", "generate": True}),
        *FORBIDDEN,
    )
    server = client.post(
        f"{base}/web-servers",
        headers=write,
        json={"name": "s", "hostname": "h.example.com", "username": "u", "deploy_path": "/srv"},
    )
    assert server.status_code == 201, server.text
    made = client.post(f"{base}/ssh-keys", headers=admin, json={"name": "k", "generate": True})
    assert made.status_code == 201, made.text

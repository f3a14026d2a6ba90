from __future__ import annotations

from typing import Any

from cloudbox.runtime import Runtime
from tests.delivery.helpers import counts, deployment, repository, ssh_key, web_server
from tests.plugins.api import Account, assert_error


def test_crud_defaults_and_paging(account: Account, project: dict[str, Any]) -> None:
    pid = project["id"]
    url = f"/api/projects/{pid}/web-servers"
    key = ssh_key(account, pid)
    first = web_server(account, pid, "zeta")
    assert set(first) == {
        "id",
        "project_id",
        "name",
        "hostname",
        "port",
        "username",
        "ssh_key_id",
        "server_type",
        "deploy_path",
        "is_active",
        "created_at",
        "updated_at",
    }
    assert (first["port"], first["server_type"], first["is_active"]) == (22, "vps", True)
    assert first["ssh_key_id"] is None
    second = web_server(
        account,
        pid,
        "alpha",
        hostname="2001:DB8:0:0::1",
        port=2222,
        username="www-data",
        ssh_key_id=key["id"],
        server_type="dedicated",
        deploy_path="/var/www/my app",
        is_active=False,
    )
    assert second["hostname"] == "2001:db8::1"
    assert (second["port"], second["username"], second["server_type"]) == (
        2222,
        "www-data",
        "dedicated",
    )
    assert second["ssh_key_id"] == key["id"] and second["is_active"] is False
    third = web_server(account, pid, "mid", hostname="Web-3.Example.COM", server_type="cloud")
    assert third["hostname"] == "web-3.example.com"
    assert web_server(account, pid, "ip4", hostname="10.0.0.7")["hostname"] == "10.0.0.7"

    listed = account.get(url, params={"order_by": "name", "limit": 2, "offset": 1})
    assert listed.headers["X-Total-Count"] == "4"
    assert [s["name"] for s in listed.json()] == ["ip4", "mid"]
    assert account.get(url).json()[0] == first
    by_host = account.get(url, params={"order_by": "hostname"}).json()
    assert [s["name"] for s in by_host[:2]] == ["ip4", "alpha"]

    sid = f"{url}/{first['id']}"
    assert account.get(sid).json() == first
    patched = account.patch(
        sid, json={"port": 2200, "ssh_key_id": key["id"], "deploy_path": "/opt/app"}
    ).json()
    assert (patched["port"], patched["ssh_key_id"], patched["deploy_path"]) == (
        2200,
        key["id"],
        "/opt/app",
    )
    assert patched["name"] == "zeta" and patched["hostname"] == "web1.example.com"
    assert account.patch(sid, json={"ssh_key_id": None}).json()["ssh_key_id"] is None
    assert account.delete(sid).status_code == 204
    assert_error(account.get(sid), 404, "WEB_SERVER_NOT_FOUND")
    assert_error(account.patch(sid, json={"port": 1}), 404, "WEB_SERVER_NOT_FOUND")
    assert_error(account.delete(sid), 404, "WEB_SERVER_NOT_FOUND")


def test_validation_writes_nothing(
    account: Account, project: dict[str, Any], runtime: Runtime
) -> None:
    pid = project["id"]
    url = f"/api/projects/{pid}/web-servers"
    existing = web_server(account, pid)
    foreign_key = ssh_key(account, account.create_project("Other")["id"], "foreign")
    before = counts(runtime)
    good = {"name": "s", "hostname": "h.example.com", "username": "u", "deploy_path": "/srv/x"}
    bad_fields: list[dict[str, Any]] = [
        {"port": 0},
        {"port": 65536},
        {"port": "twenty-two"},
        {"hostname": ""},
        {"hostname": "-bad.example.com"},
        {"hostname": "bad_host.example.com"},
        {"hostname": "a" * 64 + ".example.com"},
        {"hostname": "999.1.1.1"},
        {"hostname": "h.example.com:22"},
        {"hostname": "http://h.example.com"},
        {"hostname": "h..example.com"},
        {"username": ""},
        {"username": "root;rm -rf /"},
        {"username": "-u"},
        {"username": "1user"},
        {"username": "u" * 33},
        {"username": "user name"},
        {"deploy_path": "relative/path"},
        {"deploy_path": "/srv/../etc"},
        {"deploy_path": "/.."},
        {"deploy_path": "/"},
        {"deploy_path": "/srv/x\n"},
        {"deploy_path": "/" + "x" * 1024},
        {"server_type": "mainframe"},
        {"is_active": "yes please"},
        {"ssh_key_id": "UPPER"},
        {"id": "chosen"},
        {"project_id": 9},
    ]
    for fields in bad_fields:
        assert_error(account.post(url, json={**good, **fields}), 422, "VALIDATION_ERROR")
    for missing in ("name", "hostname", "username", "deploy_path"):
        body = {k: v for k, v in good.items() if k != missing}
        assert_error(account.post(url, json=body), 422, "VALIDATION_ERROR")
    body = assert_error(
        account.post(url, json={**good, "ssh_key_id": foreign_key["id"]}), 422, "INVALID_REFERENCE"
    )
    assert body["error"]["details"] == {"field": "ssh_key_id", "id": foreign_key["id"]}
    sid = f"{url}/{existing['id']}"
    for patch in ({"port": None}, {"hostname": None}, {"port": 0}, {"deploy_path": "x"}):
        assert_error(account.patch(sid, json=patch), 422, "VALIDATION_ERROR")
    assert_error(
        account.patch(sid, json={"ssh_key_id": foreign_key["id"], "port": 2}),
        422,
        "INVALID_REFERENCE",
    )
    assert counts(runtime) == before
    assert account.get(sid).json() == existing


def test_web_server_in_use_cannot_be_deleted(account: Account, project: dict[str, Any]) -> None:
    pid = project["id"]
    server = web_server(account, pid)
    used = deployment(account, pid, repository(account, pid)["id"], server["id"])
    url = f"/api/projects/{pid}/web-servers/{server['id']}"
    body = assert_error(account.delete(url), 409, "WEB_SERVER_IN_USE")
    assert body["error"]["details"] == {"deployment_ids": [used["id"]]}
    other = web_server(account, pid, "web-2")
    moved = account.patch(
        f"/api/projects/{pid}/deployments/{used['id']}", json={"web_server_id": other["id"]}
    )
    assert moved.json()["web_server_id"] == other["id"]
    assert account.delete(url).status_code == 204

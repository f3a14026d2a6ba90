from __future__ import annotations

from typing import Any

import pytest
from sqlalchemy import insert
from sqlalchemy.exc import IntegrityError

from cloudbox.db.types import utcnow
from cloudbox.delivery.models import Deployment, WebServer
from cloudbox.runtime import Runtime
from tests.delivery.helpers import counts, deployment, repository, ssh_key, web_server
from tests.plugins.api import Account, assert_error


def test_crud_defaults_from_repository_and_paging(
    account: Account, project: dict[str, Any]
) -> None:
    pid = project["id"]
    url = f"/api/projects/{pid}/deployments"
    repo = repository(
        account, pid, branch="develop", build_command="make build", start_command="make run"
    )
    server = web_server(account, pid)
    first = deployment(account, pid, repo["id"], server["id"], "staging")
    assert set(first) == {
        "id",
        "project_id",
        "name",
        "description",
        "domain",
        "github_repository_id",
        "web_server_id",
        "branch",
        "environment",
        "build_command",
        "start_command",
        "status",
        "version",
        "created_at",
        "updated_at",
    }
    assert (first["branch"], first["build_command"], first["start_command"]) == (
        "develop",
        "make build",
        "make run",
    )
    assert (first["status"], first["version"], first["domain"]) == ("pending", None, None)
    assert first["environment"] == {} and first["description"] == ""
    second = deployment(
        account,
        pid,
        repo["id"],
        server["id"],
        "production",
        description="the real one",
        domain="App.Example.com",
        branch="main",
        environment={"DEBUG": "0"},
        build_command="",
        start_command="./serve",
        status="deployed",
        version="v1.4.2+build.7",
    )
    assert second["domain"] == "app.example.com"
    assert (second["branch"], second["build_command"], second["start_command"]) == (
        "main",
        "",
        "./serve",
    )
    assert (second["status"], second["version"]) == ("deployed", "v1.4.2+build.7")

    listed = account.get(url, params={"order_by": "-status"})
    assert listed.headers["X-Total-Count"] == "2"
    assert [d["name"] for d in listed.json()] == ["staging", "production"]
    assert [d["name"] for d in account.get(url, params={"limit": 1, "offset": 1}).json()] == [
        "production"
    ]

    did = f"{url}/{first['id']}"
    assert account.get(did).json() == first
    for status in ("building", "failed", "deployed"):
        assert account.patch(did, json={"status": status}).json()["status"] == status
    patched = account.patch(
        did, json={"version": "abc1234", "domain": "staging.example.com", "environment": {"A": "1"}}
    ).json()
    assert (patched["version"], patched["domain"], patched["environment"]) == (
        "abc1234",
        "staging.example.com",
        {"A": "1"},
    )
    cleared = account.patch(did, json={"version": None, "domain": None}).json()
    assert cleared["version"] is None and cleared["domain"] is None
    assert cleared["branch"] == "develop"  # untouched fields stay
    assert account.delete(did).status_code == 204
    assert_error(account.get(did), 404, "DEPLOYMENT_NOT_FOUND")
    assert_error(account.patch(did, json={"status": "failed"}), 404, "DEPLOYMENT_NOT_FOUND")
    assert_error(account.delete(did), 404, "DEPLOYMENT_NOT_FOUND")


def test_references_must_stay_in_the_project(
    account: Account, project: dict[str, Any], runtime: Runtime
) -> None:
    pid = project["id"]
    url = f"/api/projects/{pid}/deployments"
    repo, server = repository(account, pid), web_server(account, pid)
    existing = deployment(account, pid, repo["id"], server["id"])
    other = account.create_project("Other")["id"]
    foreign_repo, foreign_server = repository(account, other), web_server(account, other)
    before = counts(runtime)

    good = {"name": "d", "github_repository_id": repo["id"], "web_server_id": server["id"]}
    for field, value in (
        ("github_repository_id", foreign_repo["id"]),
        ("web_server_id", foreign_server["id"]),
        ("github_repository_id", "0" * 26),
        ("web_server_id", "0" * 26),
    ):
        body = assert_error(
            account.post(url, json={**good, field: value}), 422, "INVALID_REFERENCE"
        )
        assert body["error"]["details"] == {"field": field, "id": value}
        body = assert_error(
            account.patch(f"{url}/{existing['id']}", json={field: value, "name": "moved"}),
            422,
            "INVALID_REFERENCE",
        )
        assert body["error"]["details"]["field"] == field

    bad_fields: list[dict[str, Any]] = [
        {"status": "done"},
        {"domain": "not a domain"},
        {"domain": "10.0.0.1"},
        {"domain": "-x.example.com"},
        {"branch": "a..b"},
        {"version": "has space"},
        {"version": "v" * 101},
        {"environment": {"lower-case-dash": "x"}},
        {"description": "d" * 5001},
        {"github_repository_id": None},
        {"name": ""},
        {"project_id": other},
    ]
    for fields in bad_fields:
        assert_error(account.post(url, json={**good, **fields}), 422, "VALIDATION_ERROR")
    for missing in ("name", "github_repository_id", "web_server_id"):
        body = {k: v for k, v in good.items() if k != missing}
        assert_error(account.post(url, json=body), 422, "VALIDATION_ERROR")
    for patch in (
        {"github_repository_id": None},
        {"web_server_id": None},
        {"status": None},
        {"branch": None},
        {"status": "unknown"},
    ):
        assert_error(account.patch(f"{url}/{existing['id']}", json=patch), 422, "VALIDATION_ERROR")
    assert_error(
        account.get(f"/api/projects/{other}/deployments/{existing['id']}"),
        404,
        "DEPLOYMENT_NOT_FOUND",
    )
    assert counts(runtime) == before
    assert account.get(f"{url}/{existing['id']}").json() == existing


def test_database_refuses_cross_project_references(
    account: Account, project: dict[str, Any], runtime: Runtime
) -> None:
    """The composite foreign keys hold even for code that bypasses the service."""
    pid = project["id"]
    other = account.create_project("Other")["id"]
    foreign_key = ssh_key(account, other)
    repo, server = repository(account, pid), web_server(account, pid)
    foreign_repo = repository(account, other)
    now = utcnow()
    server_row = {
        "project_id": pid,
        "id": "x1",
        "name": "s",
        "hostname": "h",
        "port": 22,
        "username": "u",
        "ssh_key_id": foreign_key["id"],
        "server_type": "vps",
        "deploy_path": "/srv",
        "is_active": True,
        "created_at": now,
        "updated_at": now,
    }
    deployment_row = {
        "project_id": pid,
        "id": "x2",
        "name": "d",
        "description": "",
        "github_repository_id": foreign_repo["id"],
        "web_server_id": server["id"],
        "branch": "main",
        "environment": {},
        "build_command": "",
        "start_command": "",
        "status": "pending",
        "created_at": now,
        "updated_at": now,
    }
    for model, row in ((WebServer, server_row), (Deployment, deployment_row)):
        with pytest.raises(IntegrityError), runtime.db.transaction() as db:
            db.execute(insert(model).values(**row))
    with pytest.raises(IntegrityError), runtime.db.transaction() as db:
        db.execute(insert(Deployment).values(**{**deployment_row, "status": "exploded"}))
    assert counts(runtime)["deployments"] == 0
    # and a deployment of the project itself is fine
    with runtime.db.transaction() as db:
        db.execute(
            insert(Deployment).values(**{**deployment_row, "github_repository_id": repo["id"]})
        )
    assert account.get(f"/api/projects/{pid}/deployments/x2").json()["name"] == "d"


def test_deleting_the_project_removes_everything(
    account: Account, project: dict[str, Any], runtime: Runtime
) -> None:
    pid = project["id"]
    kept = account.create_project("Kept")["id"]
    for project_id in (pid, kept):
        key = ssh_key(account, project_id)
        repo = repository(account, project_id, ssh_key_id=key["id"])
        server = web_server(account, project_id, ssh_key_id=key["id"])
        deployment(account, project_id, repo["id"], server["id"])
    assert counts(runtime) == {
        "ssh_keys": 2,
        "github_repositories": 2,
        "web_servers": 2,
        "deployments": 2,
    }
    assert account.delete(f"/api/projects/{pid}").status_code == 204
    assert counts(runtime) == {
        "ssh_keys": 1,
        "github_repositories": 1,
        "web_servers": 1,
        "deployments": 1,
    }
    assert account.get(f"/api/projects/{kept}/deployments").headers["X-Total-Count"] == "1"

"""Shared helpers of the delivery tests: rows made through the API, row counts, and the
check that no secret ever leaks into a response or a plaintext column."""

from __future__ import annotations

from typing import Any

from sqlalchemy import func, select

from cloudbox.delivery.models import Deployment, GithubRepository, SshKey, WebServer
from cloudbox.runtime import Runtime
from tests.plugins.api import Account

MODELS = {
    "ssh_keys": SshKey,
    "github_repositories": GithubRepository,
    "web_servers": WebServer,
    "deployments": Deployment,
}


def counts(runtime: Runtime) -> dict[str, int]:
    with runtime.db.session() as db:
        return {
            name: db.scalar(select(func.count()).select_from(model)) or 0
            for name, model in MODELS.items()
        }


def row_values(runtime: Runtime, model: Any) -> list[dict[str, Any]]:
    """Every column of every row of `model`, as the database holds it."""
    with runtime.db.session() as db:
        rows = db.execute(select(model.__table__)).mappings().all()
    return [dict(row) for row in rows]


def assert_absent(haystack: str, *secrets: str, public: str = "") -> None:
    """No secret, nor any 20-character run of it, appears in `haystack`.

    Runs that also occur in `public` (a key's public half, which a PEM private key
    embeds) are allowed: showing the public key is the point."""
    flat = "".join(haystack.split())
    for secret in secrets:
        assert secret not in haystack
        compact = "".join(secret.split())
        for start in range(0, max(len(compact) - 20, 1), 4):
            run = compact[start : start + 20]
            assert run in public or run not in flat, f"secret material leaked: {run!r}"


def ssh_key(account: Account, pid: int, name: str = "deploy", **body: Any) -> dict[str, Any]:
    payload = {"name": name, **(body or {"generate": True})}
    response = account.post(f"/api/projects/{pid}/ssh-keys", json=payload)
    assert response.status_code == 201, response.text
    result: dict[str, Any] = response.json()
    return result


def repository(account: Account, pid: int, name: str = "app", **body: Any) -> dict[str, Any]:
    payload = {
        "name": name,
        "full_name": "octo-org/app",
        "clone_url": "https://github.com/octo-org/app.git",
        **body,
    }
    response = account.post(f"/api/projects/{pid}/github-repositories", json=payload)
    assert response.status_code == 201, response.text
    result: dict[str, Any] = response.json()
    return result


def web_server(account: Account, pid: int, name: str = "web-1", **body: Any) -> dict[str, Any]:
    payload = {
        "name": name,
        "hostname": "web1.example.com",
        "username": "deploy",
        "deploy_path": "/srv/app",
        **body,
    }
    response = account.post(f"/api/projects/{pid}/web-servers", json=payload)
    assert response.status_code == 201, response.text
    result: dict[str, Any] = response.json()
    return result


def deployment(
    account: Account, pid: int, repo_id: str, server_id: str, name: str = "prod", **body: Any
) -> dict[str, Any]:
    payload = {
        "name": name,
        "github_repository_id": repo_id,
        "web_server_id": server_id,
        **body,
    }
    response = account.post(f"/api/projects/{pid}/deployments", json=payload)
    assert response.status_code == 201, response.text
    result: dict[str, Any] = response.json()
    return result

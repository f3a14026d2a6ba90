from __future__ import annotations

from typing import Any

from cloudbox.delivery.models import GithubRepository
from cloudbox.runtime import Runtime
from tests.delivery.helpers import (
    assert_absent,
    counts,
    deployment,
    repository,
    row_values,
    ssh_key,
    web_server,
)
from tests.plugins.api import Account, assert_error

TOKEN = "ghp_0123456789abcdefghijABCDEFGHIJ0123456789"
NEW_TOKEN = "github_pat_11AAAAAAA0zyxwvutsrqponmlkjihgfedcba9876543210"
WEBHOOK = "whsec-correct-horse-battery-staple"


def _stored(runtime: Runtime, repo_id: str) -> dict[str, Any]:
    return next(r for r in row_values(runtime, GithubRepository) if r["id"] == repo_id)


def test_crud_with_write_only_secrets(
    account: Account, project: dict[str, Any], runtime: Runtime
) -> None:
    pid = project["id"]
    url = f"/api/projects/{pid}/github-repositories"
    key = ssh_key(account, pid)
    response = account.post(
        url,
        json={
            "name": "api",
            "full_name": "octo-org/api.v2",
            "clone_url": "git@github.com:octo-org/api.v2.git",
            "branch": "release/1.x",
            "is_private": True,
            "ssh_key_id": key["id"],
            "webhook_secret": WEBHOOK,
            "access_token": TOKEN,
            "build_command": "npm ci && npm run build",
            "start_command": "node dist/server.js",
            "environment": {"NODE_ENV": "production", "PORT": "8080"},
        },
    )
    assert response.status_code == 201, response.text
    created = response.json()
    assert set(created) == {
        "id",
        "project_id",
        "name",
        "full_name",
        "clone_url",
        "branch",
        "is_private",
        "ssh_key_id",
        "has_webhook_secret",
        "has_access_token",
        "build_command",
        "start_command",
        "environment",
        "created_at",
        "updated_at",
    }
    assert created["has_webhook_secret"] is True and created["has_access_token"] is True
    assert created["branch"] == "release/1.x" and created["ssh_key_id"] == key["id"]
    assert created["environment"] == {"NODE_ENV": "production", "PORT": "8080"}
    plain = repository(account, pid, "web")
    assert plain["branch"] == "main" and plain["is_private"] is False
    assert plain["has_webhook_secret"] is False and plain["has_access_token"] is False
    assert plain["environment"] == {} and plain["ssh_key_id"] is None

    rid = created["id"]
    responses = [response.text, account.get(url).text, account.get(f"{url}/{rid}").text]
    # encrypted at rest, bound to its purpose
    row = _stored(runtime, rid)
    assert_absent(repr(row_values(runtime, GithubRepository)), TOKEN, WEBHOOK)
    secrets = runtime.secrets
    assert (
        secrets.decrypt_text(row["access_token_encrypted"], "github_repositories.access_token")
        == TOKEN
    )
    assert (
        secrets.decrypt_text(row["webhook_secret_encrypted"], "github_repositories.webhook_secret")
        == WEBHOOK
    )

    # paging and ordering
    listed = account.get(url, params={"order_by": "-name", "limit": 1})
    assert listed.headers["X-Total-Count"] == "2" and listed.json()[0]["name"] == "web"
    assert [r["name"] for r in account.get(url, params={"offset": 1}).json()] == ["web"]
    assert_error(account.get(url, params={"order_by": "access_token"}), 422, "VALIDATION_ERROR")

    # PATCH: leaving a secret out keeps it; a new value replaces it; null clears it
    patched = account.patch(f"{url}/{rid}", json={"name": "api-renamed", "access_token": NEW_TOKEN})
    assert patched.status_code == 200, patched.text
    responses.append(patched.text)
    assert patched.json()["has_access_token"] and patched.json()["has_webhook_secret"]
    row = _stored(runtime, rid)
    assert (
        secrets.decrypt_text(row["access_token_encrypted"], "github_repositories.access_token")
        == NEW_TOKEN
    )
    assert (
        secrets.decrypt_text(row["webhook_secret_encrypted"], "github_repositories.webhook_secret")
        == WEBHOOK
    )
    cleared = account.patch(
        f"{url}/{rid}", json={"webhook_secret": None, "ssh_key_id": None, "environment": {}}
    )
    responses.append(cleared.text)
    body = cleared.json()
    assert body["has_webhook_secret"] is False and body["has_access_token"] is True
    assert body["ssh_key_id"] is None and body["environment"] == {}
    assert _stored(runtime, rid)["webhook_secret_encrypted"] is None
    responses.append(account.patch(f"{url}/{rid}", json={"access_token": None}).text)
    assert _stored(runtime, rid)["access_token_encrypted"] is None
    for text in responses:
        assert_absent(text, TOKEN, NEW_TOKEN, WEBHOOK)
    assert_absent(repr(row_values(runtime, GithubRepository)), TOKEN, NEW_TOKEN, WEBHOOK)

    assert account.delete(f"{url}/{rid}").status_code == 204
    assert_error(account.get(f"{url}/{rid}"), 404, "GITHUB_REPOSITORY_NOT_FOUND")
    assert_error(account.delete(f"{url}/{rid}"), 404, "GITHUB_REPOSITORY_NOT_FOUND")
    assert account.get(url).headers["X-Total-Count"] == "1"


def test_validation_writes_nothing(
    account: Account, project: dict[str, Any], runtime: Runtime
) -> None:
    pid = project["id"]
    url = f"/api/projects/{pid}/github-repositories"
    existing = repository(account, pid, "existing")
    foreign_key = ssh_key(account, account.create_project("Other")["id"], "foreign")
    before = counts(runtime)
    good = {"name": "r", "full_name": "o/r", "clone_url": "https://github.com/o/r.git"}
    bad_fields: list[dict[str, Any]] = [
        {"name": ""},
        {"name": "n" * 201},
        {"full_name": "no-slash"},
        {"full_name": "-owner/repo"},
        {"full_name": "owner/"},
        {"full_name": "owner/.."},
        {"full_name": "own er/repo"},
        {"full_name": "a/b/c"},
        {"full_name": "o" * 40 + "/repo"},
        {"clone_url": "http://github.com/o/r.git"},
        {"clone_url": "https://user:pass@github.com/o/r.git"},
        {"clone_url": f"https://{TOKEN}@github.com/o/r.git"},
        {"clone_url": "https://github.com/o/r.git?x=1"},
        {"clone_url": "https://github.com"},
        {"clone_url": "https://github.com/../etc"},
        {"clone_url": "https://bad_host!/o/r"},
        {"clone_url": "git@github.com/o/r.git"},
        {"clone_url": "git@github.com:../r.git"},
        {"clone_url": "git@:o/r.git"},
        {"clone_url": "ftp://github.com/o/r"},
        {"clone_url": "https://github.com/o/r .git"},
        {"clone_url": "file:///etc/passwd"},
        {"branch": ""},
        {"branch": "feature..x"},
        {"branch": "-rf"},
        {"branch": "a b"},
        {"branch": "refs/heads/x.lock"},
        {"branch": "x/"},
        {"branch": "x@{1}"},
        {"branch": "@"},
        {"branch": ".hidden"},
        {"branch": "a:b"},
        {"branch": "a\\b"},
        {"branch": "b" * 256},
        {"environment": {"1BAD": "x"}},
        {"environment": {"BAD-NAME": "x"}},
        {"environment": {"OK": 5}},
        {"environment": {f"V{i}": "x" for i in range(201)}},
        {"environment": {"BIG": "x" * 8193}},
        {"environment": ["A=1"]},
        {"build_command": "x" * 4001},
        {"webhook_secret": ""},
        {"access_token": "t" * 1001},
        {"ssh_key_id": "NOT-AN-ID"},
        {"is_private": "maybe"},
        {"has_access_token": True},
        {"access_token_encrypted": "v1.x.y"},
    ]
    for fields in bad_fields:
        response = account.post(url, json={**good, **fields})
        assert_error(response, 422, "VALIDATION_ERROR")
        assert_absent(response.text, TOKEN)
    for fields in ({"ssh_key_id": foreign_key["id"]}, {"ssh_key_id": "0" * 26}):
        body = assert_error(account.post(url, json={**good, **fields}), 422, "INVALID_REFERENCE")
        assert body["error"]["details"]["field"] == "ssh_key_id"
    rid = f"{url}/{existing['id']}"
    for patch in (
        {"name": None},
        {"full_name": None},
        {"branch": None},
        {"environment": None},
        {"clone_url": "http://x/y"},
        {"branch": "a..b"},
        {"unknown": 1},
    ):
        assert_error(account.patch(rid, json=patch), 422, "VALIDATION_ERROR")
    assert_error(
        account.patch(rid, json={"ssh_key_id": foreign_key["id"], "name": "changed"}),
        422,
        "INVALID_REFERENCE",
    )
    assert counts(runtime) == before
    assert account.get(rid).json() == existing


def test_accepted_forms(account: Account, project: dict[str, Any]) -> None:
    pid = project["id"]
    for clone_url, branch in (
        ("https://github.com/o/r", "main"),
        ("https://git.example.com:8443/group/sub/r.git", "feature/JIRA-12_fix"),
        ("https://[2001:db8::1]/o/r.git", "v1.2.3"),
        ("git@github.com:o/r.git", "release-2024.01"),
        ("git@git.example.com:group/sub/r", "dependabot/npm_and_yarn/x-1.0"),
    ):
        body = repository(account, pid, clone_url, clone_url=clone_url, branch=branch)
        assert body["clone_url"] == clone_url and body["branch"] == branch


def test_repository_in_use_cannot_be_deleted(
    account: Account, project: dict[str, Any], runtime: Runtime
) -> None:
    pid = project["id"]
    repo = repository(account, pid)
    server = web_server(account, pid)
    used = deployment(account, pid, repo["id"], server["id"])
    url = f"/api/projects/{pid}/github-repositories/{repo['id']}"
    body = assert_error(account.delete(url), 409, "REPOSITORY_IN_USE")
    assert body["error"]["details"] == {"deployment_ids": [used["id"]]}
    assert counts(runtime)["github_repositories"] == 1
    assert account.delete(f"/api/projects/{pid}/deployments/{used['id']}").status_code == 204
    assert account.delete(url).status_code == 204

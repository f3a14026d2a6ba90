"""Builds a project holding every resource kind a backup must carry, through the public
API, and dumps a project canonically so tests can say "exactly the same"."""

from __future__ import annotations

import hashlib
import json
import os
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import select

from cloudbox.backups.sections import SECTION_SPECS
from cloudbox.blobstore import BlobStore
from cloudbox.runtime import Runtime
from tests.plugins.api import Account

#: plaintext secrets put into the project; none may appear in an archive or a response
SECRET_MARKERS = (
    "function-secret-value-7f3a",
    "ghp_token-value-91c2",
    "webhook-secret-value-55d0",
    "app-user-password-x9",
)


@dataclass
class Populated:
    project_id: int
    documents: list[str] = field(default_factory=list)
    files: dict[str, str] = field(default_factory=dict)  # file id -> sha256
    app_user_email: str = "enduser@example.com"
    app_user_password: str = SECRET_MARKERS[3]
    api_key: str = ""


def _ok(response: Any, status: int = 201) -> dict[str, Any]:
    assert response.status_code == status, response.text
    body: dict[str, Any] = response.json()
    return body


def populate(
    account: Account,
    project_id: int,
    *,
    file_sizes: tuple[int, ...] = (3 * 2**20, 1024, 0),
    documents: int = 20,
) -> Populated:
    """Every resource kind, with secrets, references between rows and files of several MiB."""
    base = f"/api/projects/{project_id}"
    out = Populated(project_id=project_id)
    _ok(
        account.post(
            f"{base}/collections",
            json={
                "name": "posts",
                "description": "blog",
                "schema": {"type": "object"},
                "indexes": ["n"],
            },
        )
    )
    _ok(account.post(f"{base}/collections", json={"name": "empty"}))
    for n in range(documents):
        doc = _ok(
            account.post(
                f"{base}/collections/posts/documents",
                json={
                    "id": f"doc-{n}",
                    "data": {
                        "n": n,
                        "nested": {"tags": ["a", n], "ok": n % 2 == 0},
                        "text": "é✓ unicode",
                    },
                },
            )
        )
        out.documents.append(doc["id"])
    _ok(
        account.post(
            f"{base}/buckets", json={"name": "media", "description": "uploads", "is_public": False}
        )
    )
    for n, size in enumerate(file_sizes):
        content = (
            os.urandom(size) if n % 2 == 0 else (b"compressible text " * (size // 18 + 1))[:size]
        )
        body = _ok(
            account.post(
                f"{base}/buckets/media/files",
                files={"file": (f"file-{n}.bin", content, "application/octet-stream")},
                data={"folder_path": "a/b"},
            )
        )
        out.files[body["id"]] = hashlib.sha256(content).hexdigest()
    # the same content twice shares one blob
    dup = _ok(
        account.post(
            f"{base}/buckets/media/files", files={"file": ("dup.txt", b"same bytes", "text/plain")}
        )
    )
    dup2 = _ok(
        account.post(
            f"{base}/buckets/media/files", files={"file": ("dup2.txt", b"same bytes", "text/plain")}
        )
    )
    out.files[dup["id"]] = out.files[dup2["id"]] = hashlib.sha256(b"same bytes").hexdigest()
    function = _ok(
        account.post(
            f"{base}/functions",
            json={
                "name": "hello",
                "runtime": "nodejs20",
                "entry_point": "index.handler",
                "code": "exports.handler = () => 1",
                "environment": {"MODE": "prod"},
                "secrets": {"API_TOKEN": SECRET_MARKERS[0]},
                "status": "active",
            },
        )
    )
    _ok(
        account.post(
            f"{base}/function-domains",
            json={"domain": f"p{project_id}-hello.example.com", "function_id": function["id"]},
        )
    )
    key = _ok(account.post(f"{base}/ssh-keys", json={"name": "deploy", "generate": True}))
    repo = _ok(
        account.post(
            f"{base}/github-repositories",
            json={
                "name": "app",
                "full_name": "acme/app",
                "clone_url": "https://github.com/acme/app.git",
                "branch": "main",
                "is_private": True,
                "ssh_key_id": key["id"],
                "webhook_secret": SECRET_MARKERS[2],
                "access_token": SECRET_MARKERS[1],
            },
        )
    )
    server = _ok(
        account.post(
            f"{base}/web-servers",
            json={
                "name": "web1",
                "hostname": "web1.example.com",
                "port": 22,
                "username": "deploy",
                "ssh_key_id": key["id"],
                "server_type": "vps",
                "deploy_path": "/srv/app",
            },
        )
    )
    _ok(
        account.post(
            f"{base}/deployments",
            json={
                "name": "prod",
                "github_repository_id": repo["id"],
                "web_server_id": server["id"],
                "branch": "main",
                "status": "deployed",
                "version": "1.2.3",
            },
        )
    )
    _ok(
        account.put(
            f"{base}/auth-settings",
            json={
                "allow_signup": True,
                "password_min_length": 10,
                "session_ttl_seconds": 3600,
                "require_email_verification": False,
                "allowed_email_domains": [],
            },
        ),
        200,
    )
    _ok(
        account.post(
            f"{base}/users",
            json={
                "email": out.app_user_email,
                "password": out.app_user_password,
                "name": "End User",
                "profile": {"plan": "pro"},
            },
        )
    )
    out.api_key = _ok(
        account.post(f"{base}/api-keys", json={"name": "ci", "scopes": ["read", "backups"]})
    )["key"]
    _ok(account.put(f"{base}/cors", json={"allowed_origins": ["https://app.example.com"]}), 200)
    _ok(account.patch(base, json={"settings": {"theme": "dark", "limits": {"rps": 10}}}), 200)
    return out


def _normalise(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: _normalise(v) for k, v in sorted(value.items())}
    if isinstance(value, list):
        return [_normalise(v) for v in value]
    if hasattr(value, "isoformat"):
        return value.isoformat()
    return value


def canonical_dump(
    runtime: Runtime, project_id: int, *, include_audit: bool = False
) -> dict[str, Any]:
    """Every row of every section of the project (minus `project_id`) plus a hash of the
    bytes of every blob its files reference: equal dumps mean equal projects."""
    dump: dict[str, Any] = {}
    with runtime.db.session() as db:
        for spec in SECTION_SPECS:
            if spec.name == "audit_logs" and not include_audit:
                continue
            columns = spec.columns()
            if spec.name == "project":
                columns = [c for c in columns if c.name == "settings"]
            query = select(*columns).where(spec.table.c[spec.project_column] == project_id)
            rows = [
                dict(zip([c.name for c in columns], row, strict=True)) for row in db.execute(query)
            ]
            dump[spec.name] = sorted(
                (_normalise(r) for r in rows),
                key=lambda r: json.dumps(r, sort_keys=True, default=str),
            )
    dump["blob_hashes"] = _blob_hashes(runtime.blobs, dump.get("files", []))
    return dump


def _blob_hashes(blobs: BlobStore, files: list[dict[str, Any]]) -> dict[str, str]:
    out: dict[str, str] = {}
    for row in files:
        digest = hashlib.sha256()
        with blobs.open(row["sha256"]) as chunks:
            for chunk in chunks:
                digest.update(chunk)
        out[row["sha256"]] = digest.hexdigest()
    return out


def without_project_identity(dump: dict[str, Any]) -> dict[str, Any]:
    """A dump comparable across projects: what must differ (credential state, imported
    flags, server-unique names skipped) is dropped by the caller explicitly."""
    return json.loads(json.dumps(dump, default=str))

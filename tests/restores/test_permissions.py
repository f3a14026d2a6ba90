"""Who may restore (DESIGN §6, issue 5 acceptance "Permissions"), case by case:

{no token, bad token, expired token, non-member, viewer, developer, admin, owner, API key
with the `backups` scope, API key without it} x {restore into the same project, restore
into another project, dry run, undo}, plus the cross-project cases where the caller's
rights differ between the source and the target. Every refusal writes nothing: no
restore row, no lock, no change to either project.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import update

from cloudbox.auth.models import AuthSession
from cloudbox.db.types import utcnow
from cloudbox.jobs import locks
from cloudbox.runtime import Runtime
from tests.plugins.api import Account, assert_error, register
from tests.plugins.jobs import completed_backup
from tests.plugins.populate import canonical_dump
from tests.restores.test_roundtrip import ok, restored

CALLERS = (
    "no_token",
    "bad_token",
    "expired_token",
    "non_member",
    "viewer",
    "developer",
    "admin",
    "owner",
    "key_with_backups",
    "key_without_backups",
)
OPERATIONS = ("restore_same", "restore_other", "dry_run", "undo")
UNAUTHORIZED = (401, "UNAUTHORIZED")
INVALID_TOKEN = (401, "INVALID_TOKEN")
FORBIDDEN = (403, "INSUFFICIENT_PERMISSIONS")
NO_BACKUP = (404, "BACKUP_NOT_FOUND")
NO_RESTORE = (404, "RESTORE_NOT_FOUND")
NO_PROJECT = (404, "PROJECT_NOT_FOUND")
OK = (200, None)


def _expected(caller: str, operation: str) -> tuple[int, str | None]:
    if caller == "no_token":
        return UNAUTHORIZED
    if caller in ("bad_token", "expired_token"):
        return INVALID_TOKEN
    if caller == "non_member":  # nothing about the backup or restore leaks
        return NO_RESTORE if operation == "undo" else NO_BACKUP
    if caller in ("viewer", "developer", "key_without_backups"):
        return FORBIDDEN
    if caller == "key_with_backups" and operation == "restore_other":
        return NO_PROJECT  # a key acts on its own project only
    return OK


#: an order in which the allowed callers can run every operation on one setup
ORDER = ("dry_run", "restore_other", "undo", "restore_same")
#: rights on both projects are needed to restore from one into the other
CROSS = (
    ("admin_developer_on_target", "restore_other", FORBIDDEN),
    ("admin_viewer_on_target", "restore_other", FORBIDDEN),
    ("admin_not_on_target", "restore_other", NO_PROJECT),
    ("admin_not_on_target", "dry_run_other", NO_PROJECT),
    ("developer_admin_on_target", "restore_other", FORBIDDEN),
    ("non_member_admin_on_target", "restore_other", NO_BACKUP),
)


@dataclass
class Caller:
    """Speaks to the API with one kind of credential (or none)."""

    client: TestClient
    headers: dict[str, str] = field(default_factory=dict)
    actor_type: str = "user"

    def post(self, url: str, **kw: Any) -> Any:
        return self.client.post(url, headers=self.headers, **kw)


def _member(owner: Account, client: TestClient, roles: dict[int, str]) -> Account:
    user = register(client)
    for project_id, role in roles.items():
        response = owner.post(
            f"/api/projects/{project_id}/members", json={"email": user.email, "role": role}
        )
        assert response.status_code == 201, response.text
    return user


def _api_key(owner: Account, project_id: int, scopes: list[str]) -> str:
    response = owner.post(
        f"/api/projects/{project_id}/api-keys", json={"name": "k", "scopes": scopes}
    )
    assert response.status_code == 201, response.text
    key: str = response.json()["key"]
    return key


def _caller(
    name: str, client: TestClient, owner: Account, source: int, target: int, runtime: Runtime
) -> Caller:
    def bearer(account: Account) -> Caller:
        return Caller(client, dict(account.headers))

    both = {"viewer", "developer", "admin"}
    if name == "no_token":
        return Caller(client)
    if name == "bad_token":
        return Caller(client, {"Authorization": "Bearer cbt_forged-token-value"})
    if name == "expired_token":
        user = _member(owner, client, {source: "admin", target: "admin"})
        with runtime.db.transaction() as db:
            db.execute(
                update(AuthSession)
                .where(AuthSession.user_id == user.user["id"])
                .values(expires_at=utcnow() - timedelta(seconds=1))
            )
        return bearer(user)
    if name == "non_member":
        return bearer(register(client))
    if name in both:
        return bearer(_member(owner, client, {source: name, target: name}))
    if name == "owner":
        return bearer(owner)
    if name == "key_with_backups":
        return Caller(client, {"X-API-Key": _api_key(owner, source, ["backups"])}, "api_key")
    if name == "key_without_backups":
        key = _api_key(owner, source, ["read", "write", "admin"])
        return Caller(client, {"X-API-Key": key}, "api_key")
    if name == "admin_developer_on_target":
        return bearer(_member(owner, client, {source: "admin", target: "developer"}))
    if name == "admin_viewer_on_target":
        return bearer(_member(owner, client, {source: "admin", target: "viewer"}))
    if name == "admin_not_on_target":
        return bearer(_member(owner, client, {source: "admin"}))
    if name == "developer_admin_on_target":
        return bearer(_member(owner, client, {source: "developer", target: "admin"}))
    if name == "non_member_admin_on_target":
        return bearer(_member(owner, client, {target: "admin"}))
    raise AssertionError(name)


def _state(owner: Account, runtime: Runtime, project_ids: tuple[int, ...]) -> dict[int, Any]:
    out = {}
    for pid in project_ids:
        listing = owner.get(f"/api/projects/{pid}/restores")
        assert listing.status_code == 200, listing.text
        with runtime.db.session() as db:
            lock = locks.holder(db, pid)
        out[pid] = (canonical_dump(runtime, pid), listing.headers["X-Total-Count"], lock)
    return out


@dataclass
class Setup:
    source: int
    target: int
    backup_id: int
    undoable_id: int


def _setup(
    client: TestClient,
    account: Account,
    project: dict[str, Any],
    runtime: Runtime,
    caller_names: tuple[str, ...],
) -> tuple[Setup, dict[str, Caller]]:
    """A source with a backup and an undoable restore, then changed again; a target; and
    the callers, made before the backup so that restores keep their API keys."""
    source = project["id"]
    base = f"/api/projects/{source}"
    doc = f"{base}/collections/posts/documents/d1"
    target = account.create_project("Target")["id"]
    ok(account.post(f"/api/projects/{target}/collections", json={"name": "theirs"}), 201)
    callers = {
        name: _caller(name, client, account, source, target, runtime) for name in caller_names
    }
    ok(account.post(f"{base}/collections", json={"name": "posts"}), 201)
    ok(
        account.post(f"{base}/collections/posts/documents", json={"id": "d1", "data": {"n": 1}}),
        201,
    )
    backup = completed_backup(account, source)
    ok(account.patch(doc, json={"data": {"n": 2}}))
    undoable = restored(account, backup["id"])  # n back to 1; undo brings back n = 2
    ok(account.patch(doc, json={"data": {"n": 3}}))
    return Setup(source, target, backup["id"], undoable["id"]), callers


def _call(caller: Caller, setup: Setup, operation: str) -> Any:
    if operation == "undo":
        return caller.post(f"/api/restores/{setup.undoable_id}/undo")
    body: dict[str, Any] = {}
    if operation in ("restore_other", "dry_run_other"):
        body["target_project_id"] = setup.target
    if operation.startswith("dry_run"):
        body["dry_run"] = True
    return caller.post(f"/api/backups/{setup.backup_id}/restore", json=body)


def _check_refused(
    caller: Caller,
    account: Account,
    runtime: Runtime,
    setup: Setup,
    operation: str,
    expected: tuple[int, str | None],
) -> None:
    status, code = expected
    assert code is not None
    projects = (setup.source, setup.target)
    before = _state(account, runtime, projects)
    answer = assert_error(_call(caller, setup, operation), status, code)
    assert _state(account, runtime, projects) == before, f"{operation}: a refusal wrote something"
    if code == "BACKUP_NOT_FOUND":  # the same answer as for a backup that does not exist
        assert answer == caller.post("/api/backups/424242/restore", json={}).json()
    if code == "RESTORE_NOT_FOUND":
        assert answer == caller.post("/api/restores/424242/undo").json()


def _check_allowed(
    caller: Caller, account: Account, runtime: Runtime, setup: Setup, operation: str
) -> None:
    projects = (setup.source, setup.target)
    before = _state(account, runtime, projects)
    response = _call(caller, setup, operation)
    assert response.status_code == 200, f"{operation}: {response.text}"
    done = response.json()["restore"]
    assert done["status"] == "completed", done
    assert done["created_by"]["type"] == caller.actor_type
    target = setup.target if operation == "restore_other" else setup.source
    assert done["target_project_id"] == target
    assert done["dry_run"] is (operation == "dry_run")
    after = _state(account, runtime, projects)
    if operation == "dry_run":
        assert {k: v[0] for k, v in after.items()} == {k: v[0] for k, v in before.items()}
        return
    assert after[target][0] != before[target][0], operation
    doc = account.get(f"/api/projects/{target}/collections/posts/documents/d1")
    assert doc.status_code == 200, doc.text
    assert doc.json()["data"]["n"] == (2 if operation == "undo" else 1), operation
    if operation == "undo":
        assert done["undo_of"] == setup.undoable_id


@pytest.mark.parametrize("caller_name", CALLERS)
def test_restore_permissions(
    client: TestClient,
    account: Account,
    project: dict[str, Any],
    runtime: Runtime,
    caller_name: str,
) -> None:
    """One caller against every operation, each with DESIGN §6's answer."""
    setup, callers = _setup(client, account, project, runtime, (caller_name,))
    caller = callers[caller_name]
    for operation in ORDER:
        expected = _expected(caller_name, operation)
        if expected == OK:
            _check_allowed(caller, account, runtime, setup, operation)
        else:
            _check_refused(caller, account, runtime, setup, operation, expected)


def test_cross_project_needs_rights_on_both(
    client: TestClient, account: Account, project: dict[str, Any], runtime: Runtime
) -> None:
    names = tuple(dict.fromkeys(name for name, _, _ in CROSS))
    setup, callers = _setup(client, account, project, runtime, names)
    for caller_name, operation, expected in CROSS:
        caller = callers[caller_name]
        _check_refused(caller, account, runtime, setup, operation, expected)
    # the owner of both may
    _check_allowed(Caller(client, dict(account.headers)), account, runtime, setup, "restore_other")

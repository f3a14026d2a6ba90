from __future__ import annotations

import json
from typing import Any

from fastapi.testclient import TestClient
from sqlalchemy import select

from cloudbox.functions.models import RUNTIMES, Function
from cloudbox.functions.service import SECRETS_PURPOSE
from cloudbox.models import Base
from cloudbox.runtime import Runtime
from tests.functions.helpers import create_domain, create_function, row_counts
from tests.plugins.api import Account, add_member, assert_error


def test_runtime_list_is_documented() -> None:
    assert {"nodejs20", "nodejs22", "python3.11", "python3.12", "deno1", "go1.22"} <= set(RUNTIMES)


def test_function_crud_paging_and_order(account: Account, project: dict[str, Any]) -> None:
    pid = project["id"]
    url = f"/api/projects/{pid}/functions"
    minimal = create_function(account, pid, "beta")
    assert minimal["timeout"] == 30 and minimal["memory"] == 256
    assert minimal["status"] == "draft" and minimal["code"] == "" and minimal["description"] == ""
    assert minimal["environment"] == {} and minimal["secret_names"] == []
    assert minimal["project_id"] == pid and minimal["created_at"] == minimal["updated_at"]
    full = create_function(
        account,
        pid,
        "alpha",
        description="greets",
        runtime="python3.12",
        entry_point="main.handler",
        code="def handler(event):\n    return 'hi'\n",
        timeout=900,
        memory=4096,
        environment={"GREETING": "hi", "_X": ""},
        status="active",
    )
    assert full["runtime"] == "python3.12" and full["timeout"] == 900 and full["memory"] == 4096
    assert full["environment"] == {"GREETING": "hi", "_X": ""} and full["status"] == "active"
    create_function(account, pid, "gamma", runtime="go1.22", timeout=1, memory=128)

    listed = account.get(url)
    assert listed.status_code == 200 and listed.headers["X-Total-Count"] == "3"
    assert [f["name"] for f in listed.json()] == ["beta", "alpha", "gamma"]
    page = account.get(url, params={"limit": 1, "offset": 1, "order_by": "name"})
    assert [f["name"] for f in page.json()] == ["beta"] and page.headers["X-Total-Count"] == "3"
    assert [f["name"] for f in account.get(url, params={"order_by": "-name"}).json()] == [
        "gamma",
        "beta",
        "alpha",
    ]
    assert_error(account.get(url, params={"order_by": "code"}), 422, "VALIDATION_ERROR")

    got = account.get(f"{url}/{full['id']}")
    assert got.status_code == 200 and got.json() == full

    patched = account.patch(
        f"{url}/{full['id']}",
        json={"name": "alpha2", "timeout": 60, "environment": {"A": "1"}, "status": "disabled"},
    )
    assert patched.status_code == 200, patched.text
    body = patched.json()
    assert body["name"] == "alpha2" and body["timeout"] == 60 and body["status"] == "disabled"
    assert body["environment"] == {"A": "1"} and body["memory"] == 4096
    assert body["code"] == full["code"] and body["updated_at"] > full["updated_at"]
    assert body["created_at"] == full["created_at"]
    # an empty patch changes nothing
    same = account.patch(f"{url}/{full['id']}", json={})
    assert same.status_code == 200 and same.json() == body

    assert account.delete(f"{url}/{full['id']}").status_code == 204
    assert_error(account.get(f"{url}/{full['id']}"), 404, "FUNCTION_NOT_FOUND")
    assert_error(account.delete(f"{url}/{full['id']}"), 404, "FUNCTION_NOT_FOUND")
    assert_error(account.patch(f"{url}/{full['id']}", json={}), 404, "FUNCTION_NOT_FOUND")
    assert account.get(url).headers["X-Total-Count"] == "2"


def test_names_are_unique_per_project(account: Account, project: dict[str, Any]) -> None:
    pid = project["id"]
    url = f"/api/projects/{pid}/functions"
    first = create_function(account, pid, "hello")
    second = create_function(account, pid, "Hello")  # names are case-sensitive
    body = {"name": "hello", "runtime": "deno1", "entry_point": "mod.ts"}
    assert_error(account.post(url, json=body), 409, "FUNCTION_EXISTS")
    assert_error(
        account.patch(f"{url}/{second['id']}", json={"name": "hello"}), 409, "FUNCTION_EXISTS"
    )
    # renaming to its own name is fine
    assert account.patch(f"{url}/{first['id']}", json={"name": "hello"}).status_code == 200
    # another project may use the name
    other = account.create_project("Other")
    create_function(account, other["id"], "hello")


_BASE = {"name": "fn", "runtime": "nodejs20", "entry_point": "index.handler"}
BAD_CREATES: list[tuple[str, dict[str, Any]]] = [
    ("missing name", {"runtime": "nodejs20", "entry_point": "i.h"}),
    ("missing runtime", {"name": "fn", "entry_point": "i.h"}),
    ("missing entry_point", {"name": "fn", "runtime": "nodejs20"}),
    ("unknown runtime", {**_BASE, "runtime": "cobol85"}),
    ("name starts with digit", {**_BASE, "name": "1fn"}),
    ("name with space", {**_BASE, "name": "my fn"}),
    ("name too long", {**_BASE, "name": "f" * 65}),
    ("empty name", {**_BASE, "name": ""}),
    ("null name", {**_BASE, "name": None}),
    ("entry_point too long", {**_BASE, "entry_point": "e" * 201}),
    ("entry_point with space", {**_BASE, "entry_point": "index handler"}),
    ("timeout zero", {**_BASE, "timeout": 0}),
    ("timeout too big", {**_BASE, "timeout": 901}),
    ("timeout bool", {**_BASE, "timeout": True}),
    ("timeout string", {**_BASE, "timeout": "30"}),
    ("timeout float", {**_BASE, "timeout": 30.5}),
    ("memory too small", {**_BASE, "memory": 127}),
    ("memory too big", {**_BASE, "memory": 4097}),
    ("code over 1 MiB of UTF-8", {**_BASE, "code": "é" * (512 * 1024 + 1)}),
    ("code with NUL", {**_BASE, "code": "a\x00b"}),
    ("description too long", {**_BASE, "description": "d" * 5001}),
    ("environment lower-case name", {**_BASE, "environment": {"path": "x"}}),
    ("environment name with dash", {**_BASE, "environment": {"MY-VAR": "x"}}),
    ("environment digit first", {**_BASE, "environment": {"1X": "x"}}),
    ("environment not an object", {**_BASE, "environment": ["A"]}),
    ("environment non-string value", {**_BASE, "environment": {"A": 1}}),
    ("environment value over 4 KiB", {**_BASE, "environment": {"A": "é" * 2049}}),
    ("environment 101 entries", {**_BASE, "environment": {f"V{i}": "x" for i in range(101)}}),
    ("secret bad name", {**_BASE, "secrets": {"api_key": "x"}}),
    ("secret value over 4 KiB", {**_BASE, "secrets": {"A": "s" * 4097}}),
    ("secret null value", {**_BASE, "secrets": {"A": None}}),
    ("secrets 101 entries", {**_BASE, "secrets": {f"S{i}": "x" for i in range(101)}}),
    ("name both env and secret", {**_BASE, "environment": {"A": "1"}, "secrets": {"A": "2"}}),
    ("unknown status", {**_BASE, "status": "running"}),
    ("unknown field", {**_BASE, "secret_names": ["A"]}),
    ("server field", {**_BASE, "created_at": "2024-01-01T00:00:00Z"}),
]


def test_create_validation_writes_nothing(
    account: Account, project: dict[str, Any], runtime: Runtime
) -> None:
    pid = project["id"]
    url = f"/api/projects/{pid}/functions"
    before = row_counts(runtime)
    for case, body in BAD_CREATES:
        response = account.post(url, json=body)
        assert response.status_code == 422, (case, response.text)
        assert_error(response, 422, "VALIDATION_ERROR")
    # lone surrogates cannot be expressed through `json=`; send raw JSON
    raw = json.dumps(_BASE)[:-1] + ', "code": "\\ud800"}'
    response = account.client.post(
        url, content=raw, headers={**account.headers, "Content-Type": "application/json"}
    )
    assert_error(response, 422, "VALIDATION_ERROR")
    assert row_counts(runtime) == before


def test_boundaries_are_accepted(account: Account, project: dict[str, Any]) -> None:
    pid = project["id"]
    created = create_function(
        account,
        pid,
        "f" * 64,
        entry_point="e" * 200,
        code="é" * (512 * 1024),  # exactly 1 MiB of UTF-8
        environment={f"V{i}": "é" * 2048 for i in range(100)},
        secrets={f"S{i}": "s" * 4096 for i in range(100)},
    )
    assert len(created["secret_names"]) == 100 and len(created["environment"]) == 100


def test_patch_validation_leaves_function_unchanged(
    account: Account, project: dict[str, Any]
) -> None:
    pid = project["id"]
    created = create_function(
        account, pid, environment={"A": "1"}, secrets={f"S{i}": "x" for i in range(99)}
    )
    url = f"/api/projects/{pid}/functions/{created['id']}"
    bad: list[tuple[str, dict[str, Any]]] = [
        ("null name", {"name": None}),
        ("null environment", {"environment": None}),
        ("null timeout", {"timeout": None}),
        ("null secrets", {"secrets": None}),
        ("bad runtime", {"runtime": "java8"}),
        ("secrets and secrets_patch", {"secrets": {}, "secrets_patch": {"B": None}}),
        ("secrets_patch over the cap", {"secrets_patch": {"T1": "x", "T2": "x"}}),
        ("secrets_patch bad name", {"secrets_patch": {"bad": "x"}}),
        ("secret clashes with env", {"secrets_patch": {"A": "x"}}),
        ("env clashes with secret", {"environment": {"S0": "x"}}),
        ("timeout and bad memory", {"timeout": 10, "memory": 1}),
        ("is_verified", {"is_verified": True}),
        ("secret_names", {"secret_names": []}),
    ]
    for case, body in bad:
        response = account.patch(url, json=body)
        assert response.status_code == 422, (case, response.text)
        assert_error(response, 422, "VALIDATION_ERROR")
        assert account.get(url).json() == created, case


def _all_rows_text(runtime: Runtime) -> str:
    """Every row of every table, as text: where a plaintext secret must not appear."""
    chunks = []
    with runtime.db.session() as db:
        for table in Base.metadata.sorted_tables:
            chunks.extend(repr(tuple(row)) for row in db.execute(select(table)).all())
    return "\n".join(chunks)


def test_secrets_are_write_only_and_encrypted(
    account: Account, project: dict[str, Any], runtime: Runtime
) -> None:
    pid = project["id"]
    values = {
        "API_KEY": "plaintext-api-key-4f1c",
        "DB_PASSWORD": "plaintext-db-pw-9a2e",
        "TOKEN": "plaintext-token-77d0",
    }
    responses = []
    create = account.post(
        f"/api/projects/{pid}/functions",
        json={"name": "s", "runtime": "nodejs22", "entry_point": "i.h", "secrets": values},
    )
    assert create.status_code == 201
    responses.append(create)
    created = create.json()
    assert created["secret_names"] == ["API_KEY", "DB_PASSWORD", "TOKEN"]
    url = f"/api/projects/{pid}/functions/{created['id']}"
    responses += [account.get(url), account.get(f"/api/projects/{pid}/functions")]

    def stored() -> dict[str, str]:
        with runtime.db.session() as db:
            row = db.get(Function, (pid, created["id"]))
            assert row is not None
            return dict(row.secrets_encrypted)

    def decrypted() -> dict[str, str]:
        return {
            name: runtime.secrets.decrypt_text(ciphertext, SECRETS_PURPOSE)
            for name, ciphertext in stored().items()
        }

    assert decrypted() == values
    ciphertexts = stored()
    assert all(ct.startswith("v1.") for ct in ciphertexts.values())

    # set one, remove one, add one; the untouched secret keeps its ciphertext
    patched = account.patch(
        url,
        json={"secrets_patch": {"API_KEY": "plaintext-rotated-1b", "TOKEN": None, "NEW": "n3w-v"}},
    )
    assert patched.status_code == 200, patched.text
    responses.append(patched)
    assert patched.json()["secret_names"] == ["API_KEY", "DB_PASSWORD", "NEW"]
    assert decrypted() == {
        "API_KEY": "plaintext-rotated-1b",
        "DB_PASSWORD": values["DB_PASSWORD"],
        "NEW": "n3w-v",
    }
    assert stored()["DB_PASSWORD"] == ciphertexts["DB_PASSWORD"]
    # removing an absent secret is a no-op
    noop = account.patch(url, json={"secrets_patch": {"ABSENT": None}})
    assert noop.json()["secret_names"] == ["API_KEY", "DB_PASSWORD", "NEW"]
    responses.append(noop)
    everything = _all_rows_text(runtime)
    for value in [*values.values(), "plaintext-rotated-1b", "n3w-v"]:
        assert value not in everything
        for response in [*responses, account.get(f"/api/projects/{pid}/audit-logs")]:
            assert value not in response.text

    # replace wholesale
    replaced = account.patch(url, json={"secrets": {"ONLY": "only-value-5c"}})
    assert replaced.json()["secret_names"] == ["ONLY"] and "only-value-5c" not in replaced.text
    assert decrypted() == {"ONLY": "only-value-5c"}
    # other fields leave secrets alone
    account.patch(url, json={"code": "x"})
    assert decrypted() == {"ONLY": "only-value-5c"}
    cleared = account.patch(url, json={"secrets": {}})
    assert cleared.json()["secret_names"] == [] and stored() == {}


def test_roles(client: TestClient, account: Account, project: dict[str, Any]) -> None:
    pid = project["id"]
    url = f"/api/projects/{pid}/functions"
    existing = create_function(account, pid, "existing")
    viewer = add_member(account, pid, "viewer", client)
    developer = add_member(account, pid, "developer", client)

    assert viewer.get(url).status_code == 200
    assert viewer.get(f"{url}/{existing['id']}").status_code == 200
    body = {"name": "v", "runtime": "nodejs20", "entry_point": "i.h"}
    assert_error(viewer.post(url, json=body), 403, "INSUFFICIENT_PERMISSIONS")
    assert_error(
        viewer.patch(f"{url}/{existing['id']}", json={"code": "x"}),
        403,
        "INSUFFICIENT_PERMISSIONS",
    )
    assert_error(viewer.delete(f"{url}/{existing['id']}"), 403, "INSUFFICIENT_PERMISSIONS")
    # an invalid body from a viewer is still a 403: authorisation runs first
    assert_error(viewer.post(url, json={"bogus": 1}), 403, "INSUFFICIENT_PERMISSIONS")

    made = create_function(developer, pid, "dev", secrets={"K": "v"})
    patched = developer.patch(f"{url}/{made['id']}", json={"secrets_patch": {"K2": "v2"}})
    assert patched.status_code == 200 and patched.json()["secret_names"] == ["K", "K2"]
    assert developer.delete(f"{url}/{made['id']}").status_code == 204

    audit = account.get(f"/api/projects/{pid}/audit-logs").json()
    actions = {(entry["action"], entry["success"]) for entry in audit}
    assert ("functions.create", True) in actions and ("functions.create", False) in actions


def test_function_with_domains_cannot_be_deleted(
    account: Account, project: dict[str, Any], runtime: Runtime
) -> None:
    pid = project["id"]
    fn = create_function(account, pid)
    domain = create_domain(account, pid, "api.example.com", fn["id"])
    body = assert_error(
        account.delete(f"/api/projects/{pid}/functions/{fn['id']}"), 409, "FUNCTION_IN_USE"
    )
    assert body["error"]["details"]["domains"] == ["api.example.com"]
    assert row_counts(runtime) == (1, 1)
    assert account.delete(f"/api/projects/{pid}/function-domains/{domain['id']}").status_code == 204
    assert account.delete(f"/api/projects/{pid}/functions/{fn['id']}").status_code == 204
    assert row_counts(runtime) == (0, 0)


def test_deleting_the_project_removes_functions_and_domains(
    account: Account, project: dict[str, Any], runtime: Runtime
) -> None:
    pid = project["id"]
    fn = create_function(account, pid)
    create_domain(account, pid, "gone.example.com", fn["id"])
    assert account.delete(f"/api/projects/{pid}").status_code == 204
    assert row_counts(runtime) == (0, 0)
    # and the domain is free again
    other = account.create_project("Next")
    fn2 = create_function(account, other["id"])
    create_domain(account, other["id"], "gone.example.com", fn2["id"])

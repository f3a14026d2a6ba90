"""Shared helpers of the functions tests."""

from __future__ import annotations

from typing import Any

from sqlalchemy import func, select

from cloudbox.functions.models import Function, FunctionDomain
from cloudbox.runtime import Runtime
from tests.plugins.api import Account


def create_function(
    account: Account, pid: int, name: str = "hello", **extra: Any
) -> dict[str, Any]:
    body = {"name": name, "runtime": "nodejs20", "entry_point": "index.handler", **extra}
    response = account.post(f"/api/projects/{pid}/functions", json=body)
    assert response.status_code == 201, response.text
    created: dict[str, Any] = response.json()
    return created


def create_domain(account: Account, pid: int, domain: str, function_id: str) -> dict[str, Any]:
    response = account.post(
        f"/api/projects/{pid}/function-domains",
        json={"domain": domain, "function_id": function_id},
    )
    assert response.status_code == 201, response.text
    created: dict[str, Any] = response.json()
    return created


def row_counts(runtime: Runtime) -> tuple[int, int]:
    with runtime.db.session() as db:
        functions = db.scalar(select(func.count()).select_from(Function)) or 0
        domains = db.scalar(select(func.count()).select_from(FunctionDomain)) or 0
    return functions, domains

"""Documents are capped at the server's JSON body size, merges included."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from cloudbox.config import Settings
from cloudbox.runtime import Runtime
from tests.collections.helpers import docs_url, make_collection, make_document, snapshot
from tests.plugins.api import MASTER_KEY, Account, assert_error

CAP = 2048


@pytest.fixture
def settings(database_url: str, tmp_path: Path) -> Settings:
    """The shared settings with a small body cap, so the limit is cheap to reach."""
    return Settings(
        env="test",
        data_dir=tmp_path / "data",
        database_url=database_url,
        master_key=MASTER_KEY,
        max_json_body_bytes=CAP,
    )


def test_size_cap_holds_for_creates_and_merges(
    account: Account, project: dict[str, Any], runtime: Runtime
) -> None:
    pid = project["id"]
    make_collection(account, pid, "c")
    url = docs_url(pid, "c")
    half = {"a": "x" * (CAP // 2)}
    make_document(account, pid, "c", half, id="d")
    before = snapshot(runtime)
    assert_error(account.post(url, json={"data": {"a": "x" * CAP}}), 413, "PAYLOAD_TOO_LARGE")
    # each patch fits in a request, but the merged document would not
    response = account.patch(f"{url}/d", json={"data": {"b": "y" * (CAP // 2)}})
    details = assert_error(response, 413, "DOCUMENT_TOO_LARGE")["error"]["details"]
    assert details["max_bytes"] == CAP and details["size"] > CAP
    assert snapshot(runtime) == before
    # replacing the big value keeps it under the cap
    assert account.patch(f"{url}/d", json={"data": {"a": "z"}}).json()["version"] == 2

"""The equality filter compares JSON values with their JSON type, on both databases
(every test here runs on SQLite and PostgreSQL through the `client` fixture)."""

from __future__ import annotations

import json
from typing import Any

import pytest

from cloudbox.runtime import Runtime
from tests.collections.helpers import docs_url, make_collection, make_document, row_counts
from tests.plugins.api import Account, assert_error

VALUES: dict[str, Any] = {
    "int": 1,
    "float_one": 1.0,
    "float": 1.5,
    "string_one": "1",
    "string": "abc",
    "empty_string": "",
    "true": True,
    "false": False,
    "zero": 0,
    "null": None,
    "list": [1],
    "object": {"n": 1},
    "big": 9007199254740993,
    "negative": -7,
    "unicode": "日本",
}


@pytest.fixture
def typed(account: Account, project: dict[str, Any]) -> str:
    """One document per JSON value under the field `n`, plus one without `n`."""
    pid = project["id"]
    make_collection(account, pid, "typed")
    for doc_id, value in VALUES.items():
        make_document(account, pid, "typed", {"n": value, "other": doc_id}, id=doc_id)
    make_document(account, pid, "typed", {"other": "missing"}, id="missing")
    return docs_url(pid, "typed")


def _ids(account: Account, url: str, filters: Any) -> list[str]:
    text = filters if isinstance(filters, str) else json.dumps(filters)
    response = account.get(url, params={"filter": text, "order_by": "id", "limit": 100})
    assert response.status_code == 200, response.text
    ids = [d["id"] for d in response.json()]
    assert response.headers["X-Total-Count"] == str(len(ids))
    return ids


TYPED_CASES: list[tuple[Any, list[str]]] = [
    (1, ["float_one", "int"]),  # one JSON number type: 1 == 1.0
    (1.0, ["float_one", "int"]),
    (1.5, ["float"]),
    ("1", ["string_one"]),
    ("abc", ["string"]),
    ("", ["empty_string"]),
    (True, ["true"]),
    (False, ["false"]),
    (0, ["zero"]),
    (None, ["null"]),  # explicit null only, not the document without the field
    (9007199254740993, ["big"]),
    (-7, ["negative"]),
    ("日本", ["unicode"]),
    ("true", []),
    ("null", []),
    (2, []),
]


def test_filter_is_type_exact_and_validated(account: Account, typed: str, runtime: Runtime) -> None:
    for value, expected in TYPED_CASES:
        assert _ids(account, typed, {"n": value}) == expected, value
    _filter_combines_fields_and_pages(account, typed)
    _bad_filters(account, typed, runtime)


def _filter_combines_fields_and_pages(account: Account, typed: str) -> None:
    assert _ids(account, typed, {"n": 1, "other": "int"}) == ["int"]
    assert _ids(account, typed, {"n": 1, "other": "string"}) == []
    assert _ids(account, typed, {"absent": None}) == []
    assert _ids(account, typed, {}) == sorted([*VALUES, "missing"])
    page = account.get(typed, params={"filter": '{"n": 1}', "limit": 1, "order_by": "-id"})
    assert page.headers["X-Total-Count"] == "2"
    assert [d["id"] for d in page.json()] == ["int"]
    # arrays and objects are never equal to a scalar filter
    assert _ids(account, typed, {"other": "list"}) == ["list"]


def test_filter_on_unusual_keys(account: Account, project: dict[str, Any]) -> None:
    pid = project["id"]
    make_collection(account, pid, "keys")
    url = docs_url(pid, "keys")
    keys = ["prénom", "a.b", "a[0]", 'qu"ote', "back\\slash", "$", "with space", "", "日本"]
    for n, key in enumerate(keys):
        make_document(account, pid, "keys", {key: n}, id=f"k{n}")
    make_document(account, pid, "keys", {"a": {"b": 0}}, id="nested")
    for n, key in enumerate(keys):
        assert _ids(account, url, {key: n}) == [f"k{n}"], key
    assert _ids(account, url, {"a.b": 0}) == []  # a key, not a path into "a"
    _filter_only_sees_its_collection(account, project)


def _filter_only_sees_its_collection(account: Account, project: dict[str, Any]) -> None:
    pid = project["id"]
    other = account.create_project("Other")
    for p in (pid, other["id"]):
        for name in ("a", "b"):
            make_collection(account, p, name)
            make_document(account, p, name, {"n": 1}, id="same")
    assert _ids(account, docs_url(pid, "a"), {"n": 1}) == ["same"]


BAD_FILTERS = [
    "not json",
    "[1, 2]",
    '"n"',
    "1",
    "null",
    '{"n": [1]}',
    '{"n": {"a": 1}}',
    '{"n": NaN}',
    '{"n": Infinity}',
    '{"n": 1e400}',
    '{"n": 99999999999999999999}',
    '{"n": 1, "n": 2}',
    json.dumps({"x" * 129: 1}),
    json.dumps({f"f{i}": i for i in range(11)}),
    '{"n": "a\\u0000"}',
    '{"n": "\\ud800"}',
    '{"n": ' * 100 + "1" + "}" * 100,
    "{" + '"a": 1, ' * 600 + '"b": 1}',
]


def _bad_filters(account: Account, typed: str, runtime: Runtime) -> None:
    before = row_counts(runtime)
    for bad in BAD_FILTERS:
        response = account.get(typed, params={"filter": bad})
        assert response.status_code == 422, (bad, response.text)
        assert_error(response, 422, "VALIDATION_ERROR")
    assert_error(
        account.get(typed, params={"filter": "{" + " " * 5000 + "}"}), 422, "VALIDATION_ERROR"
    )
    assert row_counts(runtime) == before

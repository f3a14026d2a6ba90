from __future__ import annotations

from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import update

from cloudbox.functions import repository
from cloudbox.functions.models import FunctionDomain
from cloudbox.functions.schemas import normalize_hostname
from cloudbox.runtime import Runtime
from tests.functions.helpers import create_domain, create_function, row_counts
from tests.plugins.api import Account, add_member, assert_error, register

VALID_HOSTNAMES = [
    ("example.com", "example.com"),
    ("API.Example.COM", "api.example.com"),
    ("example.com.", "example.com"),
    ("a.b", "a.b"),
    ("my-app.example.co.uk", "my-app.example.co.uk"),
    ("123.example.com", "123.example.com"),
    ("x1.y2", "x1.y2"),
    ("bücher.example", "xn--bcher-kva.example"),
    ("BÜCHER.Example", "xn--bcher-kva.example"),
    ("xn--bcher-kva.example", "xn--bcher-kva.example"),
    ("例え.テスト", "xn--r8jz45g.xn--zckzah"),
    ("a。b", "a.b"),  # ideographic full stop is a dot under UTS #46
    ("a" * 63 + ".com", "a" * 63 + ".com"),
    (".".join(["a" * 63] * 3 + ["b" * 61]), ".".join(["a" * 63] * 3 + ["b" * 61])),  # 253
]

INVALID_HOSTNAMES = [
    ("", "empty"),
    (".", "only a dot"),
    ("localhost", "single label"),
    ("com.", "single label with trailing dot"),
    ("example..com", "empty label"),
    (".example.com", "leading dot"),
    ("example.com..", "two trailing dots"),
    ("-api.example.com", "label starts with dash"),
    ("api-.example.com", "label ends with dash"),
    ("a_b.example.com", "underscore"),
    ("*.example.com", "wildcard"),
    ("exa mple.com", "space"),
    (" example.com", "leading space"),
    ("example.com/path", "path"),
    ("https://example.com", "url"),
    ("example.com:8080", "port"),
    ("user@example.com", "email"),
    ("a" * 64 + ".com", "label of 64"),
    (".".join(["a" * 63] * 3 + ["b" * 62]), "254 characters"),
    ("1.2.3.4", "IPv4"),
    ("10.0.0.1.", "IPv4 with trailing dot"),
    ("999.1.1.1", "dotted numbers"),
    ("::1", "IPv6"),
    ("[::1]", "bracketed IPv6"),
    ("example.123", "numeric top-level label"),
    ("xn--zz.example", "bad punycode"),
    ("☃.net", "symbol not allowed by IDNA 2008"),
    ("exa\x00mple.com", "NUL"),
    ("exämple.c_m", "unicode with bad ascii label"),
]


@pytest.mark.parametrize(("raw", "expected"), VALID_HOSTNAMES)
def test_valid_hostnames(raw: str, expected: str) -> None:
    assert normalize_hostname(raw) == expected


@pytest.mark.parametrize(("raw", "why"), INVALID_HOSTNAMES, ids=[c[1] for c in INVALID_HOSTNAMES])
def test_invalid_hostnames(raw: str, why: str) -> None:
    with pytest.raises(ValueError):
        normalize_hostname(raw)


def test_hostname_table_through_the_api(
    account: Account, project: dict[str, Any], runtime: Runtime
) -> None:
    pid = project["id"]
    fn = create_function(account, pid)
    url = f"/api/projects/{pid}/function-domains"
    before = row_counts(runtime)
    for raw, why in INVALID_HOSTNAMES:
        response = account.post(url, json={"domain": raw, "function_id": fn["id"]})
        assert response.status_code == 422, (why, response.text)
        assert_error(response, 422, "VALIDATION_ERROR")
    assert row_counts(runtime) == before
    for raw, expected in VALID_HOSTNAMES:
        created = create_domain(account, pid, raw, fn["id"])
        assert created["domain"] == expected
        assert account.delete(f"{url}/{created['id']}").status_code == 204


def test_domain_crud_paging_and_filter(
    account: Account, project: dict[str, Any], runtime: Runtime
) -> None:
    pid = project["id"]
    url = f"/api/projects/{pid}/function-domains"
    f1 = create_function(account, pid, "one")
    f2 = create_function(account, pid, "two")
    d1 = create_domain(account, pid, "B.example.com.", f1["id"])
    assert d1["domain"] == "b.example.com" and d1["is_verified"] is False
    assert d1["function_id"] == f1["id"] and d1["project_id"] == pid
    d2 = create_domain(account, pid, "a.example.com", f1["id"])
    d3 = create_domain(account, pid, "c.example.com", f2["id"])

    listed = account.get(url)
    assert listed.headers["X-Total-Count"] == "3"
    assert [d["id"] for d in listed.json()] == [d1["id"], d2["id"], d3["id"]]
    page = account.get(url, params={"order_by": "-domain", "limit": 2})
    assert [d["domain"] for d in page.json()] == ["c.example.com", "b.example.com"]
    assert page.headers["X-Total-Count"] == "3"
    assert account.get(url, params={"order_by": "domain", "offset": 2}).json()[0]["id"] == d3["id"]
    only = account.get(url, params={"function_id": f1["id"], "order_by": "domain"})
    assert only.headers["X-Total-Count"] == "2"
    assert [d["domain"] for d in only.json()] == ["a.example.com", "b.example.com"]
    assert_error(account.get(url, params={"order_by": "project_id"}), 422, "VALIDATION_ERROR")

    assert account.get(f"{url}/{d1['id']}").json() == d1

    # verification is server-managed; pretend it happened
    with runtime.db.transaction() as db:
        db.execute(update(FunctionDomain).values(is_verified=True))
    moved = account.patch(f"{url}/{d1['id']}", json={"function_id": f2["id"]})
    assert moved.status_code == 200, moved.text
    assert moved.json()["function_id"] == f2["id"] and moved.json()["is_verified"] is True
    assert moved.json()["updated_at"] > d1["updated_at"]
    same = account.patch(f"{url}/{d1['id']}", json={"domain": "b.example.com."})
    assert same.json()["is_verified"] is True  # not a rename
    renamed = account.patch(f"{url}/{d1['id']}", json={"domain": "New.Example.com"})
    assert renamed.status_code == 200
    assert renamed.json()["domain"] == "new.example.com" and renamed.json()["is_verified"] is False

    assert account.delete(f"{url}/{d1['id']}").status_code == 204
    assert_error(account.get(f"{url}/{d1['id']}"), 404, "FUNCTION_DOMAIN_NOT_FOUND")
    assert_error(account.delete(f"{url}/{d1['id']}"), 404, "FUNCTION_DOMAIN_NOT_FOUND")
    assert_error(
        account.patch(f"{url}/{d1['id']}", json={"domain": "x.example.com"}),
        404,
        "FUNCTION_DOMAIN_NOT_FOUND",
    )


def test_clients_cannot_set_verification_or_bad_fields(
    account: Account, project: dict[str, Any], runtime: Runtime
) -> None:
    pid = project["id"]
    url = f"/api/projects/{pid}/function-domains"
    fn = create_function(account, pid)
    before = row_counts(runtime)
    bad_creates: list[dict[str, Any]] = [
        {"domain": "a.example.com", "function_id": fn["id"], "is_verified": True},
        {"domain": "a.example.com", "function_id": fn["id"], "is_verified": False},
        {"domain": "a.example.com", "function_id": fn["id"], "project_id": pid},
        {"domain": "a.example.com"},
        {"function_id": fn["id"]},
        {"domain": None, "function_id": fn["id"]},
        {"domain": "a.example.com", "function_id": ""},
        {"domain": "a.example.com", "function_id": "f" * 41},
        {"domain": "a.example.com", "function_id": "a\x00b"},
        {"domain": "a.example.com", "function_id": "ABC"},
        {"domain": ["a.example.com"], "function_id": fn["id"]},
        {"domain": "a" * 1001, "function_id": fn["id"]},
    ]
    for body in bad_creates:
        assert_error(account.post(url, json=body), 422, "VALIDATION_ERROR")
    assert row_counts(runtime) == before
    assert_error(account.get(url, params={"function_id": "a\x00b"}), 422, "VALIDATION_ERROR")

    created = create_domain(account, pid, "a.example.com", fn["id"])
    for body in [
        {"is_verified": True},
        {"domain": None},
        {"function_id": None},
        {"domain": "not a host"},
    ]:
        assert_error(account.patch(f"{url}/{created['id']}", json=body), 422, "VALIDATION_ERROR")
    assert account.get(f"{url}/{created['id']}").json() == created


def test_domain_taken_across_projects_of_different_users(
    client: TestClient, account: Account, project: dict[str, Any], runtime: Runtime
) -> None:
    pid = project["id"]
    fn = create_function(account, pid)
    held = create_domain(account, pid, "shop.example.com", fn["id"])

    stranger = register(client)
    theirs = stranger.create_project("Stranger's")
    their_fn = create_function(stranger, theirs["id"])
    url = f"/api/projects/{theirs['id']}/function-domains"
    before = row_counts(runtime)
    for spelling in ["shop.example.com", "SHOP.example.com", "shop.example.com."]:
        response = stranger.post(url, json={"domain": spelling, "function_id": their_fn["id"]})
        body = assert_error(response, 409, "DOMAIN_TAKEN")
        # nothing about the holder leaks
        assert body["error"]["details"] == {"domain": "shop.example.com"}
        for secret in (str(pid), project["name"], held["id"], fn["id"], account.email):
            assert secret not in body["error"]["message"]
        assert held["id"] not in response.text and fn["id"] not in response.text
    assert row_counts(runtime) == before

    # the same through a rename, and within the holder's own project
    own = create_domain(stranger, theirs["id"], "mine.example.org", their_fn["id"])
    assert_error(
        stranger.patch(f"{url}/{own['id']}", json={"domain": "shop.example.com"}),
        409,
        "DOMAIN_TAKEN",
    )
    assert stranger.get(f"{url}/{own['id']}").json()["domain"] == "mine.example.org"
    assert_error(
        account.post(
            f"/api/projects/{pid}/function-domains",
            json={"domain": "mine.example.org", "function_id": fn["id"]},
        ),
        409,
        "DOMAIN_TAKEN",
    )
    # unicode and its punycode are one name
    create_domain(account, pid, "bücher.example", fn["id"])
    assert_error(
        stranger.post(url, json={"domain": "xn--bcher-kva.example", "function_id": their_fn["id"]}),
        409,
        "DOMAIN_TAKEN",
    )


def test_cross_project_function_id_is_refused(
    account: Account, project: dict[str, Any], runtime: Runtime
) -> None:
    pid = project["id"]
    other = account.create_project("Other")
    foreign_fn = create_function(account, other["id"], "foreign")
    own_fn = create_function(account, pid, "own")
    url = f"/api/projects/{pid}/function-domains"
    before = row_counts(runtime)
    for function_id in [foreign_fn["id"], "doesnotexist", "1"]:
        body = assert_error(
            account.post(url, json={"domain": "x.example.com", "function_id": function_id}),
            422,
            "INVALID_REFERENCE",
        )
        assert body["error"]["details"] == {"field": "function_id", "function_id": function_id}
    assert row_counts(runtime) == before
    created = create_domain(account, pid, "x.example.com", own_fn["id"])
    assert_error(
        account.patch(f"{url}/{created['id']}", json={"function_id": foreign_fn["id"]}),
        422,
        "INVALID_REFERENCE",
    )
    # a refused patch changes nothing, not even the part that was valid
    assert_error(
        account.patch(
            f"{url}/{created['id']}",
            json={"domain": "y.example.com", "function_id": foreign_fn["id"]},
        ),
        422,
        "INVALID_REFERENCE",
    )
    assert account.get(f"{url}/{created['id']}").json() == created
    # the other project's domain list is untouched and its own id is not visible here
    assert_error(
        account.get(f"/api/projects/{other['id']}/function-domains/{created['id']}"),
        404,
        "FUNCTION_DOMAIN_NOT_FOUND",
    )
    assert_error(
        account.get(f"/api/projects/{pid}/functions/{foreign_fn['id']}"), 404, "FUNCTION_NOT_FOUND"
    )


def test_roles(client: TestClient, account: Account, project: dict[str, Any]) -> None:
    pid = project["id"]
    url = f"/api/projects/{pid}/function-domains"
    fn = create_function(account, pid)
    existing = create_domain(account, pid, "a.example.com", fn["id"])
    viewer = add_member(account, pid, "viewer", client)
    developer = add_member(account, pid, "developer", client)
    assert viewer.get(url).status_code == 200
    assert viewer.get(f"{url}/{existing['id']}").status_code == 200
    body = {"domain": "v.example.com", "function_id": fn["id"]}
    assert_error(viewer.post(url, json=body), 403, "INSUFFICIENT_PERMISSIONS")
    assert_error(
        viewer.patch(f"{url}/{existing['id']}", json={"domain": "w.example.com"}),
        403,
        "INSUFFICIENT_PERMISSIONS",
    )
    assert_error(viewer.delete(f"{url}/{existing['id']}"), 403, "INSUFFICIENT_PERMISSIONS")

    made = create_domain(developer, pid, "dev.example.com", fn["id"])
    assert (
        developer.patch(f"{url}/{made['id']}", json={"domain": "d.example.com"}).status_code == 200
    )
    assert developer.delete(f"{url}/{made['id']}").status_code == 204


def test_constraints_hold_when_the_checks_are_raced(
    monkeypatch: pytest.MonkeyPatch, account: Account, project: dict[str, Any], runtime: Runtime
) -> None:
    """A writer that passed the service's checks just before another committed still gets
    the documented error (from the database constraint), not a 500."""
    pid = project["id"]
    fn = create_function(account, pid)
    domain = create_domain(account, pid, "race.example.com", fn["id"])
    other = create_function(account, pid, "other")

    real_by_name = repository.domain_by_name
    real_names = repository.domain_names_of_function
    calls = {"by_name": 0, "names": 0}

    def blind_by_name(db: Any, name: str) -> Any:
        calls["by_name"] += 1
        return None if calls["by_name"] == 1 else real_by_name(db, name)

    def blind_names(db: Any, project_id: int, function_id: str, limit: int) -> Any:
        calls["names"] += 1
        return [] if calls["names"] == 1 else real_names(db, project_id, function_id, limit)

    monkeypatch.setattr(repository, "domain_by_name", blind_by_name)
    monkeypatch.setattr(repository, "domain_names_of_function", blind_names)

    response = account.post(
        f"/api/projects/{pid}/function-domains",
        json={"domain": "race.example.com", "function_id": other["id"]},
    )
    assert_error(response, 409, "DOMAIN_TAKEN")
    response = account.delete(f"/api/projects/{pid}/functions/{fn['id']}")
    body = assert_error(response, 409, "FUNCTION_IN_USE")
    assert body["error"]["details"]["domains"] == ["race.example.com"]
    assert row_counts(runtime) == (2, 1)
    assert account.get(f"/api/projects/{pid}/function-domains/{domain['id']}").json() == domain

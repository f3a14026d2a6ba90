"""client.projects, client.members, client.api_keys."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from cloudbox_sdk import (
    AlreadyMember,
    ApiKeyCreated,
    ApiKeyNotFound,
    InsufficientPermissions,
    InvalidToken,
    Member,
    NotFound,
    Page,
    Project,
    ProjectNotFound,
)
from conftest import Account, ClientFactory


def test_create_list_get(new_account: Callable[..., Account]) -> None:
    owner = new_account(fresh=True)
    client = owner.client
    second = client.projects.create("Second", "another one")
    assert isinstance(second, Project)
    assert (second.name, second.description, second.role) == ("Second", "another one", "owner")
    projects = client.projects.list()
    assert isinstance(projects, Page) and isinstance(projects, list)
    assert {p.id for p in projects} == {owner.project_id, second.id}
    assert projects.total == 2
    assert len(client.projects.list(limit=1)) == 1
    assert client.projects.get().id == owner.project_id  # the client's default project
    assert client.projects.get(second.id).name == "Second"


def test_update(owner: Account) -> None:
    updated = owner.client.projects.update(name="Renamed", settings={"theme": "dark"})
    assert (updated.name, updated.settings) == ("Renamed", {"theme": "dark"})
    assert owner.client.projects.get().name == "Renamed"


def test_delete(owner: Account) -> None:
    doomed = owner.client.projects.create("Doomed")
    owner.client.projects.delete(doomed.id)
    with pytest.raises(ProjectNotFound) as info:
        owner.client.projects.get(doomed.id)
    assert isinstance(info.value, NotFound)
    assert (info.value.status, info.value.code) == (404, "PROJECT_NOT_FOUND")


def test_a_stranger_sees_project_not_found(owner: Account, stranger: Account) -> None:
    with pytest.raises(ProjectNotFound):
        stranger.client.projects.get(owner.project_id)


def test_project_id_is_required(make_client: ClientFactory, owner: Account) -> None:
    client = make_client(token=owner.client.token)
    with pytest.raises(ValueError, match="project"):
        client.backups.list()


def test_members(owner: Account, new_account: Callable[..., Account]) -> None:
    other = new_account("Dev", "Their own")
    members = owner.client.members
    added = members.add(other.email, "developer")
    assert isinstance(added, Member)
    assert (added.email, added.role) == (other.email, "developer")
    assert {m.email for m in members.list()} == {owner.email, other.email}
    with pytest.raises(AlreadyMember):
        members.add(other.email, "viewer")
    assert members.update(added.user_id, "admin").role == "admin"
    members.remove(added.user_id)
    assert [m.email for m in members.list()] == [owner.email]
    with pytest.raises(ProjectNotFound):
        other.client.projects.get(owner.project_id)


def test_developer_cannot_manage_members(
    owner: Account, new_account: Callable[..., Account]
) -> None:
    dev = new_account("Dev2", "Own")
    owner.client.members.add(dev.email, "developer")
    with pytest.raises(InsufficientPermissions) as info:
        dev.client.members.add("someone@example.com", "viewer", project_id=owner.project_id)
    assert (info.value.status, info.value.code) == (403, "INSUFFICIENT_PERMISSIONS")


def test_api_keys(owner: Account, make_client: ClientFactory) -> None:
    keys = owner.client.api_keys
    created = keys.create("ci", ["read", "backups"])
    assert isinstance(created, ApiKeyCreated)
    assert created.key.startswith("cbk_")
    assert sorted(created.scopes) == ["backups", "read"]
    assert [k.id for k in keys.list()] == [created.id]

    with_key = make_client(project_id=owner.project_id, api_key=created.key)
    assert with_key.backups.list() == []

    keys.delete(created.id)
    assert keys.list() == []
    with pytest.raises(ApiKeyNotFound):
        keys.delete(created.id)
    with pytest.raises(InvalidToken):
        with_key.backups.list()


def test_api_key_without_the_backups_scope(owner: Account, make_client: ClientFactory) -> None:
    key = owner.client.api_keys.create("reader", ["read"]).key
    client = make_client(project_id=owner.project_id, api_key=key)
    with pytest.raises(InsufficientPermissions) as info:
        client.backups.list()
    assert info.value.code == "INSUFFICIENT_PERMISSIONS"

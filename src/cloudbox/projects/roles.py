"""Roles of project members and what an API key's scopes are worth.

Ranks are ordered so that a route can say "developer or above". An API key has no role;
its scopes map to the role it may act as (DESIGN §6).
"""

from __future__ import annotations

from enum import StrEnum


class Role(StrEnum):
    viewer = "viewer"
    developer = "developer"
    admin = "admin"
    owner = "owner"

    @property
    def rank(self) -> int:
        return _RANKS[self]

    def at_least(self, other: Role) -> bool:
        return self.rank >= other.rank


_RANKS = {Role.viewer: 1, Role.developer: 2, Role.admin: 3, Role.owner: 4}


class Scope(StrEnum):
    read = "read"
    write = "write"
    admin = "admin"
    backups = "backups"


#: The scope an API key needs to act at each role level.
SCOPE_FOR_ROLE = {Role.viewer: Scope.read, Role.developer: Scope.write, Role.admin: Scope.admin}

#: Scopes that imply others, so a key with `admin` may also write and read.
IMPLIED_SCOPES = {
    Scope.admin: {Scope.admin, Scope.write, Scope.read},
    Scope.write: {Scope.write, Scope.read},
    Scope.read: {Scope.read},
    Scope.backups: {Scope.backups, Scope.read},
}


def expand_scopes(scopes: list[str] | set[str] | frozenset[str]) -> frozenset[str]:
    granted: set[str] = set()
    for scope in scopes:
        granted |= {s.value for s in IMPLIED_SCOPES.get(Scope(scope), {Scope(scope)})}
    return frozenset(granted)

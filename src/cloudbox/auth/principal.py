"""Who is asking: a platform user with a session, or a project API key."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal


@dataclass(frozen=True)
class Principal:
    kind: Literal["user", "api_key"]
    user_id: int | None = None
    email: str | None = None
    session_id: int | None = None
    api_key_id: str | None = None
    api_key_project_id: int | None = None
    scopes: frozenset[str] = field(default_factory=frozenset)
    is_platform_admin: bool = False

    @property
    def actor_type(self) -> str:
        return self.kind

    @property
    def actor_id(self) -> str:
        return str(self.user_id) if self.kind == "user" else str(self.api_key_id)

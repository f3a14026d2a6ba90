from __future__ import annotations

from datetime import datetime
from typing import Any

from pydantic import BaseModel, ConfigDict, EmailStr, Field

from cloudbox.projects.roles import Role


class ProjectCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")
    name: str = Field(min_length=1, max_length=200)
    description: str = Field(default="", max_length=5000)


class ProjectUpdate(BaseModel):
    model_config = ConfigDict(extra="forbid")
    name: str | None = Field(default=None, min_length=1, max_length=200)
    description: str | None = Field(default=None, max_length=5000)
    settings: dict[str, Any] | None = None


class ProjectOut(BaseModel):
    id: int
    name: str
    description: str
    settings: dict[str, Any]
    role: Role
    created_by: int | None
    created_at: datetime
    updated_at: datetime


class MemberCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")
    email: EmailStr = Field(max_length=254)
    role: Role


class MemberUpdate(BaseModel):
    model_config = ConfigDict(extra="forbid")
    role: Role


class MemberOut(BaseModel):
    user_id: int
    email: str
    name: str
    role: Role
    created_at: datetime

from __future__ import annotations

from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field, StringConstraints, field_validator

_Origin = Annotated[str, StringConstraints(min_length=1, max_length=500)]
_Method = Annotated[
    str, StringConstraints(pattern=r"^(\*|GET|POST|PUT|PATCH|DELETE|HEAD|OPTIONS)$")
]
_Header = Annotated[str, StringConstraints(pattern=r"^(\*|[A-Za-z0-9!#$%&'*+.^_`|~-]{1,100})$")]


class CorsConfigIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    allowed_origins: list[_Origin] = Field(default_factory=list, max_length=100)
    allowed_methods: list[_Method] = Field(
        default_factory=lambda: ["GET", "POST", "PUT", "PATCH", "DELETE"], max_length=10
    )
    allowed_headers: list[_Header] = Field(
        default_factory=lambda: ["Authorization", "Content-Type", "X-API-Key"], max_length=100
    )
    exposed_headers: list[_Header] = Field(
        default_factory=lambda: ["X-Total-Count"], max_length=100
    )
    allow_credentials: bool = False
    max_age: int = Field(default=600, ge=0, le=86400)

    @field_validator("allowed_origins")
    @classmethod
    def _origins(cls, origins: list[str]) -> list[str]:
        for origin in origins:
            if origin == "*":
                continue
            scheme, sep, rest = origin.partition("://")
            if scheme not in ("http", "https") or not sep or not rest or "/" in rest:
                raise ValueError(f"invalid origin {origin!r}: expected scheme://host[:port] or *")
        return origins


class CorsConfigOut(CorsConfigIn):
    model_config = ConfigDict(extra="ignore")

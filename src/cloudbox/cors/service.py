"""Per-project CORS rules and the decision whether a browser origin may call."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy.orm import Session

from cloudbox.cors.models import CorsConfig

DEFAULTS: dict[str, Any] = {
    "allowed_origins": [],
    "allowed_methods": ["GET", "POST", "PUT", "PATCH", "DELETE"],
    "allowed_headers": ["Authorization", "Content-Type", "X-API-Key"],
    "exposed_headers": ["X-Total-Count"],
    "allow_credentials": False,
    "max_age": 600,
}


@dataclass(frozen=True)
class CorsRules:
    allowed_origins: tuple[str, ...]
    allowed_methods: tuple[str, ...]
    allowed_headers: tuple[str, ...]
    exposed_headers: tuple[str, ...]
    allow_credentials: bool
    max_age: int

    def allows_origin(self, origin: str) -> bool:
        return "*" in self.allowed_origins or origin in self.allowed_origins

    def allows_method(self, method: str) -> bool:
        return "*" in self.allowed_methods or method.upper() in self.allowed_methods

    def allows_headers(self, requested: list[str]) -> bool:
        if "*" in self.allowed_headers:
            return True
        allowed = {h.lower() for h in self.allowed_headers}
        return all(h.lower() in allowed for h in requested)


def get_config(db: Session, project_id: int) -> dict[str, Any]:
    row = db.get(CorsConfig, (project_id, "default"))
    if row is None:
        return dict(DEFAULTS)
    return {key: getattr(row, key) for key in DEFAULTS}


def put_config(db: Session, project_id: int, values: dict[str, Any]) -> dict[str, Any]:
    row = db.get(CorsConfig, (project_id, "default"))
    if row is None:
        row = CorsConfig(project_id=project_id, id="default")
        db.add(row)
    for key in DEFAULTS:
        setattr(row, key, values[key])
    db.flush()
    return get_config(db, project_id)


def rules_for(db: Session, project_id: int) -> CorsRules:
    config = get_config(db, project_id)
    return CorsRules(
        allowed_origins=tuple(config["allowed_origins"]),
        allowed_methods=tuple(m.upper() for m in config["allowed_methods"]),
        allowed_headers=tuple(config["allowed_headers"]),
        exposed_headers=tuple(config["exposed_headers"]),
        allow_credentials=bool(config["allow_credentials"]),
        max_age=int(config["max_age"]),
    )

"""Settings, read once from the environment and passed explicitly.

Nothing in CloudBox reads the environment at import time: `Settings()` is built by the
CLI or the test fixtures and handed to `create_app`, the workers and the services.
"""

from __future__ import annotations

import logging
import secrets
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import AliasChoices, Field, SecretStr, field_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

log = logging.getLogger(__name__)


class ConfigError(RuntimeError):
    """The configuration cannot work; the process must not start."""


class Settings(BaseSettings):
    """Every knob of a CloudBox server. `BACKUP_DIR` and `MASTER_KEY` keep the spec's names."""

    model_config = SettingsConfigDict(env_prefix="CLOUDBOX_", extra="ignore", frozen=True)

    env: Literal["development", "production", "test"] = "development"
    host: str = "127.0.0.1"
    port: int = Field(default=8080, ge=1, le=65535)
    data_dir: Path = Path(".cloudbox")
    database_url: str | None = None
    redis_url: str | None = None
    queue_name: str = Field(default="cloudbox", min_length=1, max_length=100)

    backup_dir: Path | None = Field(
        default=None, validation_alias=AliasChoices("BACKUP_DIR", "CLOUDBOX_BACKUP_DIR")
    )
    master_key: SecretStr | None = Field(
        default=None, validation_alias=AliasChoices("MASTER_KEY", "CLOUDBOX_MASTER_KEY")
    )

    storage: Literal["local", "s3"] = "local"
    s3_endpoint: str | None = None
    s3_bucket: str | None = None
    s3_prefix: str = "cloudbox/"
    s3_region: str = "us-east-1"
    s3_access_key: str | None = None
    s3_secret_key: SecretStr | None = None

    backup_quota_bytes: int = Field(default=0, ge=0)
    backup_compresslevel: int = Field(default=1, ge=0, le=3)
    backup_threads: int = Field(default=2, ge=1, le=64)
    job_heartbeat_timeout_seconds: float = Field(default=60, gt=0)
    job_queue_timeout_seconds: float = Field(default=3600, gt=0)
    job_progress_interval_seconds: float = Field(default=0.5, gt=0)
    job_max_bytes_per_second: int = Field(default=0, ge=0)
    recovery_interval_seconds: float = Field(default=15, ge=0)
    embedded_workers: int | None = Field(default=None, ge=0, le=64)
    # Where those consumer threads run (cloudbox.background): `process`, a supervised
    # `cloudbox worker` child, keeps a job's GIL time and memory out of the API server;
    # `thread` runs them in the server. Unset: `process` under `cloudbox serve`, `thread`
    # in an app built in-process (tests).
    embedded_worker: Literal["process", "thread"] | None = None

    token_ttl_seconds: int = Field(default=7 * 24 * 3600, ge=60)
    login_max_failures: int = Field(default=5, ge=1)
    login_lockout_seconds: int = Field(default=15 * 60, ge=1)
    max_json_body_bytes: int = Field(default=10 * 2**20, ge=1024)
    trusted_proxies: tuple[str, ...] = ()

    # Blob garbage collection (cloudbox.files.gc): how often `serve` collects (0 = never;
    # `cloudbox gc` still works) and how long an unreferenced blob is kept.
    gc_interval_seconds: int = Field(default=3600, ge=0)
    gc_grace_seconds: int = Field(default=86400, ge=0)

    # Backup policies (cloudbox.policies, docs/automatic-backups.md): the once-a-minute
    # scheduler tick (off: nothing fires by itself), run history kept, failure webhooks.
    policy_scheduler: bool = True
    policy_history_days: int = Field(default=30, ge=1)
    webhook_allowed_hosts: Annotated[tuple[str, ...], NoDecode] = ()
    webhook_timeout_seconds: float = Field(default=10, gt=0, le=120)
    webhook_max_attempts: int = Field(default=6, ge=1, le=20)
    webhook_retry_base_seconds: float = Field(default=30, ge=0)

    @field_validator("webhook_allowed_hosts", mode="before")
    @classmethod
    def _split_hosts(cls, value: Any) -> Any:
        """`host1,10.0.0.0/8` or a JSON list, from the environment."""
        if isinstance(value, str):
            text = value.strip()
            if text.startswith("["):
                import json

                return tuple(json.loads(text))
            return tuple(part.strip() for part in text.split(",") if part.strip())
        return value

    @field_validator("database_url")
    @classmethod
    def _normalize_db_url(cls, value: str | None) -> str | None:
        """Accept the `postgresql://` form people copy from psql and use psycopg 3."""
        if value and value.startswith(("postgresql://", "postgres://")):
            _scheme, rest = value.split("://", 1)
            return f"postgresql+psycopg://{rest}"
        return value

    @property
    def resolved_database_url(self) -> str:
        if self.database_url:
            return self.database_url
        return f"sqlite:///{(self.data_dir / 'cloudbox.db').resolve()}"

    @property
    def resolved_backup_dir(self) -> Path:
        return self.backup_dir if self.backup_dir is not None else self.data_dir / "backups"

    @property
    def consumer_threads(self) -> int:
        """Queue consumer threads inside `cloudbox serve`: 2 in the embedded shape, none
        when Redis is configured (then `cloudbox worker` processes consume)."""
        if self.embedded_workers is not None:
            return self.embedded_workers
        return 0 if self.redis_url else 2

    @property
    def blob_dir(self) -> Path:
        return self.data_dir / "blobs"

    @property
    def is_sqlite(self) -> bool:
        return self.resolved_database_url.startswith("sqlite")

    def master_key_bytes(self) -> bytes:
        """The master key material; generated once into the data directory in development.

        Production refuses to invent a key: secrets encrypted under a key nobody wrote
        down would be lost with the data directory.
        """
        if self.master_key is not None and self.master_key.get_secret_value():
            return self.master_key.get_secret_value().encode()
        if self.env == "production":
            raise ConfigError("MASTER_KEY must be set in production (CLOUDBOX_ENV=production)")
        key_file = self.data_dir / "master.key"
        if key_file.exists():
            return key_file.read_text().strip().encode()
        self.data_dir.mkdir(parents=True, exist_ok=True)
        generated = secrets.token_urlsafe(48)
        key_file.write_text(generated + "\n")
        key_file.chmod(0o600)
        log.warning(
            "MASTER_KEY is not set: generated one into %s. Set MASTER_KEY to that value "
            "before moving this server or restoring its backups elsewhere.",
            key_file,
        )
        return generated.encode()

"""The long-lived objects of one process, built once from the settings.

The API, the workers and the CLI all build a `Runtime` and pass it (or parts of it) down;
nothing is a module-level singleton, so tests can run several servers in one process.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

from huey import Huey

from cloudbox.auth.service import AuthPolicy
from cloudbox.blobstore import BlobStore, ObjectStore
from cloudbox.config import Settings
from cloudbox.db.engine import Database
from cloudbox.jobs.queue import build_queue
from cloudbox.security.encryption import SecretBox
from cloudbox.storage import build_stores


@dataclass
class Runtime:
    settings: Settings
    db: Database
    secrets: SecretBox
    blobs: BlobStore
    archives: ObjectStore
    queue: Huey
    auth_policy: AuthPolicy = field(init=False)
    tasks: dict[str, Any] = field(init=False)

    def __post_init__(self) -> None:
        self.auth_policy = AuthPolicy(
            token_ttl=timedelta(seconds=self.settings.token_ttl_seconds),
            max_failures=self.settings.login_max_failures,
            lockout=timedelta(seconds=self.settings.login_lockout_seconds),
        )
        from cloudbox import tasks

        self.tasks = tasks.install(self)

    @classmethod
    def build(cls, settings: Settings) -> Runtime:
        settings.data_dir.mkdir(parents=True, exist_ok=True)
        blobs, archives = build_stores(settings)
        return cls(
            settings=settings,
            db=Database(settings.resolved_database_url),
            secrets=SecretBox(settings.master_key_bytes()),
            blobs=blobs,
            archives=archives,
            queue=build_queue(settings),
        )

    def enqueue(self, task: str, *args: Any) -> None:
        self.tasks[task](*args)

    def close(self) -> None:
        self.db.dispose()

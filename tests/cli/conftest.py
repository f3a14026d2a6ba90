"""Fixtures of the client-command tests: one live server for the session, platform
accounts made through the SDK, and a ``cli`` runner with its own config directory."""

from __future__ import annotations

import itertools
import json
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner, Result
from cloudbox_sdk import Backup, CloudBox

from cloudbox.cli.main import main
from tests.plugins.server import ServerProcess, start_server

PASSWORD = "cli-test-password"
_emails = itertools.count(1)
#: Variables of the user's shell that would change what the commands do.
_CLEAN_ENV: dict[str, str | None] = {
    "CLOUDBOX_TOKEN": None,
    "CLOUDBOX_API_KEY": None,
    "CLOUDBOX_PROJECT": None,
    "CLOUDBOX_EMAIL": None,
    "CLOUDBOX_PASSWORD": None,
}


@pytest.fixture(scope="session")
def live(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerProcess]:
    server = start_server(
        tmp_path_factory.mktemp("cli-server"),
        env={
            "CLOUDBOX_JOB_PROGRESS_INTERVAL_SECONDS": "0.1",
            # no webhook allow-list: loopback and private targets are refused
            "CLOUDBOX_WEBHOOK_ALLOWED_HOSTS": "",
        },
    )
    yield server
    server.stop()


@dataclass
class User:
    email: str
    password: str
    sdk: CloudBox

    def project(self, name: str = "CLI project") -> int:
        project_id: int = self.sdk.projects.create(name).id
        return project_id


def register(server: ServerProcess, name: str) -> User:
    email = f"cli-{name.lower()}-{next(_emails)}@example.com"
    sdk = CloudBox(endpoint=server.base_url)
    sdk.auth.register(email, PASSWORD, name)
    return User(email=email, password=PASSWORD, sdk=sdk)


@pytest.fixture(scope="session")
def owner(live: ServerProcess) -> Iterator[User]:
    user = register(live, "Owner")
    yield user
    user.sdk.close()


@pytest.fixture(scope="session")
def stranger(live: ServerProcess) -> Iterator[User]:
    user = register(live, "Stranger")
    yield user
    user.sdk.close()


@dataclass
class Cli:
    """Runs ``cloudbox ...`` in-process against the live server, with a private
    config directory (never the user's real ~/.config)."""

    endpoint: str
    config_dir: Path
    env: dict[str, str | None] = field(default_factory=dict)

    def environment(self, extra: dict[str, str | None] | None = None) -> dict[str, str | None]:
        return {
            **_CLEAN_ENV,
            "CLOUDBOX_CONFIG_DIR": str(self.config_dir),
            "CLOUDBOX_ENDPOINT": self.endpoint,
            **self.env,
            **(extra or {}),
        }

    def __call__(
        self, *args: object, input: str | None = None, env: dict[str, str | None] | None = None
    ) -> Result:
        runner = CliRunner()
        return runner.invoke(
            main,
            [str(arg) for arg in args],
            input=input,
            env=self.environment(env),
            catch_exceptions=False,
        )

    def ok(self, *args: object, input: str | None = None) -> Result:
        result = self(*args, input=input)
        assert result.exit_code == 0, (result.exit_code, result.stdout, result.stderr)
        return result

    def json(self, *args: object) -> Any:
        """Run with ``--json``: it must succeed and print exactly one JSON document."""
        result = self.ok(*args, "--json")
        return json.loads(result.stdout)

    def login(self, user: User) -> None:
        self.ok("login", "--email", user.email, "--password", user.password)


@pytest.fixture
def cli(live: ServerProcess, tmp_path: Path) -> Cli:
    """Not logged in yet."""
    return Cli(endpoint=live.base_url, config_dir=tmp_path / "config")


@pytest.fixture
def owner_cli(cli: Cli, owner: User) -> Cli:
    cli.login(owner)
    return cli


def seed(user: User, project_id: int, file_bytes: int = 64 * 1024) -> None:
    """Some rows and a file, so backups have every kind of member."""
    sdk = user.sdk
    sdk.collections.create("notes", project_id=project_id)
    for n in range(3):
        sdk.documents.create("notes", {"n": n}, id=f"n{n}", project_id=project_id)
    sdk.buckets.create("files", project_id=project_id)
    sdk.files.upload(
        "files", bytes(range(256)) * (file_bytes // 256), filename="blob.bin", project_id=project_id
    )


def completed_backup(user: User, project_id: int, name: str = "prepared") -> Backup:
    created = user.sdk.backups.create(name, project_id=project_id)
    done = user.sdk.backups.wait_for_completion(created.id, interval=0.05, timeout=60)
    assert done.status == "completed", done.error
    return done


@dataclass
class Prepared:
    """A seeded project of ``owner`` with one completed backup, downloaded to ``archive``."""

    project_id: int
    backup: Backup
    archive: Path


@pytest.fixture(scope="session")
def prepared(owner: User, tmp_path_factory: pytest.TempPathFactory) -> Prepared:
    project_id = owner.project("Prepared")
    seed(owner, project_id)
    backup = completed_backup(owner, project_id)
    result = owner.sdk.backups.download(backup.id, tmp_path_factory.mktemp("archives"))
    assert result.path is not None
    return Prepared(project_id=project_id, backup=backup, archive=result.path)


def rekeyed(archive: bytes, fingerprint: str = "sha256:" + "ab" * 32) -> bytes:
    """The same archive, rewritten as if made under another MASTER_KEY: it is valid and
    imports, but restoring it fails (MASTER_KEY_MISMATCH)."""
    import io

    from cloudbox.archive import ArchiveReader, ArchiveWriter, verify_archive

    verified = verify_archive(io.BytesIO(archive))
    reserved = {"backup_version", "key_fingerprint", "sections"}
    metadata = {k: v for k, v in verified.metadata.items() if k not in reserved}
    out = io.BytesIO()
    writer = ArchiveWriter(
        out, metadata=metadata, key_fingerprint=fingerprint, sections=list(verified.sections)
    )
    for member in ArchiveReader(io.BytesIO(archive), verified):
        if member.kind == "section":
            assert member.section is not None
            rows = [json.dumps(row, separators=(",", ":")).encode() for row in member.rows()]
            writer.write_section(member.section, rows)
        elif member.kind == "blob":
            writer.write_blob(member.name.removeprefix("blobs/"), member.size, member.chunks())
    writer.close()
    return out.getvalue()

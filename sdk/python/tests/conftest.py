"""Fixtures: one real CloudBox server process for the session, and clients of both
kinds (sync ``CloudBox`` and async ``AsyncCloudBox``) so every test runs against both.

The server is ``python -m cloudbox.cli.main serve`` from the same interpreter (the
``cloudbox`` package must be installed next to the SDK), on a free port with its data
in a temporary directory. ``CLOUDBOX_TEST_ENDPOINT`` points the tests at a running
server instead.
"""

from __future__ import annotations

import asyncio
import inspect
import os
import signal
import socket
import subprocess
import sys
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest

from cloudbox_sdk import AsyncCloudBox, CloudBox, Project

MASTER_KEY = "sdk-tests-master-key-0123456789abcdef"
PASSWORD = "correct-horse-battery"


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


@dataclass(frozen=True)
class Server:
    """The server the tests run against; ``data_dir`` is ``None`` for an external one
    (``CLOUDBOX_TEST_ENDPOINT``), whose database the tests cannot reach."""

    url: str
    data_dir: Path | None


@pytest.fixture(scope="session")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    external = os.environ.get("CLOUDBOX_TEST_ENDPOINT")
    if external:
        yield Server(external.rstrip("/"), None)
        return
    data_dir = tmp_path_factory.mktemp("cloudbox-server")
    port = _free_port()
    env = {
        **os.environ,
        "CLOUDBOX_DATA_DIR": str(data_dir),
        "CLOUDBOX_PORT": str(port),
        "CLOUDBOX_HOST": "127.0.0.1",
        "MASTER_KEY": MASTER_KEY,
        "CLOUDBOX_JOB_PROGRESS_INTERVAL_SECONDS": "0.1",
        # no webhook allow-list: loopback and private targets are refused
        "CLOUDBOX_WEBHOOK_ALLOWED_HOSTS": "",
    }
    log_path = data_dir / "server.log"
    with log_path.open("wb") as log:
        process = subprocess.Popen(
            [sys.executable, "-m", "cloudbox.cli.main", "serve"],
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
    url = f"http://127.0.0.1:{port}"
    try:
        _wait_until_up(url, process, log_path)
        yield Server(url, data_dir)
    finally:
        if process.poll() is None:
            process.send_signal(signal.SIGTERM)
            try:
                process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()


@pytest.fixture(scope="session")
def endpoint(server: Server) -> str:
    return server.url


def _wait_until_up(url: str, process: subprocess.Popen[bytes], log_path: Path) -> None:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"the server exited early:\n{log_path.read_text(errors='replace')}")
        try:
            with httpx.Client() as probe:
                if probe.get(f"{url}/api/health", timeout=1).status_code == 200:
                    return
        except httpx.TransportError:
            pass
        time.sleep(0.1)
    process.kill()
    process.wait()
    raise RuntimeError(f"the server did not start:\n{log_path.read_text(errors='replace')}")


# -- one test body, two clients ---------------------------------------------------------------


class Syncified:
    """Drives an ``AsyncCloudBox`` (or one of its resources) from synchronous test code:
    coroutine methods run to completion on one event loop, async generators become
    iterators, resources are wrapped in turn, attribute writes reach the target."""

    def __init__(self, target: Any, runner: asyncio.Runner) -> None:
        object.__setattr__(self, "_target", target)
        object.__setattr__(self, "_runner", runner)

    def __getattr__(self, name: str) -> Any:
        value = getattr(self._target, name)
        runner: asyncio.Runner = self._runner
        if inspect.iscoroutinefunction(value):

            def call(*args: Any, **kwargs: Any) -> Any:
                return runner.run(value(*args, **kwargs))

            return call
        if inspect.isasyncgenfunction(value):

            def iterate(*args: Any, **kwargs: Any) -> Iterator[Any]:
                agen = value(*args, **kwargs)

                async def step() -> Any:
                    return await agen.__anext__()

                try:
                    while True:
                        try:
                            yield runner.run(step())
                        except StopAsyncIteration:
                            return
                finally:
                    runner.run(agen.aclose())

            return iterate
        if type(value).__module__ == "cloudbox_sdk._async":
            return Syncified(value, runner)
        return value

    def __setattr__(self, name: str, value: Any) -> None:
        setattr(self._target, name, value)


@pytest.fixture(params=["sync", "async"])
def kind(request: pytest.FixtureRequest) -> str:
    kind: str = request.param
    return kind


ClientFactory = Callable[..., Any]


@pytest.fixture
def make_client(endpoint: str, kind: str) -> Iterator[ClientFactory]:
    """``make_client(project_id=..., token=..., api_key=...)``: a client of this test's
    kind (``CloudBox``, or ``AsyncCloudBox`` behind :class:`Syncified`)."""
    runner = asyncio.Runner() if kind == "async" else None
    made: list[Any] = []

    def make(**kwargs: Any) -> Any:
        kwargs.setdefault("endpoint", endpoint)
        if runner is None:
            client: Any = CloudBox(**kwargs)
            made.append(client)
            return client
        async_client = AsyncCloudBox(**kwargs)
        made.append(async_client)
        return Syncified(async_client, runner)

    yield make
    for client in made:
        if isinstance(client, AsyncCloudBox):
            assert runner is not None
            runner.run(client.aclose())
        else:
            client.close()
    if runner is not None:
        runner.close()


def unique_email(prefix: str = "user") -> str:
    return f"{prefix}-{uuid.uuid4().hex[:12]}@example.com"


@dataclass
class Account:
    """A platform user signed in on ``client`` (of the test's kind), owner of ``project``
    (a fresh project, the client's default)."""

    client: Any
    email: str
    password: str
    project: Project

    @property
    def project_id(self) -> int:
        return self.project.id


class UserPool:
    """Platform users registered once per session (password hashing is slow on
    purpose); each test still gets fresh projects, so tests stay independent."""

    def __init__(self, endpoint: str) -> None:
        self._endpoint = endpoint
        self._users: dict[str, tuple[str, str]] = {}

    def register(self, name: str) -> tuple[str, str]:
        """A brand-new user: (email, token)."""
        email = unique_email(name.lower())
        with CloudBox(self._endpoint) as client:
            token = client.auth.register(email, PASSWORD, name).token
        return email, token

    def get(self, name: str) -> tuple[str, str]:
        if name not in self._users:
            self._users[name] = self.register(name)
        return self._users[name]


@pytest.fixture(scope="session")
def users(endpoint: str) -> UserPool:
    return UserPool(endpoint)


@pytest.fixture
def new_account(make_client: ClientFactory, users: UserPool) -> Callable[..., Account]:
    """``new_account(name, project_name, fresh=False)``: the session's user called
    ``name`` (or a brand-new one) with a new project of their own."""

    def create(name: str = "Owner", project_name: str = "Main", fresh: bool = False) -> Account:
        email, token = users.register(name) if fresh else users.get(name)
        client = make_client(token=token)
        project = client.projects.create(project_name, "a test project")
        client.project_id = project.id
        return Account(client=client, email=email, password=PASSWORD, project=project)

    return create


@pytest.fixture
def owner(new_account: Callable[..., Account]) -> Account:
    return new_account()


@pytest.fixture
def stranger(new_account: Callable[..., Account]) -> Account:
    return new_account("Stranger", "Elsewhere")

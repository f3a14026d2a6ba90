"""Client commands of ``cloudbox``, through the Python SDK (``cloudbox_sdk``):
``login``, ``logout``, ``projects``, ``backup`` and ``restores``.

Credentials: ``cloudbox login`` stores the endpoint and a platform token in
``$CLOUDBOX_CONFIG_DIR/credentials.json`` (default ``~/.config/cloudbox``; mode 0600).
``CLOUDBOX_ENDPOINT``, ``CLOUDBOX_TOKEN`` and ``CLOUDBOX_API_KEY`` override it, so
scripts can run without logging in.
"""

from __future__ import annotations

import functools
import json
import logging
import os
import sys
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import IO, TYPE_CHECKING, Any, NoReturn, TextIO, TypeVar, cast

import click

from cloudbox.archive import SECTIONS
from cloudbox.cli.progress import ProgressBar, format_bytes

if TYPE_CHECKING:
    from cloudbox_sdk import (
        Backup,
        BackupPolicy,
        BackupUsage,
        CloudBox,
        CloudBoxError,
        Restore,
        RetentionRule,
    )

__all__ = [
    "EXIT_AUTH",
    "EXIT_CONFLICT",
    "EXIT_FAILED",
    "EXIT_INVALID_ARCHIVE",
    "EXIT_NOT_FOUND",
    "EXIT_OK",
    "EXIT_USAGE",
    "backup",
    "login",
    "logout",
    "projects",
    "restores",
]

EXIT_OK = 0
EXIT_USAGE = 1
EXIT_AUTH = 2
EXIT_NOT_FOUND = 3
EXIT_CONFLICT = 4
EXIT_INVALID_ARCHIVE = 5
EXIT_FAILED = 6

EXIT_CODES_HELP = """
\b
Exit codes:
  0  success
  1  usage error, invalid input, server unreachable, other errors
  2  not logged in, bad credentials or insufficient permissions
  3  not found (backup, restore, project or backup policy)
  4  conflict (a backup or restore is running, the backup is not complete,
     the project has the most backup policies allowed)
  5  invalid archive (refused by the server, checksum mismatch, verify problems)
  6  server error, or the backup/restore job failed or timed out
"""

DEFAULT_ENDPOINT = "http://127.0.0.1:8080"
_ARCHIVE_CODES = frozenset({"INVALID_ARCHIVE", "UNSUPPORTED_BACKUP_VERSION", "MASTER_KEY_MISMATCH"})

F = TypeVar("F", bound=Callable[..., Any])


# -- errors and exit codes ----------------------------------------------------------------


class Failure(click.ClickException):
    """A failed command: a message on stderr (and, with ``--json``, one JSON error
    document on stdout) and the exit code of its category."""

    def __init__(
        self,
        message: str,
        exit_code: int,
        *,
        code: str | None = None,
        status: int | None = None,
        details: dict[str, Any] | None = None,
        as_json: bool = False,
    ) -> None:
        super().__init__(message)
        vars(self)["exit_code"] = exit_code  # click declares it a class variable
        self.code = code
        self.status = status
        self.details = details or {}
        self.as_json = as_json

    def show(self, file: IO[Any] | None = None) -> None:
        if self.as_json:
            error = {
                "code": self.code or "CLI_ERROR",
                "message": self.message,
                "details": self.details,
                "status": self.status,
                "exit_code": self.exit_code,
            }
            click.echo(json.dumps({"error": error}, indent=2, default=str))
        prefix = f"{self.code}: " if self.code else ""
        click.echo(f"error: {prefix}{self.message}", err=True)


def exit_code_for(exc: CloudBoxError) -> int:
    """The exit code of an SDK error, by its class and HTTP status."""
    from cloudbox_sdk import errors as e

    if isinstance(exc, e.InvalidArchive | e.ChecksumMismatch | e.MasterKeyMismatch):
        return EXIT_INVALID_ARCHIVE
    if isinstance(exc, e.WaitTimeout):
        return EXIT_FAILED
    if isinstance(exc, e.ConnectionFailed):
        return EXIT_USAGE
    if isinstance(exc, e.Unauthorized | e.Forbidden | e.TooManyAttempts) or exc.status in (
        401,
        403,
    ):
        return EXIT_AUTH
    if exc.status == 404:
        return EXIT_NOT_FOUND
    if exc.status == 409:
        return EXIT_CONFLICT
    if exc.status >= 500:
        return EXIT_FAILED
    return EXIT_USAGE


def _job_exit_code(error_code: str | None) -> int:
    return EXIT_INVALID_ARCHIVE if error_code in _ARCHIVE_CODES else EXIT_FAILED


def _quiet_http_logs() -> None:
    for name in ("httpx", "httpcore"):
        logging.getLogger(name).setLevel(logging.WARNING)


def reports_errors(fn: F) -> F:
    """Turn SDK errors into :class:`Failure` with the right exit code."""

    @functools.wraps(fn)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        from cloudbox_sdk import CloudBoxError

        _quiet_http_logs()
        as_json = bool(kwargs.get("as_json"))
        try:
            return fn(*args, **kwargs)
        except CloudBoxError as exc:
            message = exc.message
            if exc.code == "INVALID_TOKEN":
                message += " (run `cloudbox login` again)"
            raise Failure(
                message,
                exit_code_for(exc),
                code=exc.code,
                status=exc.status or None,
                details=exc.details,
                as_json=as_json,
            ) from exc
        except Failure as exc:
            exc.as_json = exc.as_json or as_json
            raise
        except OSError as exc:  # a local file: unwritable output, unreadable input
            where = f" {exc.filename}" if exc.filename else ""
            raise Failure(
                f"{exc.strerror or exc}{where}", EXIT_USAGE, code="LOCAL_IO_ERROR", as_json=as_json
            ) from exc

    return cast(F, wrapper)


def _usage_exit(exc: click.UsageError) -> NoReturn:
    vars(exc)["exit_code"] = EXIT_USAGE
    raise exc


class ClientCommand(click.Command):
    """Usage errors exit with 1 (2 means an authentication problem here)."""

    def make_context(
        self,
        info_name: str | None,
        args: list[str],
        parent: click.Context | None = None,
        **extra: Any,
    ) -> click.Context:
        try:
            return super().make_context(info_name, args, parent, **extra)
        except click.UsageError as exc:
            _usage_exit(exc)


class ClientGroup(click.Group):
    command_class = ClientCommand

    def make_context(
        self,
        info_name: str | None,
        args: list[str],
        parent: click.Context | None = None,
        **extra: Any,
    ) -> click.Context:
        try:
            return super().make_context(info_name, args, parent, **extra)
        except click.UsageError as exc:
            _usage_exit(exc)

    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except click.UsageError as exc:
            _usage_exit(exc)


# -- credentials -----------------------------------------------------------------------------------


def config_dir() -> Path:
    override = os.environ.get("CLOUDBOX_CONFIG_DIR")
    if override:
        return Path(override)
    base = os.environ.get("XDG_CONFIG_HOME") or str(Path.home() / ".config")
    return Path(base) / "cloudbox"


def credentials_path() -> Path:
    return config_dir() / "credentials.json"


def load_credentials() -> dict[str, Any] | None:
    path = credentials_path()
    try:
        data = json.loads(path.read_text())
    except FileNotFoundError:
        return None
    except (OSError, ValueError) as exc:
        click.echo(f"warning: ignoring unreadable {path}: {exc}", err=True)
        return None
    return data if isinstance(data, dict) else None


def save_credentials(data: dict[str, Any]) -> Path:
    """Write the credentials readable by the owner only (0600, directory 0700)."""
    path = credentials_path()
    path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    try:
        os.fchmod(fd, 0o600)
        with os.fdopen(fd, "w") as handle:
            json.dump(data, handle, indent=2)
            handle.write("\n")
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    os.replace(tmp, path)
    return path


def normalize_endpoint(value: str) -> str:
    """``localhost:8080`` -> ``http://localhost:8080``; no trailing slash."""
    value = value.strip().rstrip("/")
    return value if "://" in value else f"http://{value}"


def _same_endpoint(a: str, b: str) -> bool:
    return a.rstrip("/") == b.rstrip("/")


def _default_endpoint() -> str:
    stored = load_credentials() or {}
    value = stored.get("endpoint")
    return value if isinstance(value, str) and value else DEFAULT_ENDPOINT


def connect(endpoint: str | None, api_key: str | None, project: int | None = None) -> CloudBox:
    """A client for the chosen endpoint, with the API key, ``CLOUDBOX_TOKEN`` or the
    token ``cloudbox login`` stored for that endpoint."""
    from cloudbox_sdk import CloudBox

    stored = load_credentials() or {}
    resolved = normalize_endpoint(endpoint or stored.get("endpoint") or DEFAULT_ENDPOINT)
    if api_key:
        return CloudBox(endpoint=resolved, project_id=project, api_key=api_key)
    token = os.environ.get("CLOUDBOX_TOKEN")
    if not token and stored.get("token") and _same_endpoint(str(stored.get("endpoint")), resolved):
        token = str(stored["token"])
    if not token:
        raise Failure(
            f"not logged in to {resolved}: run `cloudbox login` "
            "(or set CLOUDBOX_TOKEN or CLOUDBOX_API_KEY)",
            EXIT_AUTH,
            code="NOT_LOGGED_IN",
        )
    return CloudBox(endpoint=resolved, project_id=project, token=token)


@contextmanager
def client_for(
    endpoint: str | None, api_key: str | None, project: int | None = None
) -> Iterator[CloudBox]:
    client = connect(endpoint, api_key, project)
    try:
        yield client
    finally:
        client.close()


# -- output ----------------------------------------------------------------------------------------


def _dump(value: Any) -> Any:
    if hasattr(value, "model_dump"):
        return value.model_dump(mode="json", by_alias=True)
    if isinstance(value, list):
        return [_dump(item) for item in value]
    return value


def emit_json(value: Any) -> None:
    click.echo(json.dumps(_dump(value), indent=2, default=str))


def _when(value: datetime | None) -> str:
    if value is None:
        return "-"
    return value.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S UTC")


def _size(value: int | None) -> str:
    return "-" if value is None else format_bytes(value)


def _table(headers: Sequence[str], rows: Sequence[Sequence[str]]) -> None:
    widths = [len(h) for h in headers]
    for row in rows:
        widths = [max(w, len(cell)) for w, cell in zip(widths, row, strict=True)]
    for row in [headers, *rows]:
        click.echo("  ".join(cell.ljust(w) for cell, w in zip(row, widths, strict=True)).rstrip())


def _describe_backup(backup: Backup) -> None:
    click.echo(f"Backup {backup.id}: {backup.name}")
    fields = [
        ("status", backup.status),
        ("project", str(backup.project_id)),
        ("type", f"{backup.type} (origin: {backup.origin or '-'})"),
        ("description", backup.description or "-"),
        ("size", f"{_size(backup.size)}" + (f" ({backup.size} bytes)" if backup.size else "")),
        ("checksum", backup.checksum or "-"),
        ("created", _when(backup.created_at)),
        ("completed", _when(backup.completed_at)),
        ("verified", _when(backup.verified_at)),
        ("progress", f"{backup.progress.percent:.1f}% ({backup.progress.phase})"),
    ]
    if backup.sections:
        filled = {name: rows for name, rows in backup.sections.items() if rows}
        sections = ", ".join(f"{name}={rows}" for name, rows in filled.items()) or "all empty"
        fields.append(("sections", f"{sections} ({len(backup.sections)} sections)"))
    if backup.error is not None:
        fields.append(("error", f"{backup.error.code}: {backup.error.message}"))
    if backup.policy_id is not None:
        fields.append(("policy", backup.policy_id))
    if backup.drill is not None:
        drill = "passed" if backup.drill.ok else "FAILED: " + "; ".join(backup.drill.problems)
        fields.append(("drill", f"{drill} ({_when(backup.drill.checked_at)})"))
    for label, value in fields:
        click.echo(f"  {label:<12}{value}")


def _describe_restore(restore: Restore) -> None:
    kind = "Dry run" if restore.dry_run else "Restore"
    source = f"backup {restore.backup_id}" if restore.backup_id else "an undo"
    click.echo(
        f"{kind} {restore.id} of {source} into project {restore.target_project_id}: "
        f"{restore.status}"
    )
    if restore.undo_of is not None:
        click.echo(f"  undoes restore {restore.undo_of}")
    if restore.pre_restore_backup_id is not None:
        click.echo(f"  pre-restore backup: {restore.pre_restore_backup_id}")
    sections = restore.plan.get("sections") if isinstance(restore.plan, dict) else None
    if isinstance(sections, dict):
        for name, counts in sections.items():
            if isinstance(counts, dict) and any(counts.values()):
                summary = ", ".join(f"{k} {v}" for k, v in counts.items() if v)
                click.echo(f"  {name:<20}{summary}")
    for warning in restore.warnings:
        click.echo(f"  warning: {warning.get('message', warning)}")
    if restore.error is not None:
        click.echo(f"  error: {restore.error.code}: {restore.error.message}")


def _progress_stream(as_json: bool) -> TextIO:
    """Progress goes to stdout, or to stderr when stdout carries the JSON document."""
    return sys.stderr if as_json else sys.stdout


# -- shared options ---------------------------------------------------------------------------


def connection_options(fn: F) -> F:
    fn = click.option(
        "--json", "as_json", is_flag=True, help="Print one JSON document (for scripts)."
    )(fn)
    fn = click.option(
        "--api-key",
        envvar="CLOUDBOX_API_KEY",
        show_envvar=True,
        help="Use a project API key (cbk_...) instead of the stored login.",
    )(fn)
    fn = click.option(
        "--endpoint",
        envvar="CLOUDBOX_ENDPOINT",
        show_envvar=True,
        help="Server URL (default: the one `cloudbox login` stored).",
    )(fn)
    return fn


def project_option(required: bool) -> Callable[[F], F]:
    return click.option(
        "--project",
        "project",
        type=click.IntRange(min=1),
        envvar="CLOUDBOX_PROJECT",
        show_envvar=True,
        required=required,
        help="Project id" + ("." if required else " (checked against the backup's project)."),
    )


# -- login / logout ------------------------------------------------------------------------------


@click.command(cls=ClientCommand, epilog=EXIT_CODES_HELP)
@click.option(
    "--endpoint",
    envvar="CLOUDBOX_ENDPOINT",
    prompt="CloudBox endpoint",
    default=_default_endpoint,
    help="Server URL, e.g. http://127.0.0.1:8080.",
)
@click.option("--email", envvar="CLOUDBOX_EMAIL", prompt="Email", help="Account email.")
@click.option(
    "--password",
    envvar="CLOUDBOX_PASSWORD",
    prompt="Password",
    hide_input=True,
    help="Account password (prompted when missing).",
)
@click.option("--json", "as_json", is_flag=True, help="Print one JSON document (for scripts).")
@reports_errors
def login(endpoint: str, email: str, password: str, as_json: bool) -> None:
    """Sign in and store the token for the other commands.

    The token is saved in $CLOUDBOX_CONFIG_DIR/credentials.json (default
    ~/.config/cloudbox/credentials.json), readable by you only.
    """
    from cloudbox_sdk import CloudBox

    endpoint = normalize_endpoint(endpoint)
    with CloudBox(endpoint=endpoint) as client:
        session = client.auth.login(email.strip(), password)
    path = save_credentials(
        {
            "endpoint": endpoint,
            "token": session.token,
            "expires_at": session.expires_at.isoformat(),
            "email": session.user.email,
            "user_id": session.user.id,
        }
    )
    if as_json:
        emit_json(
            {
                "endpoint": endpoint,
                "user": session.user.model_dump(mode="json"),
                "expires_at": session.expires_at.isoformat(),
                "credentials_path": str(path),
            }
        )
    else:
        click.echo(
            f"Logged in to {endpoint} as {session.user.email} "
            f"(token expires {_when(session.expires_at)}); credentials saved to {path}"
        )


@click.command(cls=ClientCommand, epilog=EXIT_CODES_HELP)
@click.option("--json", "as_json", is_flag=True, help="Print one JSON document (for scripts).")
@reports_errors
def logout(as_json: bool) -> None:
    """Revoke the stored token and forget it."""
    from cloudbox_sdk import CloudBox, CloudBoxError

    stored = load_credentials()
    revoked = False
    if stored and stored.get("token") and stored.get("endpoint"):
        with CloudBox(endpoint=str(stored["endpoint"]), token=str(stored["token"])) as client:
            try:
                client.auth.logout()
                revoked = True
            except CloudBoxError:
                revoked = False
    credentials_path().unlink(missing_ok=True)
    if as_json:
        emit_json({"logged_out": True, "token_revoked": revoked})
    else:
        click.echo("Logged out" + ("" if revoked or not stored else " (token was not revoked)"))


# -- projects --------------------------------------------------------------------------------------


@click.group(cls=ClientGroup, epilog=EXIT_CODES_HELP)
def projects() -> None:
    """Your projects on the server."""


@projects.command("list", epilog=EXIT_CODES_HELP)
@click.option("--limit", type=click.IntRange(1, 1000), default=None, help="At most this many.")
@click.option("--offset", type=click.IntRange(min=0), default=None, help="Skip this many.")
@connection_options
@reports_errors
def projects_list(
    limit: int | None, offset: int | None, endpoint: str | None, api_key: str | None, as_json: bool
) -> None:
    """List the projects you are a member of."""
    with client_for(endpoint, api_key) as client:
        items = client.projects.list(limit=limit, offset=offset)
    if as_json:
        emit_json(list(items))
        return
    if not items:
        click.echo("No projects.")
        return
    _table(
        ["ID", "NAME", "ROLE", "CREATED"],
        [[str(p.id), p.name, p.role or "-", _when(p.created_at)] for p in items],
    )


@projects.command("get", epilog=EXIT_CODES_HELP)
@click.argument("project_id", type=click.IntRange(min=1))
@connection_options
@reports_errors
def projects_get(project_id: int, endpoint: str | None, api_key: str | None, as_json: bool) -> None:
    """Show one project."""
    with client_for(endpoint, api_key) as client:
        project = client.projects.get(project_id)
    if as_json:
        emit_json(project)
        return
    click.echo(f"Project {project.id}: {project.name}")
    click.echo(f"  role        {project.role or '-'}")
    click.echo(f"  description {project.description or '-'}")
    click.echo(f"  created     {_when(project.created_at)}")


@projects.command("create", epilog=EXIT_CODES_HELP)
@click.argument("name")
@click.option("--description", default=None, help="Free text.")
@connection_options
@reports_errors
def projects_create(
    name: str, description: str | None, endpoint: str | None, api_key: str | None, as_json: bool
) -> None:
    """Create a project (you become its owner)."""
    with client_for(endpoint, api_key) as client:
        project = client.projects.create(name, description)
    if as_json:
        emit_json(project)
    else:
        click.echo(f"Created project {project.id}: {project.name}")


# -- backups ---------------------------------------------------------------------------------------


@click.group(cls=ClientGroup, epilog=EXIT_CODES_HELP)
def backup() -> None:
    """Create, list, download, import, verify and restore backups; automatic backups
    (`backup policy ...`) and the storage they take (`backup usage`)."""


def _get_backup(client: CloudBox, backup_id: int, project: int | None) -> Backup:
    found = client.backups.get(backup_id)
    if project is not None and found.project_id != project:
        raise Failure(
            f"backup {backup_id} is not a backup of project {project}",
            EXIT_NOT_FOUND,
            code="BACKUP_NOT_FOUND",
            status=404,
        )
    return found


def _backup_bar(label: str, as_json: bool) -> tuple[ProgressBar, Callable[[Backup], None]]:
    bar = ProgressBar(label, _progress_stream(as_json))

    def on_progress(current: Backup) -> None:
        progress = current.progress
        bar.update(
            percent=progress.percent,
            done=progress.bytes_done,
            total=progress.bytes_total or None,
            phase=progress.phase,
        )

    return bar, on_progress


def _report_job(
    job: Backup | Restore,
    kind: str,
    describe: Callable[[Any], None],
    as_json: bool,
    *,
    fail_on_error: bool = True,
) -> None:
    """Print a backup or restore; a failed one is an error when ``fail_on_error`` (exit 5
    or 6), and with ``--json`` the error document (holding the job) is the only output."""
    failed = fail_on_error and job.status == "failed"
    if not as_json:
        describe(job)
    elif not failed:
        emit_json(job)
    if failed:
        code = job.error.code if job.error else f"{kind.upper()}_FAILED"
        message = job.error.message if job.error else f"the {kind} failed"
        raise Failure(
            f"{kind} {job.id} failed: {message}",
            _job_exit_code(code),
            code=code,
            details={kind: job.model_dump(mode="json")},
            as_json=as_json,
        )


def _report_backup(backup: Backup, as_json: bool) -> None:
    _report_job(backup, "backup", _describe_backup, as_json)


@backup.command("create", epilog=EXIT_CODES_HELP)
@project_option(required=True)
@click.option("--name", default=None, help="Backup name (default: a dated name).")
@click.option("--description", default="", help="Free text.")
@click.option(
    "--type",
    "backup_type",
    type=click.Choice(["manual", "automatic"]),
    default="manual",
    show_default=True,
)
@click.option("--wait", is_flag=True, help="Wait until it is done, with a progress bar.")
@click.option(
    "--timeout", type=click.FloatRange(min=0), default=None, help="Give up waiting after N s."
)
@connection_options
@reports_errors
def backup_create(
    project: int,
    name: str | None,
    description: str,
    backup_type: str,
    wait: bool,
    timeout: float | None,
    endpoint: str | None,
    api_key: str | None,
    as_json: bool,
) -> None:
    """Start a backup of a project (it runs in the background on the server)."""
    name = name or f"backup-{datetime.now(UTC).strftime('%Y-%m-%d-%H%M%S')}"
    with client_for(endpoint, api_key, project) as client:
        created = client.backups.create(
            name, description, "automatic" if backup_type == "automatic" else "manual"
        )
        result = created
        if wait:
            bar, on_progress = _backup_bar(f"Backup {created.id}", as_json)
            try:
                result = client.backups.wait_for_completion(
                    created.id, on_progress=on_progress, interval=0.2, timeout=timeout
                )
            finally:
                bar.finish(success=result.status == "completed")
    _report_backup(result, as_json)


@backup.command("list", epilog=EXIT_CODES_HELP)
@project_option(required=True)
@click.option("--limit", type=click.IntRange(1, 1000), default=None, help="At most this many.")
@click.option("--offset", type=click.IntRange(min=0), default=None, help="Skip this many.")
@connection_options
@reports_errors
def backup_list(
    project: int,
    limit: int | None,
    offset: int | None,
    endpoint: str | None,
    api_key: str | None,
    as_json: bool,
) -> None:
    """List a project's backups, newest first."""
    with client_for(endpoint, api_key, project) as client:
        items = client.backups.list(limit=limit, offset=offset)
    if as_json:
        emit_json(list(items))
        return
    if not items:
        click.echo(f"No backups in project {project}.")
        return
    _table(
        ["ID", "NAME", "STATUS", "SIZE", "CREATED", "ORIGIN"],
        [
            [str(b.id), b.name, b.status, _size(b.size), _when(b.created_at), b.origin or "-"]
            for b in items
        ],
    )
    if items.total is not None and items.total > len(items):
        click.echo(f"({len(items)} of {items.total}; use --limit/--offset for more)")


@backup.command("get", epilog=EXIT_CODES_HELP)
@click.argument("backup_id", type=click.IntRange(min=1))
@project_option(required=False)
@connection_options
@reports_errors
def backup_get(
    backup_id: int, project: int | None, endpoint: str | None, api_key: str | None, as_json: bool
) -> None:
    """Show a backup: status, progress, size, checksum, sections."""
    with client_for(endpoint, api_key, project) as client:
        found = _get_backup(client, backup_id, project)
    if as_json:
        emit_json(found)
    else:
        _describe_backup(found)


@backup.command("download", epilog=EXIT_CODES_HELP)
@click.argument("backup_id", type=click.IntRange(min=1))
@click.option(
    "-o",
    "--output",
    type=click.Path(path_type=Path),
    default=Path("."),
    show_default=True,
    help="File to write, or a directory (the server's file name is used).",
)
@click.option("--wait", is_flag=True, help="Show a progress bar while downloading.")
@project_option(required=False)
@connection_options
@reports_errors
def backup_download(
    backup_id: int,
    output: Path,
    wait: bool,
    project: int | None,
    endpoint: str | None,
    api_key: str | None,
    as_json: bool,
) -> None:
    """Download a backup archive; its size and SHA-256 are checked before the file
    appears under its final name."""
    with client_for(endpoint, api_key, project) as client:
        if project is not None:
            _get_backup(client, backup_id, project)
        bar = ProgressBar(f"Download {backup_id}", _progress_stream(as_json)) if wait else None

        def on_progress(done: int, total: int | None) -> None:
            if bar is not None:
                bar.update(done=done, total=total)

        success = False
        try:
            result = client.backups.download(backup_id, output, on_progress=on_progress)
            success = True
        finally:
            if bar is not None:
                bar.finish(success=success)
    if as_json:
        emit_json(
            {
                "backup_id": backup_id,
                "path": str(result.path),
                "size": result.size,
                "sha256": result.sha256,
                "checksum": f"sha256:{result.sha256}",
            }
        )
    else:
        click.echo(
            f"Saved backup {backup_id} to {result.path} ({format_bytes(result.size)}, "
            f"sha256:{result.sha256})"
        )


@backup.command("import", epilog=EXIT_CODES_HELP)
@click.argument("file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@project_option(required=True)
@click.option("--name", default=None, help="Backup name (default: the server's).")
@click.option("--description", default=None, help="Free text.")
@click.option(
    "--sha256",
    default=None,
    help="Expected SHA-256 of the file (hex, optionally sha256:-prefixed); computed when absent.",
)
@click.option("--wait", is_flag=True, help="Show a progress bar while uploading.")
@connection_options
@reports_errors
def backup_import(
    file: Path,
    project: int,
    name: str | None,
    description: str | None,
    sha256: str | None,
    wait: bool,
    endpoint: str | None,
    api_key: str | None,
    as_json: bool,
) -> None:
    """Upload an archive as a new backup of a project. The server verifies it
    completely; a refused archive leaves nothing behind (exit 5)."""
    with client_for(endpoint, api_key, project) as client:
        bar = ProgressBar(f"Upload {file.name}", _progress_stream(as_json)) if wait else None

        def on_progress(done: int, total: int | None) -> None:
            if bar is not None:
                bar.update(done=done, total=total)

        success = False
        try:
            imported = client.backups.import_archive(
                file, name=name, description=description, sha256=sha256, on_progress=on_progress
            )
            success = True
        except ValueError as exc:
            raise Failure(str(exc), EXIT_USAGE, code="VALIDATION_ERROR") from exc
        finally:
            if bar is not None:
                bar.finish(success=success)
    if as_json:
        emit_json(imported)
    else:
        _describe_backup(imported)


@backup.command("verify", epilog=EXIT_CODES_HELP)
@click.argument("backup_id", type=click.IntRange(min=1))
@project_option(required=False)
@connection_options
@reports_errors
def backup_verify(
    backup_id: int, project: int | None, endpoint: str | None, api_key: str | None, as_json: bool
) -> None:
    """Re-check a stored archive on the server (every checksum and safety rule)."""
    with client_for(endpoint, api_key, project) as client:
        if project is not None:
            _get_backup(client, backup_id, project)
        report = client.backups.verify(backup_id)
    if as_json:
        emit_json(report)
    elif report.ok:
        click.echo(
            f"OK: backup {backup_id} verified, {report.checked_members} members, "
            f"{_size(report.size)}, {report.checksum}"
        )
    else:
        click.echo(f"PROBLEMS in backup {backup_id}:")
        for problem in report.problems:
            click.echo(f"  {problem.code}: {problem.message}")
    if not report.ok:
        first = report.problems[0] if report.problems else None
        raise Failure(
            f"backup {backup_id} failed verification"
            + (f": {first.message}" if first is not None else ""),
            EXIT_INVALID_ARCHIVE,
            code=first.code if first is not None else "INVALID_ARCHIVE",
        )


def _restore_bar(label: str, as_json: bool) -> tuple[ProgressBar, Callable[[Restore], None]]:
    bar = ProgressBar(label, _progress_stream(as_json))

    def on_progress(current: Restore) -> None:
        progress = current.progress
        bar.update(
            percent=progress.percent,
            done=progress.bytes_done,
            total=progress.bytes_total or None,
            phase=progress.phase,
        )

    return bar, on_progress


def _wait_restore(
    client: CloudBox, started: Restore, as_json: bool, timeout: float | None
) -> Restore:
    bar, on_progress = _restore_bar(f"Restore {started.id}", as_json)
    result = started
    try:
        result = client.restores.wait_for_completion(
            started.id, on_progress=on_progress, interval=0.2, timeout=timeout
        )
    finally:
        bar.finish(success=result.status == "completed")
    return result


def _report_restore(restore: Restore, as_json: bool, *, fail_on_error: bool = True) -> None:
    _report_job(restore, "restore", _describe_restore, as_json, fail_on_error=fail_on_error)


@backup.command("restore", epilog=EXIT_CODES_HELP)
@click.argument("backup_id", type=click.IntRange(min=1))
@click.option(
    "--target-project",
    type=click.IntRange(min=1),
    default=None,
    help="Restore into this project (default: the backup's own project).",
)
@click.option("--dry-run", is_flag=True, help="Only plan: report what would change.")
@click.option(
    "--section",
    "sections",
    multiple=True,
    type=click.Choice(SECTIONS),
    help="Restore only this section (repeatable), e.g. --section documents.",
)
@click.option(
    "--pre-restore-backup/--no-pre-restore-backup",
    default=True,
    show_default=True,
    help="Back up the target first, so the restore can be undone.",
)
@click.option(
    "--keep-credentials-active",
    is_flag=True,
    help="Keep restored API keys and sessions usable.",
)
@click.option("--wait", is_flag=True, help="Wait until it is done, with a progress bar.")
@click.option(
    "--timeout", type=click.FloatRange(min=0), default=None, help="Give up waiting after N s."
)
@click.option("-y", "--yes", is_flag=True, help="Do not ask for confirmation.")
@project_option(required=False)
@connection_options
@reports_errors
def backup_restore(
    backup_id: int,
    target_project: int | None,
    dry_run: bool,
    sections: tuple[str, ...],
    pre_restore_backup: bool,
    keep_credentials_active: bool,
    wait: bool,
    timeout: float | None,
    yes: bool,
    project: int | None,
    endpoint: str | None,
    api_key: str | None,
    as_json: bool,
) -> None:
    """Restore a backup, all or nothing, into its project or another one."""
    with client_for(endpoint, api_key, project) as client:
        source = _get_backup(client, backup_id, project)
        target = target_project or source.project_id
        if not dry_run and not yes:
            click.confirm(
                f"Restore backup {backup_id} ({source.name}) into project {target}? "
                "Its current data will be replaced",
                abort=True,
                err=True,
            )
        started = client.backups.restore(
            backup_id,
            target_project_id=target_project,
            wait=False,
            dry_run=dry_run or None,
            sections=list(sections) or None,
            pre_restore_backup=pre_restore_backup,
            keep_credentials_active=keep_credentials_active or None,
        )
        result = _wait_restore(client, started, as_json, timeout) if wait else started
    _report_restore(result, as_json)
    if not wait and not as_json:
        click.echo(f"  follow it with: cloudbox restores get {result.id} --wait")


@backup.command("delete", epilog=EXIT_CODES_HELP)
@click.argument("backup_id", type=click.IntRange(min=1))
@click.option("-y", "--yes", is_flag=True, help="Do not ask for confirmation.")
@project_option(required=False)
@connection_options
@reports_errors
def backup_delete(
    backup_id: int,
    yes: bool,
    project: int | None,
    endpoint: str | None,
    api_key: str | None,
    as_json: bool,
) -> None:
    """Delete a backup and its archive."""
    with client_for(endpoint, api_key, project) as client:
        if project is not None:
            _get_backup(client, backup_id, project)
        if not yes:
            click.confirm(f"Delete backup {backup_id}?", abort=True, err=True)
        client.backups.delete(backup_id)
    if as_json:
        emit_json({"id": backup_id, "deleted": True})
    else:
        click.echo(f"Deleted backup {backup_id}")


@backup.command("cancel", epilog=EXIT_CODES_HELP)
@click.argument("backup_id", type=click.IntRange(min=1))
@project_option(required=False)
@connection_options
@reports_errors
def backup_cancel(
    backup_id: int, project: int | None, endpoint: str | None, api_key: str | None, as_json: bool
) -> None:
    """Stop a backup that is being created (it ends failed, BACKUP_CANCELLED)."""
    with client_for(endpoint, api_key, project) as client:
        if project is not None:
            _get_backup(client, backup_id, project)
        cancelled = client.backups.cancel(backup_id)
    if as_json:
        emit_json(cancelled)
    else:
        click.echo(f"Cancellation requested for backup {backup_id} (status: {cancelled.status})")


# -- backup policies and storage usage -------------------------------------------------------------

#: ``--keep-*`` options and the retention fields they set
_RETENTION_OPTIONS = (
    ("--keep-last", "keep_last", "Keep the N newest backups."),
    ("--keep-daily", "keep_daily", "Keep the newest backup of each of the last N days."),
    ("--keep-weekly", "keep_weekly", "Keep the newest backup of each of the last N weeks."),
    ("--keep-monthly", "keep_monthly", "Keep the newest backup of each of the last N months."),
    ("--max-age-days", "max_age_days", "Delete backups older than N days."),
)
_RETENTION_FIELDS = tuple(field for _, field, _ in _RETENTION_OPTIONS)
#: what ``--webhook-secret`` given without a value stands for: ask for it
_ASK = "\0ask"


def _retention_options(*, clearable: bool, preview: bool = False) -> Callable[[F], F]:
    """``--keep-last`` ... ``--max-age-days``; on update, 0 stops using a rule."""

    def decorate(fn: F) -> F:
        for option, field, text in reversed(_RETENTION_OPTIONS):
            maximum = 36_500 if field == "max_age_days" else 10_000
            if clearable:
                text += " 0 stops using this rule."
            if preview:
                text += " Replaces the saved value for this preview only."
            fn = click.option(
                option,
                field,
                type=click.IntRange(0 if clearable else 1, maximum),
                default=None,
                metavar="N",
                help=text,
            )(fn)
        return fn

    return decorate


def _policy_options(*, update: bool) -> Callable[[F], F]:
    """The options of ``policy create`` and ``policy update``."""

    def decorate(fn: F) -> F:
        options: list[Callable[[F], F]] = [
            click.option(
                "--schedule",
                required=not update,
                help="5-field cron: minute hour day-of-month month day-of-week, e.g. '30 2 * * *'.",
            ),
            click.option(
                "--timezone",
                default=None,
                help="IANA time zone the schedule is read in" + ("." if update else " (UTC)."),
            ),
            _retention_options(clearable=update),
            click.option(
                "--verify/--no-verify",
                "verify",
                default=None,
                help="Re-read each new archive completely before retention"
                + ("." if update else " (default: verify)."),
            ),
            click.option(
                "--drill/--no-drill",
                "drill",
                default=None,
                help="Restore each new backup into a throwaway project and compare"
                + ("." if update else " (default: no)."),
            ),
            click.option(
                "--webhook-url",
                default=None,
                help="http(s) URL failure events are posted to (public addresses only, "
                "unless the server allow-lists it).",
            ),
            click.option(
                "--webhook-secret",
                is_flag=False,
                flag_value=_ASK,
                default=None,
                help="HMAC key of the event signatures (16+ characters); asked for, "
                "hidden, when given without a value.",
            ),
            click.option(
                "--stale-after-hours",
                type=click.IntRange(0 if update else 1, 24 * 366),
                default=None,
                metavar="N",
                help="Notify when the newest completed backup is older than N hours "
                "(needs a webhook)" + ("; 0 stops it." if update else "."),
            ),
            click.option(
                "--enable/--disable",
                "enabled",
                default=None,
                help="A disabled policy never fires" + ("." if update else " (default: enabled)."),
            ),
        ]
        for option in reversed(options):
            fn = option(fn)
        return fn

    return decorate


def _secret(value: str | None) -> str | None:
    if value != _ASK:
        return value
    secret: str = click.prompt(
        "Webhook secret", hide_input=True, confirmation_prompt=True, err=True
    )
    return secret


def _retention_of(values: dict[str, int | None], *, clearable: bool) -> dict[str, int | None]:
    """The retention fields given (0 = null when ``clearable``)."""
    return {
        field: (None if clearable and value == 0 else value)
        for field, value in values.items()
        if field in _RETENTION_FIELDS and value is not None
    }


def _rules(rule: RetentionRule) -> str:
    given = [f"{field}={getattr(rule, field)}" for field in _RETENTION_FIELDS]
    used = [text for text in given if not text.endswith("=None")]
    return ", ".join(used) if used else "none (keeps every backup)"


def _yes_no(value: bool) -> str:
    return "yes" if value else "no"


def _describe_policy(policy: BackupPolicy) -> None:
    click.echo(f"Policy {policy.id}: {policy.name}")
    webhook = "-"
    if policy.webhook is not None:
        signed = "signed" if policy.webhook.has_secret else "unsigned"
        webhook = f"{policy.webhook.origin} ({signed})"
    stale = f"{policy.stale_after_hours} h" if policy.stale_after_hours else "-"
    fields = [
        ("project", str(policy.project_id)),
        ("schedule", f"{policy.schedule} ({policy.timezone})"),
        ("enabled", _yes_no(policy.enabled)),
        ("next run", _when(policy.next_run_at) if policy.enabled else "- (disabled)"),
        ("last run", _when(policy.last_run_at)),
        ("retention", _rules(policy.retention)),
        ("verify", _yes_no(policy.verify_after_backup)),
        ("drill", _yes_no(policy.restore_drill)),
        ("webhook", webhook),
        ("stale after", stale),
        ("created", _when(policy.created_at)),
    ]
    for label, value in fields:
        click.echo(f"  {label:<12}{value}")


def _get_policy(client: CloudBox, policy_id: str, project: int | None) -> BackupPolicy:
    found = client.backups.policies.get(policy_id)
    if project is not None and found.project_id != project:
        raise Failure(
            f"policy {policy_id} is not a policy of project {project}",
            EXIT_NOT_FOUND,
            code="POLICY_NOT_FOUND",
            status=404,
        )
    return found


def _policy_project_option(fn: F) -> F:
    return click.option(
        "--project",
        "project",
        type=click.IntRange(min=1),
        envvar="CLOUDBOX_PROJECT",
        show_envvar=True,
        default=None,
        help="Project id (checked against the policy's project).",
    )(fn)


@backup.group("policy", cls=ClientGroup, epilog=EXIT_CODES_HELP)
def backup_policy() -> None:
    """Automatic backups: a cron schedule, a retention rule, checks after each backup,
    failure webhooks (project admins). See docs/automatic-backups.md."""


@backup_policy.command("list", epilog=EXIT_CODES_HELP)
@project_option(required=True)
@click.option("--limit", type=click.IntRange(1, 1000), default=None, help="At most this many.")
@click.option("--offset", type=click.IntRange(min=0), default=None, help="Skip this many.")
@connection_options
@reports_errors
def policy_list(
    project: int,
    limit: int | None,
    offset: int | None,
    endpoint: str | None,
    api_key: str | None,
    as_json: bool,
) -> None:
    """List a project's backup policies."""
    with client_for(endpoint, api_key, project) as client:
        items = client.backups.policies.list(limit=limit, offset=offset)
    if as_json:
        emit_json(list(items))
        return
    if not items:
        click.echo(f"No backup policies in project {project}.")
        return
    _table(
        ["ID", "NAME", "SCHEDULE", "TIMEZONE", "ENABLED", "NEXT RUN", "RETENTION"],
        [
            [
                p.id,
                p.name,
                p.schedule,
                p.timezone,
                _yes_no(p.enabled),
                _when(p.next_run_at),
                _rules(p.retention),
            ]
            for p in items
        ],
    )
    if items.total is not None and items.total > len(items):
        click.echo(f"({len(items)} of {items.total}; use --limit/--offset for more)")


@backup_policy.command("create", epilog=EXIT_CODES_HELP)
@click.argument("name")
@project_option(required=True)
@_policy_options(update=False)
@connection_options
@reports_errors
def policy_create(
    name: str,
    project: int,
    schedule: str,
    timezone: str | None,
    verify: bool | None,
    drill: bool | None,
    webhook_url: str | None,
    webhook_secret: str | None,
    stale_after_hours: int | None,
    enabled: bool | None,
    endpoint: str | None,
    api_key: str | None,
    as_json: bool,
    **retention: int | None,
) -> None:
    """Create a backup policy NAME in a project.

    \b
    Example:
      cloudbox backup policy create nightly --project 1 --schedule '30 2 * * *' \\
        --timezone Europe/Berlin --keep-last 7 --keep-daily 14 --keep-monthly 12
    """
    secret = _secret(webhook_secret)
    with client_for(endpoint, api_key, project) as client:
        created = client.backups.policies.create(
            name,
            schedule,
            timezone=timezone,
            enabled=enabled,
            retention=_retention_of(retention, clearable=False),
            verify_after_backup=verify,
            restore_drill=drill,
            webhook_url=webhook_url,
            webhook_secret=secret,
            stale_after_hours=stale_after_hours,
        )
    if as_json:
        emit_json(created)
    else:
        _describe_policy(created)


@backup_policy.command("show", epilog=EXIT_CODES_HELP)
@click.argument("policy_id")
@_policy_project_option
@connection_options
@reports_errors
def policy_show(
    policy_id: str, project: int | None, endpoint: str | None, api_key: str | None, as_json: bool
) -> None:
    """Show a backup policy."""
    with client_for(endpoint, api_key, project) as client:
        found = _get_policy(client, policy_id, project)
    if as_json:
        emit_json(found)
    else:
        _describe_policy(found)


@backup_policy.command("update", epilog=EXIT_CODES_HELP)
@click.argument("policy_id")
@click.option("--name", default=None, help="New name.")
@_policy_options(update=True)
@click.option(
    "--remove-webhook",
    is_flag=True,
    help="Remove the webhook (and the stale-backup notification that needs it).",
)
@_policy_project_option
@connection_options
@reports_errors
def policy_update(
    policy_id: str,
    name: str | None,
    schedule: str | None,
    timezone: str | None,
    verify: bool | None,
    drill: bool | None,
    webhook_url: str | None,
    webhook_secret: str | None,
    stale_after_hours: int | None,
    enabled: bool | None,
    remove_webhook: bool,
    project: int | None,
    endpoint: str | None,
    api_key: str | None,
    as_json: bool,
    **retention: int | None,
) -> None:
    """Change a backup policy: only the options given (--keep-* 0 stops using a rule;
    --webhook-secret alone rotates the secret)."""
    if remove_webhook and (webhook_url is not None or webhook_secret is not None):
        raise Failure(
            "--remove-webhook cannot be combined with --webhook-url or --webhook-secret",
            EXIT_USAGE,
            code="USAGE_ERROR",
            as_json=as_json,
        )
    changes: dict[str, Any] = {
        name_: value
        for name_, value in {
            "name": name,
            "schedule": schedule,
            "timezone": timezone,
            "enabled": enabled,
            "verify_after_backup": verify,
            "restore_drill": drill,
            "webhook_url": webhook_url,
        }.items()
        if value is not None
    }
    rules = _retention_of(retention, clearable=True)
    if rules:
        changes["retention"] = rules
    if stale_after_hours is not None:
        changes["stale_after_hours"] = stale_after_hours or None
    if remove_webhook:
        changes["webhook_url"] = None
        changes.setdefault("stale_after_hours", None)
    secret = _secret(webhook_secret)
    if secret is not None:
        changes["webhook_secret"] = secret
    if not changes:
        raise Failure(
            "nothing to change: give at least one option (see --help)",
            EXIT_USAGE,
            code="USAGE_ERROR",
            as_json=as_json,
        )
    with client_for(endpoint, api_key, project) as client:
        if project is not None:
            _get_policy(client, policy_id, project)
        updated = client.backups.policies.update(policy_id, **changes)
    if as_json:
        emit_json(updated)
    else:
        _describe_policy(updated)


@backup_policy.command("delete", epilog=EXIT_CODES_HELP)
@click.argument("policy_id")
@click.option("-y", "--yes", is_flag=True, help="Do not ask for confirmation.")
@_policy_project_option
@connection_options
@reports_errors
def policy_delete(
    policy_id: str,
    yes: bool,
    project: int | None,
    endpoint: str | None,
    api_key: str | None,
    as_json: bool,
) -> None:
    """Delete a backup policy and its run history (its backups stay)."""
    with client_for(endpoint, api_key, project) as client:
        found = _get_policy(client, policy_id, project)
        if not yes:
            click.confirm(f"Delete backup policy {policy_id} ({found.name})?", abort=True, err=True)
        client.backups.policies.delete(policy_id)
    if as_json:
        emit_json({"id": policy_id, "deleted": True})
    else:
        click.echo(f"Deleted backup policy {policy_id} ({found.name}); its backups stay")


@backup_policy.command("runs", epilog=EXIT_CODES_HELP)
@click.argument("policy_id")
@click.option("--limit", type=click.IntRange(1, 1000), default=None, help="At most this many.")
@click.option("--offset", type=click.IntRange(min=0), default=None, help="Skip this many.")
@_policy_project_option
@connection_options
@reports_errors
def policy_runs(
    policy_id: str,
    limit: int | None,
    offset: int | None,
    project: int | None,
    endpoint: str | None,
    api_key: str | None,
    as_json: bool,
) -> None:
    """List the slots a policy fired, newest first: started, completed, skipped or
    failed, with the reason and the backup."""
    with client_for(endpoint, api_key, project) as client:
        if project is not None:
            _get_policy(client, policy_id, project)
        items = client.backups.policies.runs(policy_id, limit=limit, offset=offset)
    if as_json:
        emit_json(list(items))
        return
    if not items:
        click.echo(f"Policy {policy_id} has not run yet.")
        return
    _table(
        ["SLOT", "STATUS", "REASON", "BACKUP", "FINISHED"],
        [
            [
                _when(r.slot_time),
                r.status,
                r.reason or "-",
                str(r.backup_id) if r.backup_id is not None else "-",
                _when(r.finished_at),
            ]
            for r in items
        ],
    )
    if items.total is not None and items.total > len(items):
        click.echo(f"({len(items)} of {items.total}; use --limit/--offset for more)")


@backup_policy.command("dry-run", epilog=EXIT_CODES_HELP)
@click.argument("policy_id")
@_retention_options(clearable=False, preview=True)
@_policy_project_option
@connection_options
@reports_errors
def policy_dry_run(
    policy_id: str,
    project: int | None,
    endpoint: str | None,
    api_key: str | None,
    as_json: bool,
    **retention: int | None,
) -> None:
    """Show what the policy's retention would delete now (nothing is deleted)."""
    with client_for(endpoint, api_key, project) as client:
        if project is not None:
            _get_policy(client, policy_id, project)
        preview = client.backups.policies.retention_dry_run(
            policy_id, **_retention_of(retention, clearable=False)
        )
    if as_json:
        emit_json(preview)
        return
    click.echo(
        f"Retention of policy {policy_id} ({_rules(preview.retention)}) would delete "
        f"{len(preview.delete)} backup(s), {_size(preview.delete_bytes)}, "
        f"and keep {len(preview.keep)}"
    )
    rows = [
        [action, str(item.backup_id), item.name, _when(item.created_at), _size(item.size),
         "; ".join(item.reasons)]
        for action, items in (("DELETE", preview.delete), ("keep", preview.keep))
        for item in items
    ]  # fmt: skip
    if rows:
        _table(["ACTION", "ID", "NAME", "CREATED", "SIZE", "REASONS"], rows)


def _usage_lines(usage: BackupUsage) -> None:
    for kind, part in sorted(usage.by_type.items()):
        click.echo(f"  {kind:<16}{part.count:>6}  {_size(part.total_bytes)}")
    click.echo(f"  {'oldest':<16}{_when(usage.oldest)}")
    click.echo(f"  {'newest':<16}{_when(usage.newest)}")
    click.echo(f"  {'newest verified':<16}{_when(usage.newest_verified_at)}")


@backup.command("usage", epilog=EXIT_CODES_HELP)
@click.option(
    "--project",
    "project",
    type=click.IntRange(min=1),
    envvar="CLOUDBOX_PROJECT",
    show_envvar=True,
    default=None,
    help="Project id.",
)
@click.option(
    "--all",
    "all_projects",
    is_flag=True,
    help="Every project on the server (platform admins).",
)
@click.option(
    "--limit", type=click.IntRange(1, 1000), default=None, help="With --all: at most N projects."
)
@click.option("--offset", type=click.IntRange(min=0), default=None, help="With --all: skip N.")
@connection_options
@reports_errors
def backup_usage(
    project: int | None,
    all_projects: bool,
    limit: int | None,
    offset: int | None,
    endpoint: str | None,
    api_key: str | None,
    as_json: bool,
) -> None:
    """Show the storage a project's backups take (--project), or every project's
    (--all, platform admins). Only completed backups count."""
    if not all_projects and project is None:
        raise Failure(
            "give --project (or --all for every project)",
            EXIT_USAGE,
            code="USAGE_ERROR",
            as_json=as_json,
        )
    quota_text = "unlimited"
    with client_for(endpoint, api_key, project) as client:
        if not all_projects:
            usage = client.backups.usage()
            if as_json:
                emit_json(usage)
                return
            if usage.quota_bytes is not None:
                quota_text = _size(usage.quota_bytes)
            click.echo(
                f"Backups of project {project}: {usage.count}, {_size(usage.total_bytes)} "
                f"(quota: {quota_text})"
            )
            _usage_lines(usage)
            return
        server = client.backups.server_usage(limit=limit, offset=offset)
    if as_json:
        emit_json(server)
        return
    free = _size(server.storage_free_bytes) if server.storage_free_bytes is not None else "unknown"
    if server.quota_bytes is not None:
        quota_text = _size(server.quota_bytes)
    click.echo(
        f"Backups on the server: {server.count}, {_size(server.total_bytes)} in "
        f"{server.projects_total or 0} project(s); storage free: {free}; "
        f"quota per project: {quota_text}"
    )
    _usage_lines(server)
    if server.projects:
        _table(
            ["PROJECT", "NAME", "BACKUPS", "SIZE", "NEWEST"],
            [
                [str(p.project_id), p.project_name, str(p.count), _size(p.total_bytes),
                 _when(p.newest)]
                for p in server.projects
            ],
        )  # fmt: skip
    shown = len(server.projects)
    if server.projects_total is not None and server.projects_total > shown:
        click.echo(f"({shown} of {server.projects_total} projects; use --limit/--offset for more)")


# -- restores --------------------------------------------------------------------------------------


@click.group(cls=ClientGroup, epilog=EXIT_CODES_HELP)
def restores() -> None:
    """Follow, list and undo restores."""


@restores.command("list", epilog=EXIT_CODES_HELP)
@project_option(required=True)
@click.option("--limit", type=click.IntRange(1, 1000), default=None, help="At most this many.")
@connection_options
@reports_errors
def restores_list(
    project: int, limit: int | None, endpoint: str | None, api_key: str | None, as_json: bool
) -> None:
    """List the restores into a project, newest first."""
    with client_for(endpoint, api_key, project) as client:
        items = client.restores.list(limit=limit)
    if as_json:
        emit_json(list(items))
        return
    if not items:
        click.echo(f"No restores into project {project}.")
        return
    _table(
        ["ID", "BACKUP", "STATUS", "DRY RUN", "CREATED"],
        [
            [
                str(r.id),
                str(r.backup_id) if r.backup_id else "-",
                r.status,
                "yes" if r.dry_run else "no",
                _when(r.created_at),
            ]
            for r in items
        ],
    )


@restores.command("get", epilog=EXIT_CODES_HELP)
@click.argument("restore_id", type=click.IntRange(min=1))
@click.option("--wait", is_flag=True, help="Wait until it is done, with a progress bar.")
@connection_options
@reports_errors
def restores_get(
    restore_id: int, wait: bool, endpoint: str | None, api_key: str | None, as_json: bool
) -> None:
    """Show a restore (its plan, warnings and outcome)."""
    with client_for(endpoint, api_key) as client:
        found = client.restores.get(restore_id)
        if wait and not found.is_done:
            found = _wait_restore(client, found, as_json, None)
    _report_restore(found, as_json, fail_on_error=wait)


@restores.command("undo", epilog=EXIT_CODES_HELP)
@click.argument("restore_id", type=click.IntRange(min=1))
@click.option("--wait", is_flag=True, help="Wait until it is done, with a progress bar.")
@click.option("-y", "--yes", is_flag=True, help="Do not ask for confirmation.")
@connection_options
@reports_errors
def restores_undo(
    restore_id: int,
    wait: bool,
    yes: bool,
    endpoint: str | None,
    api_key: str | None,
    as_json: bool,
) -> None:
    """Put a project back as it was before a restore."""
    with client_for(endpoint, api_key) as client:
        if not yes:
            click.confirm(f"Undo restore {restore_id}?", abort=True, err=True)
        started = client.restores.undo(restore_id, wait=False)
        result = _wait_restore(client, started, as_json, None) if wait else started
    _report_restore(result, as_json)

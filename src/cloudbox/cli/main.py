"""`cloudbox serve`, `cloudbox db upgrade`, `cloudbox admin create-user`."""

from __future__ import annotations

import logging
import sys

import click

from cloudbox import __version__
from cloudbox.config import ConfigError, Settings


def _settings() -> Settings:
    try:
        settings = Settings()
        settings.master_key_bytes()  # refuse to start in production without MASTER_KEY
    except ConfigError as exc:
        raise click.ClickException(str(exc)) from exc
    return settings


def _migrate(settings: Settings) -> None:
    from cloudbox.db.migrate import upgrade_database

    settings.data_dir.mkdir(parents=True, exist_ok=True)
    upgrade_database(settings.resolved_database_url)


@click.group()
@click.version_option(__version__, prog_name="cloudbox")
def main() -> None:
    """CloudBox: a self-hosted backend-as-a-service with backups that never lose data."""
    logging.basicConfig(
        level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s"
    )


@main.command()
@click.option("--host", default=None, help="Bind address (default CLOUDBOX_HOST or 127.0.0.1)")
@click.option("--port", default=None, type=int, help="Port (default CLOUDBOX_PORT or 8080)")
@click.option(
    "--migrate/--no-migrate", default=True, show_default=True, help="Apply migrations first"
)
def serve(host: str | None, port: int | None, migrate: bool) -> None:
    """Run the API server."""
    import uvicorn

    from cloudbox.app import create_app
    from cloudbox.blobstore import BlobStoreError

    settings = _settings()
    if settings.embedded_worker is None:
        # A real server keeps jobs out of its own process unless told otherwise.
        settings = settings.model_copy(update={"embedded_worker": "process"})
    if migrate:
        _migrate(settings)
    try:
        app = create_app(settings)
    except BlobStoreError as exc:  # BACKUP_DIR or the data directory is not usable
        raise click.ClickException(f"storage is not usable: {exc}") from exc
    uvicorn.run(
        app,
        host=host or settings.host,
        port=port or settings.port,
        log_level="info",
        proxy_headers=bool(settings.trusted_proxies),
        forwarded_allow_ips=",".join(settings.trusted_proxies) or None,
    )


@main.command()
@click.option(
    "--workers", default=2, show_default=True, type=click.IntRange(1, 64), help="Worker threads"
)
@click.option(
    "--recovery/--no-recovery",
    default=True,
    show_default=True,
    help="Also fail interrupted jobs periodically (a supervising server already does)",
)
@click.option("--parent-pid", type=int, default=None, hidden=True)
def worker(workers: int, recovery: bool, parent_pid: int | None) -> None:
    """Run background jobs (backups, restores) from the queue: with CLOUDBOX_REDIS_URL,
    on any number of machines; in the embedded shape `cloudbox serve` starts one itself."""
    import threading

    from cloudbox.background import recover_jobs
    from cloudbox.blobstore import BlobStoreError
    from cloudbox.jobs.queue import die_with_parent, run_worker
    from cloudbox.runtime import Runtime

    if parent_pid is not None:
        # Started by `cloudbox serve`: die with it, and tag our lines in its shared log.
        die_with_parent(parent_pid)
        for handler in logging.getLogger().handlers:
            handler.setFormatter(
                logging.Formatter(
                    "%(asctime)s %(levelname)s worker[%(process)d] %(name)s: %(message)s"
                )
            )
    settings = _settings()
    try:
        runtime = Runtime.build(settings)
    except BlobStoreError as exc:
        raise click.ClickException(f"storage is not usable: {exc}") from exc
    stop = threading.Event()

    def recovery_loop() -> None:
        while not stop.wait(max(settings.recovery_interval_seconds, 1.0)):
            try:
                recover_jobs(runtime)
            except Exception:
                logging.getLogger(__name__).exception("job recovery failed")

    if recovery:
        recover_jobs(runtime)
        threading.Thread(target=recovery_loop, name="job-recovery", daemon=True).start()
    try:
        run_worker(runtime.queue, workers)
    finally:
        stop.set()
        runtime.close()


@main.group()
def db() -> None:
    """Database commands."""


@db.command("upgrade")
def db_upgrade() -> None:
    """Apply every pending migration."""
    settings = _settings()
    _migrate(settings)
    click.echo("database is up to date")


@main.group()
def admin() -> None:
    """Administration commands that work on the database directly."""


@admin.command("create-user")
@click.option("--email", required=True)
@click.option("--name", default="Administrator", show_default=True)
@click.option("--password", prompt=True, hide_input=True, confirmation_prompt=True)
@click.option("--platform-admin/--no-platform-admin", default=False, show_default=True)
def create_user(email: str, name: str, password: str, platform_admin: bool) -> None:
    """Create a platform user."""
    from pydantic import EmailStr, TypeAdapter, ValidationError

    from cloudbox.auth import service as auth
    from cloudbox.errors import AppError
    from cloudbox.runtime import Runtime

    try:
        TypeAdapter(EmailStr).validate_python(email)
    except ValidationError as exc:
        raise click.BadParameter("not a valid email address", param_hint="--email") from exc
    if len(password) < 8:
        raise click.BadParameter("must be at least 8 characters", param_hint="--password")
    settings = _settings()
    _migrate(settings)
    runtime = Runtime.build(settings)
    try:
        with runtime.db.transaction() as session:
            user = auth.create_user(
                session, email=email, password=password, name=name, platform_admin=platform_admin
            )
            user_id = user.id
    except AppError as exc:
        raise click.ClickException(exc.message) from exc
    finally:
        runtime.close()
    click.echo(f"created user {user_id} <{email.strip().lower()}>")


@main.command("gc")
@click.option(
    "--grace-seconds",
    type=click.IntRange(min=0),
    default=None,
    help="Keep unreferenced blobs younger than this (default CLOUDBOX_GC_GRACE_SECONDS, 86400)",
)
@click.option("--dry-run", is_flag=True, help="Only report what would be deleted")
def gc_command(grace_seconds: int | None, dry_run: bool) -> None:
    """Delete stored file contents that no file references any more."""
    from datetime import timedelta

    from cloudbox.files.gc import collect_garbage
    from cloudbox.runtime import Runtime

    settings = _settings()
    _migrate(settings)
    grace = settings.gc_grace_seconds if grace_seconds is None else grace_seconds
    runtime = Runtime.build(settings)
    try:
        report = collect_garbage(
            runtime.db.transaction, runtime.blobs, timedelta(seconds=grace), dry_run=dry_run
        )
    finally:
        runtime.close()
    click.echo(report.summary())
    if report.errors:
        raise click.ClickException(f"{report.errors} blob(s) could not be collected")


from cloudbox.cli.archive_cmds import archive  # noqa: E402
from cloudbox.cli.client import backup, login, logout, projects, restores  # noqa: E402

main.add_command(login)
main.add_command(logout)
main.add_command(projects)
main.add_command(backup)
main.add_command(restores)
main.add_command(archive)

if __name__ == "__main__":
    sys.exit(main())

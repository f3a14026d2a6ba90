"""The synchronous client, :class:`CloudBox`."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from datetime import datetime
from types import TracebackType
from typing import Any, Literal, TypeVar, overload

import httpx

from cloudbox_sdk import _calls as calls
from cloudbox_sdk._core import (
    CHUNK_SIZE,
    DEFAULT_ENDPOINT,
    DEFAULT_TIMEOUT,
    NO_READ_TIMEOUT,
    UNSET,
    Call,
    DownloadSink,
    PathOrFile,
    SSEDecoder,
    TransferCallback,
    UploadReader,
    UploadSource,
    clean,
    connection_failed,
    digest_of,
    file_part,
    filename_of,
    length_of,
    normalize_sha256,
    ref_id,
    wait_timeout,
)
from cloudbox_sdk._version import __version__
from cloudbox_sdk.errors import error_from_response
from cloudbox_sdk.models import (
    ApiKey,
    ApiKeyCreated,
    AppSession,
    AppUser,
    AuthSession,
    Backup,
    BackupEvent,
    BackupPolicy,
    BackupUsage,
    Bucket,
    Collection,
    Document,
    DownloadResult,
    Member,
    Page,
    PolicyRun,
    Project,
    Restore,
    RestoreResult,
    RetentionPreview,
    ServerBackupUsage,
    StoredFile,
    User,
    VerifyResult,
)

__all__ = ["CloudBox"]

T = TypeVar("T")
BackupRef = int | Backup
RestoreRef = int | Restore
PolicyRef = str | BackupPolicy
EVENTS_TIMEOUT = httpx.Timeout(DEFAULT_TIMEOUT, read=60.0)
#: the archive streams continuously; a read that stalls this long means trouble
DOWNLOAD_TIMEOUT = httpx.Timeout(DEFAULT_TIMEOUT, read=300.0)


class CloudBox:
    """Synchronous CloudBox client.

    ``CloudBox(endpoint="http://127.0.0.1:8080", project_id=1, api_key="cbk_...")`` or
    ``token="cbt_..."`` (a platform user's token, e.g. from :meth:`Auth.login`).
    ``project_id`` is the default project of project-scoped calls; every such call also
    takes ``project_id=`` to act on another one. Use as a context manager, or call
    :meth:`close`.
    """

    def __init__(
        self,
        endpoint: str = DEFAULT_ENDPOINT,
        project_id: int | None = None,
        *,
        api_key: str | None = None,
        token: str | None = None,
        timeout: float | httpx.Timeout = DEFAULT_TIMEOUT,
        headers: Mapping[str, str] | None = None,
        transport: httpx.BaseTransport | None = None,
        verify: bool = True,
    ) -> None:
        self.endpoint = endpoint.rstrip("/")
        self.project_id = project_id
        self.api_key = api_key
        self.token = token
        self._http = httpx.Client(
            base_url=self.endpoint,
            timeout=timeout,
            headers={"User-Agent": f"cloudbox-sdk-python/{__version__}", **(headers or {})},
            transport=transport,
            verify=verify,
        )
        self.auth = Auth(self)
        self.projects = Projects(self)
        self.members = Members(self)
        self.api_keys = ApiKeys(self)
        self.collections = Collections(self)
        self.documents = Documents(self)
        self.buckets = Buckets(self)
        self.files = Files(self)
        self.app_auth = AppAuth(self)
        self.backups = Backups(self)
        self.restores = Restores(self)

    # -- lifecycle --------------------------------------------------------------------------

    def close(self) -> None:
        self._http.close()

    def __enter__(self) -> CloudBox:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    def __repr__(self) -> str:
        return f"CloudBox(endpoint={self.endpoint!r}, project_id={self.project_id!r})"

    def health(self) -> dict[str, Any]:
        """``GET /api/health``: ``{"status": "ok", "version": ...}``."""
        return self._call(calls.health())

    # -- plumbing ---------------------------------------------------------------------------

    def _pid(self, project_id: int | None) -> int:
        pid = self.project_id if project_id is None else project_id
        if pid is None:
            raise ValueError("no project: pass project_id= here or to CloudBox(...)")
        return pid

    def _headers(self, extra: Mapping[str, str] | None = None) -> dict[str, str]:
        headers: dict[str, str] = {}
        if self.api_key:
            headers["X-API-Key"] = self.api_key
        elif self.token:
            headers["Authorization"] = f"Bearer {self.token}"
        if extra:
            headers.update(extra)
        return headers

    def _request(
        self,
        method: str,
        path: str,
        *,
        params: Mapping[str, Any] | None = None,
        json: Any = None,
        headers: Mapping[str, str] | None = None,
        timeout: httpx.Timeout | float | None = None,
        data: Mapping[str, Any] | None = None,
        files: Mapping[str, Any] | None = None,
    ) -> httpx.Response:
        try:
            response = self._http.request(
                method,
                path,
                params=params,
                json=json,
                data=data,
                files=files,
                headers=self._headers(headers),
                timeout=httpx.USE_CLIENT_DEFAULT if timeout is None else timeout,
            )
        except httpx.TransportError as exc:
            raise connection_failed(exc) from exc
        if response.is_error:
            raise error_from_response(response)
        return response

    def _call(self, call: Call[T]) -> T:
        response = self._request(
            call.method,
            call.path,
            params=call.params,
            json=call.json,
            headers=call.headers,
            timeout=call.timeout,
        )
        return call.parse(response)

    @contextmanager
    def _stream(
        self,
        method: str,
        path: str,
        *,
        headers: Mapping[str, str] | None = None,
        timeout: httpx.Timeout | float | None = None,
    ) -> Iterator[httpx.Response]:
        request = self._http.build_request(
            method,
            path,
            headers=self._headers(headers),
            timeout=httpx.USE_CLIENT_DEFAULT if timeout is None else timeout,
        )
        try:
            response = self._http.send(request, stream=True)
        except httpx.TransportError as exc:
            raise connection_failed(exc) from exc
        try:
            if response.is_error:
                body = response.read()
                raise error_from_response(response, body)
            yield response
        except httpx.TransportError as exc:
            raise connection_failed(exc) from exc
        finally:
            response.close()


class _Resource:
    def __init__(self, client: CloudBox) -> None:
        self._c = client


class Auth(_Resource):
    """Platform accounts. ``register`` and ``login`` keep the new token on the client."""

    def register(self, email: str, password: str, name: str) -> AuthSession:
        session = self._c._call(calls.auth_register(email, password, name))
        self._c.token = session.token
        return session

    def login(self, email: str, password: str) -> AuthSession:
        session = self._c._call(calls.auth_login(email, password))
        self._c.token = session.token
        return session

    def logout(self) -> None:
        """Revoke the client's token (and forget it)."""
        self._c._call(calls.auth_logout())
        self._c.token = None

    def me(self) -> User:
        return self._c._call(calls.auth_me())


class Projects(_Resource):
    def list(
        self, *, limit: int | None = None, offset: int | None = None, order_by: str | None = None
    ) -> Page[Project]:
        """The caller's projects."""
        return self._c._call(calls.projects_list(limit, offset, order_by))

    def create(self, name: str, description: str | None = None) -> Project:
        return self._c._call(calls.projects_create(name, description))

    def get(self, project_id: int | None = None) -> Project:
        return self._c._call(calls.projects_get(self._c._pid(project_id)))

    def update(
        self,
        project_id: int | None = None,
        *,
        name: str | None = None,
        description: str | None = None,
        settings: dict[str, Any] | None = None,
    ) -> Project:
        pid = self._c._pid(project_id)
        return self._c._call(calls.projects_update(pid, name, description, settings))

    def delete(self, project_id: int) -> None:
        """Delete a project and everything in it (owners only)."""
        self._c._call(calls.projects_delete(project_id))


class Members(_Resource):
    def list(self, *, project_id: int | None = None) -> Page[Member]:
        return self._c._call(calls.members_list(self._c._pid(project_id)))

    def add(self, email: str, role: str, *, project_id: int | None = None) -> Member:
        return self._c._call(calls.members_add(self._c._pid(project_id), email, role))

    def update(self, user_id: int, role: str, *, project_id: int | None = None) -> Member:
        return self._c._call(calls.members_update(self._c._pid(project_id), user_id, role))

    def remove(self, user_id: int, *, project_id: int | None = None) -> None:
        self._c._call(calls.members_remove(self._c._pid(project_id), user_id))


class ApiKeys(_Resource):
    def list(self, *, project_id: int | None = None) -> Page[ApiKey]:
        return self._c._call(calls.api_keys_list(self._c._pid(project_id)))

    def create(
        self,
        name: str,
        scopes: Sequence[str],
        *,
        expires_at: datetime | str | None = None,
        project_id: int | None = None,
    ) -> ApiKeyCreated:
        """A new key with scopes among ``read``, ``write``, ``admin``, ``backups``."""
        pid = self._c._pid(project_id)
        return self._c._call(calls.api_keys_create(pid, name, scopes, expires_at))

    def delete(self, key_id: str, *, project_id: int | None = None) -> None:
        self._c._call(calls.api_keys_delete(self._c._pid(project_id), key_id))


class Collections(_Resource):
    def list(
        self,
        *,
        limit: int | None = None,
        offset: int | None = None,
        order_by: str | None = None,
        project_id: int | None = None,
    ) -> Page[Collection]:
        pid = self._c._pid(project_id)
        return self._c._call(calls.collections_list(pid, limit, offset, order_by))

    def create(
        self,
        name: str,
        *,
        description: str | None = None,
        schema: dict[str, Any] | None = None,
        indexes: Sequence[str] | None = None,
        project_id: int | None = None,
    ) -> Collection:
        pid = self._c._pid(project_id)
        return self._c._call(calls.collections_create(pid, name, description, schema, indexes))

    def get(self, name: str, *, project_id: int | None = None) -> Collection:
        return self._c._call(calls.collections_get(self._c._pid(project_id), name))

    def update(
        self,
        name: str,
        *,
        new_name: str | None = None,
        description: str | None = None,
        schema: dict[str, Any] | None = UNSET,
        indexes: Sequence[str] | None = None,
        project_id: int | None = None,
    ) -> Collection:
        """Change the fields given; ``schema=None`` removes the schema."""
        pid = self._c._pid(project_id)
        call = calls.collections_update(pid, name, new_name, description, schema, indexes)
        return self._c._call(call)

    def delete(self, name: str, *, project_id: int | None = None) -> None:
        self._c._call(calls.collections_delete(self._c._pid(project_id), name))


class Documents(_Resource):
    def list(
        self,
        collection: str,
        *,
        filter: dict[str, Any] | None = None,
        limit: int | None = None,
        offset: int | None = None,
        order_by: str | None = None,
        project_id: int | None = None,
    ) -> Page[Document]:
        """Documents of a collection; ``filter`` is a JSON object of the query language."""
        pid = self._c._pid(project_id)
        call = calls.documents_list(pid, collection, filter, limit, offset, order_by)
        return self._c._call(call)

    def create(
        self,
        collection: str,
        data: dict[str, Any],
        *,
        id: str | None = None,
        project_id: int | None = None,
    ) -> Document:
        pid = self._c._pid(project_id)
        return self._c._call(calls.documents_create(pid, collection, data, id))

    def get(self, collection: str, doc_id: str, *, project_id: int | None = None) -> Document:
        pid = self._c._pid(project_id)
        return self._c._call(calls.documents_get(pid, collection, doc_id))

    def update(
        self,
        collection: str,
        doc_id: str,
        data: dict[str, Any],
        *,
        project_id: int | None = None,
    ) -> Document:
        """Apply ``data`` as a JSON merge patch (keys set to ``None`` are removed)."""
        pid = self._c._pid(project_id)
        return self._c._call(calls.documents_update(pid, collection, doc_id, data))

    def delete(self, collection: str, doc_id: str, *, project_id: int | None = None) -> None:
        pid = self._c._pid(project_id)
        self._c._call(calls.documents_delete(pid, collection, doc_id))


class Buckets(_Resource):
    def list(
        self,
        *,
        limit: int | None = None,
        offset: int | None = None,
        order_by: str | None = None,
        project_id: int | None = None,
    ) -> Page[Bucket]:
        pid = self._c._pid(project_id)
        return self._c._call(calls.buckets_list(pid, limit, offset, order_by))

    def create(
        self,
        name: str,
        *,
        description: str | None = None,
        is_public: bool | None = None,
        max_file_size: int | None = None,
        allowed_types: Sequence[str] | None = None,
        project_id: int | None = None,
    ) -> Bucket:
        pid = self._c._pid(project_id)
        call = calls.buckets_create(pid, name, description, is_public, max_file_size, allowed_types)
        return self._c._call(call)

    def get(self, name: str, *, project_id: int | None = None) -> Bucket:
        return self._c._call(calls.buckets_get(self._c._pid(project_id), name))

    def update(
        self,
        name: str,
        *,
        new_name: str | None = None,
        description: str | None = None,
        is_public: bool | None = None,
        max_file_size: int | None = None,
        allowed_types: Sequence[str] | None = None,
        project_id: int | None = None,
    ) -> Bucket:
        pid = self._c._pid(project_id)
        call = calls.buckets_update(
            pid, name, new_name, description, is_public, max_file_size, allowed_types
        )
        return self._c._call(call)

    def delete(self, name: str, *, force: bool = False, project_id: int | None = None) -> None:
        """Delete a bucket; ``force=True`` also deletes its files."""
        self._c._call(calls.buckets_delete(self._c._pid(project_id), name, force))


class Files(_Resource):
    def list(
        self,
        bucket: str,
        *,
        folder_path: str | None = None,
        limit: int | None = None,
        offset: int | None = None,
        order_by: str | None = None,
        project_id: int | None = None,
    ) -> Page[StoredFile]:
        pid = self._c._pid(project_id)
        call = calls.files_list(pid, bucket, folder_path, limit, offset, order_by)
        return self._c._call(call)

    def upload(
        self,
        bucket: str,
        source: bytes | PathOrFile,
        *,
        filename: str | None = None,
        folder_path: str | None = None,
        content_type: str | None = None,
        project_id: int | None = None,
    ) -> StoredFile:
        """Upload bytes, a path or a binary file object into a bucket."""
        path = calls.files_path(self._c._pid(project_id), bucket)
        part, handle = file_part(source, filename, content_type)
        try:
            response = self._c._request(
                "POST",
                path,
                data=clean(folder_path=folder_path),
                files={"file": part},
                timeout=NO_READ_TIMEOUT,
            )
        finally:
            if handle is not None:
                handle.close()
        return StoredFile.model_validate(response.json())

    def get(self, bucket: str, file_id: str, *, project_id: int | None = None) -> StoredFile:
        return self._c._call(calls.files_get(self._c._pid(project_id), bucket, file_id))

    def update(
        self,
        bucket: str,
        file_id: str,
        *,
        name: str | None = None,
        folder_path: str | None = None,
        project_id: int | None = None,
    ) -> StoredFile:
        """Rename and/or move a file."""
        pid = self._c._pid(project_id)
        return self._c._call(calls.files_update(pid, bucket, file_id, name, folder_path))

    def delete(self, bucket: str, file_id: str, *, project_id: int | None = None) -> None:
        self._c._call(calls.files_delete(self._c._pid(project_id), bucket, file_id))

    def download(self, bucket: str, file_id: str, *, project_id: int | None = None) -> bytes:
        """The file's content."""
        path = calls.files_content(self._c._pid(project_id), bucket, file_id)
        return self._c._request("GET", path, timeout=NO_READ_TIMEOUT).content


class AppAuth(_Resource):
    """A project's own end users: sign-up, sign-in, the current user, sign-out.
    Their tokens (``cbu_...``) are returned, not kept on the client."""

    def register(
        self,
        email: str,
        password: str,
        *,
        name: str | None = None,
        username: str | None = None,
        project_id: int | None = None,
    ) -> AppSession:
        pid = self._c._pid(project_id)
        return self._c._call(calls.app_register(pid, email, password, name, username))

    def login(self, email: str, password: str, *, project_id: int | None = None) -> AppSession:
        return self._c._call(calls.app_login(self._c._pid(project_id), email, password))

    def me(self, token: str, *, project_id: int | None = None) -> AppUser:
        return self._c._call(calls.app_me(self._c._pid(project_id), token))

    def logout(self, token: str, *, project_id: int | None = None) -> None:
        self._c._call(calls.app_logout(self._c._pid(project_id), token))


class BackupPolicies(_Resource):
    """A project's backup policies (``client.backups.policies``): schedules, retention,
    checks and failure webhooks (project admins, or API keys with the ``backups``
    scope)."""

    def list(
        self,
        *,
        limit: int | None = None,
        offset: int | None = None,
        order_by: str | None = None,
        project_id: int | None = None,
    ) -> Page[BackupPolicy]:
        """The project's policies (oldest first; ``order_by``: ``created_at``, ``name``,
        ``next_run_at``, ``-`` for descending)."""
        pid = self._c._pid(project_id)
        return self._c._call(calls.policies_list(pid, limit, offset, order_by))

    def create(
        self,
        name: str,
        schedule: str,
        *,
        timezone: str | None = None,
        enabled: bool | None = None,
        retention: calls.RetentionInput | None = None,
        verify_after_backup: bool | None = None,
        restore_drill: bool | None = None,
        webhook_url: str | None = None,
        webhook_secret: str | None = None,
        stale_after_hours: int | None = None,
        project_id: int | None = None,
    ) -> BackupPolicy:
        """A new policy: ``schedule`` is a 5-field cron expression read on the wall clock
        of ``timezone`` (default UTC); ``retention`` a :class:`RetentionRule` or a
        mapping of ``keep_last``, ``keep_daily``, ``keep_weekly``, ``keep_monthly``,
        ``max_age_days``. Arguments left ``None`` take the server's defaults."""
        pid = self._c._pid(project_id)
        body = calls.policy_body(
            {
                "name": name,
                "schedule": schedule,
                "timezone": timezone,
                "enabled": enabled,
                "retention": retention,
                "verify_after_backup": verify_after_backup,
                "restore_drill": restore_drill,
                "webhook_url": webhook_url,
                "webhook_secret": webhook_secret,
                "stale_after_hours": stale_after_hours,
            },
            drop_none=True,
        )
        return self._c._call(calls.policies_create(pid, body))

    def get(self, policy_id: PolicyRef) -> BackupPolicy:
        return self._c._call(calls.policies_get(calls.policy_ref(policy_id)))

    def update(
        self,
        policy_id: PolicyRef,
        *,
        name: str = UNSET,
        schedule: str = UNSET,
        timezone: str = UNSET,
        enabled: bool = UNSET,
        retention: calls.RetentionInput = UNSET,
        verify_after_backup: bool = UNSET,
        restore_drill: bool = UNSET,
        webhook_url: str | None = UNSET,
        webhook_secret: str = UNSET,
        stale_after_hours: int | None = UNSET,
    ) -> BackupPolicy:
        """Change the fields given, only those. ``retention`` changes only the rules it
        names (``{"keep_daily": None}`` stops using one); ``webhook_url=None`` removes
        the webhook (clear ``stale_after_hours`` with it); ``webhook_secret`` alone
        rotates the secret."""
        body = calls.policy_body(
            {
                "name": name,
                "schedule": schedule,
                "timezone": timezone,
                "enabled": enabled,
                "retention": retention,
                "verify_after_backup": verify_after_backup,
                "restore_drill": restore_drill,
                "webhook_url": webhook_url,
                "webhook_secret": webhook_secret,
                "stale_after_hours": stale_after_hours,
            },
            drop_none=False,
        )
        return self._c._call(calls.policies_update(calls.policy_ref(policy_id), body))

    def delete(self, policy_id: PolicyRef) -> None:
        """Delete the policy and its run history; its backups stay."""
        self._c._call(calls.policies_delete(calls.policy_ref(policy_id)))

    def runs(
        self,
        policy_id: PolicyRef,
        *,
        limit: int | None = None,
        offset: int | None = None,
        order_by: str | None = None,
    ) -> Page[PolicyRun]:
        """The policy's fired slots, newest first (``order_by``: ``slot_time``,
        ``created_at``)."""
        call = calls.policies_runs(calls.policy_ref(policy_id), limit, offset, order_by)
        return self._c._call(call)

    def retention_dry_run(
        self,
        policy_id: PolicyRef,
        *,
        keep_last: int | None = None,
        keep_daily: int | None = None,
        keep_weekly: int | None = None,
        keep_monthly: int | None = None,
        max_age_days: int | None = None,
    ) -> RetentionPreview:
        """What retention would delete now, deleting nothing; the values given replace
        the policy's saved ones for this preview only."""
        overrides = {
            "keep_last": keep_last,
            "keep_daily": keep_daily,
            "keep_weekly": keep_weekly,
            "keep_monthly": keep_monthly,
            "max_age_days": max_age_days,
        }
        call = calls.policies_retention_dry_run(calls.policy_ref(policy_id), overrides)
        return self._c._call(call)


class Backups(_Resource):
    """Backups of a project (the spec's ``cloudbox.backups``); ``policies`` are its
    automatic backups."""

    def __init__(self, client: CloudBox) -> None:
        super().__init__(client)
        self.policies = BackupPolicies(client)

    def usage(self, *, project_id: int | None = None) -> BackupUsage:
        """The project's backup storage: completed backups, their bytes (per type),
        oldest, newest, newest verified, and the quota (``None`` when unlimited)."""
        return self._c._call(calls.backups_usage(self._c._pid(project_id)))

    def server_usage(
        self,
        *,
        limit: int | None = None,
        offset: int | None = None,
        order_by: str | None = None,
    ) -> ServerBackupUsage:
        """Every project's backup storage (platform admins only): the server's totals
        and a page of ``projects``, biggest first (``order_by``: ``total_bytes``,
        ``count``, ``newest``, ``project_id``)."""
        return self._c._call(calls.backups_server_usage(limit, offset, order_by))

    def create(
        self,
        name: str,
        description: str = "",
        type: Literal["manual", "automatic"] = "manual",
        *,
        project_id: int | None = None,
    ) -> Backup:
        """Start a backup; it is returned at once with ``status == "creating"``."""
        pid = self._c._pid(project_id)
        return self._c._call(calls.backups_create(pid, name, description, type))

    def list(
        self,
        *,
        limit: int | None = None,
        offset: int | None = None,
        order_by: str | None = None,
        project_id: int | None = None,
    ) -> Page[Backup]:
        """The project's backups, newest first (``.total`` is the full count)."""
        pid = self._c._pid(project_id)
        return self._c._call(calls.backups_list(pid, limit, offset, order_by))

    def get(self, backup_id: BackupRef) -> Backup:
        return self._c._call(calls.backups_get(ref_id(backup_id)))

    def delete(self, backup_id: BackupRef) -> None:
        self._c._call(calls.backups_delete(ref_id(backup_id)))

    def cancel(self, backup_id: BackupRef) -> Backup:
        """Ask a running backup to stop; it ends ``failed`` with ``BACKUP_CANCELLED``."""
        return self._c._call(calls.backups_cancel(ref_id(backup_id)))

    def verify(self, backup_id: BackupRef) -> VerifyResult:
        """Re-check the stored archive (every checksum and safety rule) on the server."""
        return self._c._call(calls.backups_verify(ref_id(backup_id)))

    def wait_for_completion(
        self,
        backup_id: BackupRef,
        *,
        on_progress: Callable[[Backup], None] | None = None,
        interval: float = 0.5,
        timeout: float | None = None,
    ) -> Backup:
        """Poll until the backup is ``completed`` or ``failed`` and return it (a failed
        backup is returned, not raised: look at ``.status`` and ``.error``).
        ``on_progress`` gets every polled backup; :class:`WaitTimeout` after ``timeout``."""
        bid = ref_id(backup_id)
        deadline = None if timeout is None else time.monotonic() + timeout
        while True:
            backup = self.get(bid)
            if on_progress is not None:
                on_progress(backup)
            if backup.is_done:
                return backup
            delay = interval
            if deadline is not None:
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    raise wait_timeout("backup", bid, backup.status, timeout)
                delay = min(delay, remaining)
            time.sleep(delay)

    def events(self, backup_id: BackupRef) -> Iterator[BackupEvent]:
        """Server-sent events: ``progress`` events while the backup is created, then one
        ``status`` event with the final backup; then the iterator ends."""
        path = f"/api/backups/{ref_id(backup_id)}/events"
        headers = {"Accept": "text/event-stream"}
        with self._c._stream("GET", path, headers=headers, timeout=EVENTS_TIMEOUT) as response:
            decoder = SSEDecoder()
            for line in response.iter_lines():
                event = decoder.feed(line)
                if event is not None:
                    yield event

    def download(
        self,
        backup_id: BackupRef,
        dest: PathOrFile,
        *,
        on_progress: TransferCallback | None = None,
        verify: bool = True,
    ) -> DownloadResult:
        """Stream the archive to ``dest``: a file path, a directory (the server's file
        name is used) or a binary file object. A path is written to a temporary file
        and renamed into place only once the size and SHA-256 match what the server
        announced (:class:`ChecksumMismatch` otherwise)."""
        bid = ref_id(backup_id)
        path = f"/api/backups/{bid}/download"
        with self._c._stream("GET", path, timeout=DOWNLOAD_TIMEOUT) as response:
            total = length_of(response)
            filename = filename_of(response)
            sink = DownloadSink(dest, filename, f"backup-{bid}.tar.gz")
            try:
                if on_progress is not None:
                    on_progress(0, total)
                for chunk in response.iter_bytes(CHUNK_SIZE):
                    sink.write(chunk)
                    if on_progress is not None:
                        on_progress(sink.size, total)
            except BaseException:
                sink.abort()
                raise
            expected = digest_of(response) if verify else None
            sink.commit(expected, total if verify else None)
        return DownloadResult(path=sink.path, size=sink.size, sha256=sink.sha256, filename=filename)

    def import_archive(
        self,
        source: PathOrFile,
        *,
        name: str | None = None,
        description: str | None = None,
        sha256: str | None = None,
        on_progress: TransferCallback | None = None,
        compute_sha256: bool = True,
        project_id: int | None = None,
    ) -> Backup:
        """Upload an archive (a path or a binary file object) as a new, completed backup
        of the project. The server verifies it completely first: a bad archive raises
        :class:`InvalidArchive` and leaves nothing behind. ``sha256`` (hex, optionally
        ``sha256:``-prefixed) is computed from the file when not given, so corruption
        in transit is caught too."""
        path = calls.backups_import_path(self._c._pid(project_id))
        upload = UploadSource.open(source, normalize_sha256(sha256), compute_sha256)
        try:
            reader = UploadReader(upload.file, upload.size, on_progress)
            data = clean(name=name, description=description, sha256=upload.sha256)
            files = {"file": (upload.filename, reader, "application/gzip")}
            response = self._c._request(
                "POST", path, data=data, files=files, timeout=NO_READ_TIMEOUT
            )
        finally:
            upload.close()
        return Backup.model_validate(response.json())

    import_ = import_archive

    @overload
    def restore(
        self,
        backup_id: BackupRef,
        *,
        target_project_id: int | None = ...,
        wait: Literal[True] = ...,
        dry_run: bool | None = ...,
        sections: Sequence[str] | None = ...,
        pre_restore_backup: bool | None = ...,
        keep_credentials_active: bool | None = ...,
    ) -> RestoreResult: ...

    @overload
    def restore(
        self,
        backup_id: BackupRef,
        *,
        target_project_id: int | None = ...,
        wait: Literal[False],
        dry_run: bool | None = ...,
        sections: Sequence[str] | None = ...,
        pre_restore_backup: bool | None = ...,
        keep_credentials_active: bool | None = ...,
    ) -> Restore: ...

    def restore(
        self,
        backup_id: BackupRef,
        *,
        target_project_id: int | None = None,
        wait: bool = True,
        dry_run: bool | None = None,
        sections: Sequence[str] | None = None,
        pre_restore_backup: bool | None = None,
        keep_credentials_active: bool | None = None,
    ) -> RestoreResult | Restore:
        """Restore a backup into its project, or into ``target_project_id``.

        With ``wait=True`` (the default) the call returns when the restore is done:
        ``RestoreResult(message, target_project_id, restore)``; a failure raises
        (``RestoreFailed``, ``InvalidArchive``, ...). With ``wait=False`` it returns
        the pending :class:`Restore` at once (see ``restores.wait_for_completion``)."""
        body = calls.restore_body(
            target_project_id, wait, dry_run, sections, pre_restore_backup, keep_credentials_active
        )
        if wait:
            return self._c._call(calls.backups_restore_wait(ref_id(backup_id), body))
        return self._c._call(calls.backups_restore_start(ref_id(backup_id), body))


class Restores(_Resource):
    def get(self, restore_id: RestoreRef) -> Restore:
        return self._c._call(calls.restores_get(ref_id(restore_id)))

    def list(
        self,
        *,
        limit: int | None = None,
        offset: int | None = None,
        order_by: str | None = None,
        project_id: int | None = None,
    ) -> Page[Restore]:
        """Restores into the project, newest first."""
        pid = self._c._pid(project_id)
        return self._c._call(calls.restores_list(pid, limit, offset, order_by))

    @overload
    def undo(self, restore_id: RestoreRef, *, wait: Literal[True] = ...) -> RestoreResult: ...

    @overload
    def undo(self, restore_id: RestoreRef, *, wait: Literal[False]) -> Restore: ...

    def undo(self, restore_id: RestoreRef, *, wait: bool = True) -> RestoreResult | Restore:
        """Put the project back as it was before a completed restore (from the
        restore's pre-restore backup)."""
        if wait:
            return self._c._call(calls.restores_undo_wait(ref_id(restore_id)))
        return self._c._call(calls.restores_undo_start(ref_id(restore_id)))

    def wait_for_completion(
        self,
        restore_id: RestoreRef,
        *,
        on_progress: Callable[[Restore], None] | None = None,
        interval: float = 0.5,
        timeout: float | None = None,
    ) -> Restore:
        """Poll until the restore is ``completed`` or ``failed`` and return it."""
        rid = ref_id(restore_id)
        deadline = None if timeout is None else time.monotonic() + timeout
        while True:
            restore = self.get(rid)
            if on_progress is not None:
                on_progress(restore)
            if restore.is_done:
                return restore
            delay = interval
            if deadline is not None:
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    raise wait_timeout("restore", rid, restore.status, timeout)
                delay = min(delay, remaining)
            time.sleep(delay)

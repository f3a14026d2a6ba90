"""Every plain request/response endpoint, described once for both clients."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any

import httpx

from cloudbox_sdk._core import (
    NO_READ_TIMEOUT,
    UNSET,
    Call,
    clean,
    model,
    nothing,
    page,
    paging,
    raw_json,
    seg,
)
from cloudbox_sdk.models import (
    ApiKey,
    ApiKeyCreated,
    AppSession,
    AppUser,
    AuthSession,
    Backup,
    BackupPolicy,
    BackupUsage,
    Bucket,
    Collection,
    Document,
    Member,
    Page,
    PolicyRun,
    Project,
    Restore,
    RestoreResult,
    RetentionPreview,
    RetentionRule,
    ServerBackupUsage,
    StoredFile,
    User,
    VerifyResult,
)


def health() -> Call[dict[str, Any]]:
    return Call("GET", "/api/health", raw_json)


# -- platform auth ---------------------------------------------------------------------------


def auth_register(email: str, password: str, name: str) -> Call[AuthSession]:
    body = {"email": email, "password": password, "name": name}
    return Call("POST", "/api/auth/register", model(AuthSession), json=body)


def auth_login(email: str, password: str) -> Call[AuthSession]:
    body = {"email": email, "password": password}
    return Call("POST", "/api/auth/login", model(AuthSession), json=body)


def auth_logout() -> Call[None]:
    return Call("POST", "/api/auth/logout", nothing)


def auth_me() -> Call[User]:
    return Call("GET", "/api/auth/me", model(User))


# -- projects, members, API keys ----------------------------------------------------------------


def projects_list(
    limit: int | None, offset: int | None, order_by: str | None
) -> Call[Page[Project]]:
    return Call("GET", "/api/projects", page(Project), params=paging(limit, offset, order_by))


def projects_create(name: str, description: str | None) -> Call[Project]:
    body = clean(name=name, description=description)
    return Call("POST", "/api/projects", model(Project), json=body)


def projects_get(project_id: int) -> Call[Project]:
    return Call("GET", f"/api/projects/{seg(project_id)}", model(Project))


def projects_update(
    project_id: int, name: str | None, description: str | None, settings: dict[str, Any] | None
) -> Call[Project]:
    body = clean(name=name, description=description, settings=settings)
    return Call("PATCH", f"/api/projects/{seg(project_id)}", model(Project), json=body)


def projects_delete(project_id: int) -> Call[None]:
    return Call("DELETE", f"/api/projects/{seg(project_id)}", nothing)


def members_list(project_id: int) -> Call[Page[Member]]:
    return Call("GET", f"/api/projects/{seg(project_id)}/members", page(Member))


def members_add(project_id: int, email: str, role: str) -> Call[Member]:
    path = f"/api/projects/{seg(project_id)}/members"
    return Call("POST", path, model(Member), json={"email": email, "role": role})


def members_update(project_id: int, user_id: int, role: str) -> Call[Member]:
    path = f"/api/projects/{seg(project_id)}/members/{seg(user_id)}"
    return Call("PATCH", path, model(Member), json={"role": role})


def members_remove(project_id: int, user_id: int) -> Call[None]:
    return Call("DELETE", f"/api/projects/{seg(project_id)}/members/{seg(user_id)}", nothing)


def api_keys_list(project_id: int) -> Call[Page[ApiKey]]:
    return Call("GET", f"/api/projects/{seg(project_id)}/api-keys", page(ApiKey))


def api_keys_create(
    project_id: int, name: str, scopes: Sequence[str], expires_at: datetime | str | None
) -> Call[ApiKeyCreated]:
    body: dict[str, Any] = {"name": name, "scopes": list(scopes)}
    if expires_at is not None:
        body["expires_at"] = (
            expires_at.isoformat() if isinstance(expires_at, datetime) else expires_at
        )
    path = f"/api/projects/{seg(project_id)}/api-keys"
    return Call("POST", path, model(ApiKeyCreated), json=body)


def api_keys_delete(project_id: int, key_id: str) -> Call[None]:
    return Call("DELETE", f"/api/projects/{seg(project_id)}/api-keys/{seg(key_id)}", nothing)


# -- collections and documents -------------------------------------------------------------------


def _collections(project_id: int) -> str:
    return f"/api/projects/{seg(project_id)}/collections"


def collections_list(
    project_id: int, limit: int | None, offset: int | None, order_by: str | None
) -> Call[Page[Collection]]:
    params = paging(limit, offset, order_by)
    return Call("GET", _collections(project_id), page(Collection), params=params)


def collections_create(
    project_id: int,
    name: str,
    description: str | None,
    schema: dict[str, Any] | None,
    indexes: Sequence[str] | None,
) -> Call[Collection]:
    body = clean(
        name=name,
        description=description,
        schema=schema,
        indexes=list(indexes) if indexes is not None else None,
    )
    return Call("POST", _collections(project_id), model(Collection), json=body)


def collections_get(project_id: int, name: str) -> Call[Collection]:
    return Call("GET", f"{_collections(project_id)}/{seg(name)}", model(Collection))


def collections_update(
    project_id: int,
    name: str,
    new_name: str | None,
    description: str | None,
    schema: Any,
    indexes: Sequence[str] | None,
) -> Call[Collection]:
    body = clean(
        name=new_name,
        description=description,
        indexes=list(indexes) if indexes is not None else None,
    )
    if schema is not UNSET:
        body["schema"] = schema
    path = f"{_collections(project_id)}/{seg(name)}"
    return Call("PATCH", path, model(Collection), json=body)


def collections_delete(project_id: int, name: str) -> Call[None]:
    return Call("DELETE", f"{_collections(project_id)}/{seg(name)}", nothing)


def _documents(project_id: int, collection: str) -> str:
    return f"{_collections(project_id)}/{seg(collection)}/documents"


def documents_list(
    project_id: int,
    collection: str,
    filter: dict[str, Any] | None,
    limit: int | None,
    offset: int | None,
    order_by: str | None,
) -> Call[Page[Document]]:
    import json

    params = paging(limit, offset, order_by)
    if filter is not None:
        params["filter"] = json.dumps(filter, separators=(",", ":"))
    return Call("GET", _documents(project_id, collection), page(Document), params=params)


def documents_create(
    project_id: int, collection: str, data: dict[str, Any], doc_id: str | None
) -> Call[Document]:
    body = clean(id=doc_id, data=data)
    return Call("POST", _documents(project_id, collection), model(Document), json=body)


def documents_get(project_id: int, collection: str, doc_id: str) -> Call[Document]:
    path = f"{_documents(project_id, collection)}/{seg(doc_id)}"
    return Call("GET", path, model(Document))


def documents_update(
    project_id: int, collection: str, doc_id: str, data: dict[str, Any]
) -> Call[Document]:
    path = f"{_documents(project_id, collection)}/{seg(doc_id)}"
    return Call("PATCH", path, model(Document), json={"data": data})


def documents_delete(project_id: int, collection: str, doc_id: str) -> Call[None]:
    return Call("DELETE", f"{_documents(project_id, collection)}/{seg(doc_id)}", nothing)


# -- buckets and files -----------------------------------------------------------------------


def _buckets(project_id: int) -> str:
    return f"/api/projects/{seg(project_id)}/buckets"


def buckets_list(
    project_id: int, limit: int | None, offset: int | None, order_by: str | None
) -> Call[Page[Bucket]]:
    params = paging(limit, offset, order_by)
    return Call("GET", _buckets(project_id), page(Bucket), params=params)


def buckets_create(
    project_id: int,
    name: str,
    description: str | None,
    is_public: bool | None,
    max_file_size: int | None,
    allowed_types: Sequence[str] | None,
) -> Call[Bucket]:
    body = clean(
        name=name,
        description=description,
        is_public=is_public,
        max_file_size=max_file_size,
        allowed_types=list(allowed_types) if allowed_types is not None else None,
    )
    return Call("POST", _buckets(project_id), model(Bucket), json=body)


def buckets_get(project_id: int, name: str) -> Call[Bucket]:
    return Call("GET", f"{_buckets(project_id)}/{seg(name)}", model(Bucket))


def buckets_update(
    project_id: int,
    name: str,
    new_name: str | None,
    description: str | None,
    is_public: bool | None,
    max_file_size: int | None,
    allowed_types: Sequence[str] | None,
) -> Call[Bucket]:
    body = clean(
        name=new_name,
        description=description,
        is_public=is_public,
        max_file_size=max_file_size,
        allowed_types=list(allowed_types) if allowed_types is not None else None,
    )
    return Call("PATCH", f"{_buckets(project_id)}/{seg(name)}", model(Bucket), json=body)


def buckets_delete(project_id: int, name: str, force: bool) -> Call[None]:
    params = {"force": "true"} if force else None
    return Call("DELETE", f"{_buckets(project_id)}/{seg(name)}", nothing, params=params)


def _files(project_id: int, bucket: str) -> str:
    return f"{_buckets(project_id)}/{seg(bucket)}/files"


def files_list(
    project_id: int,
    bucket: str,
    folder_path: str | None,
    limit: int | None,
    offset: int | None,
    order_by: str | None,
) -> Call[Page[StoredFile]]:
    params = paging(limit, offset, order_by)
    if folder_path is not None:
        params["folder_path"] = folder_path
    return Call("GET", _files(project_id, bucket), page(StoredFile), params=params)


def files_path(project_id: int, bucket: str) -> str:
    return _files(project_id, bucket)


def files_get(project_id: int, bucket: str, file_id: str) -> Call[StoredFile]:
    return Call("GET", f"{_files(project_id, bucket)}/{seg(file_id)}", model(StoredFile))


def files_update(
    project_id: int, bucket: str, file_id: str, name: str | None, folder_path: str | None
) -> Call[StoredFile]:
    body = clean(name=name, folder_path=folder_path)
    path = f"{_files(project_id, bucket)}/{seg(file_id)}"
    return Call("PATCH", path, model(StoredFile), json=body)


def files_delete(project_id: int, bucket: str, file_id: str) -> Call[None]:
    return Call("DELETE", f"{_files(project_id, bucket)}/{seg(file_id)}", nothing)


def files_content(project_id: int, bucket: str, file_id: str) -> str:
    return f"{_files(project_id, bucket)}/{seg(file_id)}/content"


# -- app users (a project's end users) ------------------------------------------------------------


def app_register(
    project_id: int, email: str, password: str, name: str | None, username: str | None
) -> Call[AppSession]:
    body = clean(email=email, password=password, name=name, username=username)
    path = f"/api/projects/{seg(project_id)}/auth/register"
    return Call("POST", path, model(AppSession), json=body)


def app_login(project_id: int, email: str, password: str) -> Call[AppSession]:
    path = f"/api/projects/{seg(project_id)}/auth/login"
    return Call("POST", path, model(AppSession), json={"email": email, "password": password})


def app_me(project_id: int, token: str) -> Call[AppUser]:
    path = f"/api/projects/{seg(project_id)}/auth/me"
    return Call("GET", path, model(AppUser), headers={"Authorization": f"Bearer {token}"})


def app_logout(project_id: int, token: str) -> Call[None]:
    path = f"/api/projects/{seg(project_id)}/auth/logout"
    return Call("POST", path, nothing, headers={"Authorization": f"Bearer {token}"})


# -- backups ------------------------------------------------------------------------------------


def backups_create(project_id: int, name: str, description: str, type: str) -> Call[Backup]:
    body = {"name": name, "description": description, "type": type}
    return Call("POST", f"/api/projects/{seg(project_id)}/backups", model(Backup), json=body)


def backups_list(
    project_id: int, limit: int | None, offset: int | None, order_by: str | None
) -> Call[Page[Backup]]:
    path = f"/api/projects/{seg(project_id)}/backups"
    return Call("GET", path, page(Backup), params=paging(limit, offset, order_by))


def backups_get(backup_id: int) -> Call[Backup]:
    return Call("GET", f"/api/backups/{seg(backup_id)}", model(Backup))


def backups_delete(backup_id: int) -> Call[None]:
    return Call("DELETE", f"/api/backups/{seg(backup_id)}", nothing)


def backups_cancel(backup_id: int) -> Call[Backup]:
    return Call("POST", f"/api/backups/{seg(backup_id)}/cancel", model(Backup))


def backups_verify(backup_id: int) -> Call[VerifyResult]:
    return Call(
        "POST",
        f"/api/backups/{seg(backup_id)}/verify",
        model(VerifyResult),
        timeout=NO_READ_TIMEOUT,
    )


def backups_import_path(project_id: int) -> str:
    return f"/api/projects/{seg(project_id)}/backups/import"


def restore_body(
    target_project_id: int | None,
    wait: bool,
    dry_run: bool | None,
    sections: Sequence[str] | None,
    pre_restore_backup: bool | None,
    keep_credentials_active: bool | None,
) -> dict[str, Any]:
    body = clean(
        target_project_id=target_project_id,
        dry_run=dry_run,
        sections=list(sections) if sections is not None else None,
        pre_restore_backup=pre_restore_backup,
        keep_credentials_active=keep_credentials_active,
    )
    if not wait:
        body["wait"] = False
    return body


def backups_restore_wait(backup_id: int, body: dict[str, Any]) -> Call[RestoreResult]:
    path = f"/api/backups/{seg(backup_id)}/restore"
    return Call("POST", path, model(RestoreResult), json=body, timeout=NO_READ_TIMEOUT)


def backups_restore_start(backup_id: int, body: dict[str, Any]) -> Call[Restore]:
    path = f"/api/backups/{seg(backup_id)}/restore"
    return Call("POST", path, model(Restore), json={**body, "wait": False})


# -- restores -----------------------------------------------------------------------------------


def restores_get(restore_id: int) -> Call[Restore]:
    return Call("GET", f"/api/restores/{seg(restore_id)}", model(Restore))


def restores_list(
    project_id: int, limit: int | None, offset: int | None, order_by: str | None
) -> Call[Page[Restore]]:
    path = f"/api/projects/{seg(project_id)}/restores"
    return Call("GET", path, page(Restore), params=paging(limit, offset, order_by))


def restores_undo_wait(restore_id: int) -> Call[RestoreResult]:
    path = f"/api/restores/{seg(restore_id)}/undo"
    return Call("POST", path, model(RestoreResult), timeout=NO_READ_TIMEOUT)


def restores_undo_start(restore_id: int) -> Call[Restore]:
    path = f"/api/restores/{seg(restore_id)}/undo"
    return Call("POST", path, model(Restore), params={"wait": "false"})


# -- backup policies and storage usage ------------------------------------------------------------

#: the fields of a retention rule (``keep_*`` counts, ``max_age_days``)
RETENTION_FIELDS = ("keep_last", "keep_daily", "keep_weekly", "keep_monthly", "max_age_days")
#: ``retention=`` of ``policies.create``/``update``: a rule, or a mapping of its fields
RetentionInput = RetentionRule | Mapping[str, int | None]


def retention_body(retention: RetentionInput) -> dict[str, int | None]:
    """The wire form of a retention rule: only the fields that were given (on update,
    the others keep their values; a field given as ``None`` stops using that rule)."""
    if isinstance(retention, RetentionRule):
        values: Mapping[str, int | None] = retention.model_dump(exclude_unset=True)
    else:
        values = retention
    unknown = sorted(set(values) - set(RETENTION_FIELDS))
    if unknown:
        raise ValueError(f"unknown retention field(s): {', '.join(unknown)}")
    return {name: values[name] for name in RETENTION_FIELDS if name in values}


def policy_body(values: Mapping[str, Any], *, drop_none: bool) -> dict[str, Any]:
    """A policy's create (``drop_none``: ``None`` = the server's default) or update
    (only the arguments given, ``None`` included: it clears the webhook or the stale
    threshold) body."""
    body = {
        name: value
        for name, value in values.items()
        if value is not UNSET and not (drop_none and value is None)
    }
    if body.get("retention") is not None:
        body["retention"] = retention_body(body["retention"])
    return body


def policy_ref(ref: str | BackupPolicy) -> str:
    """The id of a policy given as an id or as the object."""
    return ref if isinstance(ref, str) else ref.id


def _policies(project_id: int) -> str:
    return f"/api/projects/{seg(project_id)}/backup-policies"


def policies_list(
    project_id: int, limit: int | None, offset: int | None, order_by: str | None
) -> Call[Page[BackupPolicy]]:
    params = paging(limit, offset, order_by)
    return Call("GET", _policies(project_id), page(BackupPolicy), params=params)


def policies_create(project_id: int, body: dict[str, Any]) -> Call[BackupPolicy]:
    return Call("POST", _policies(project_id), model(BackupPolicy), json=body)


def policies_get(policy_id: str) -> Call[BackupPolicy]:
    return Call("GET", f"/api/backup-policies/{seg(policy_id)}", model(BackupPolicy))


def policies_update(policy_id: str, body: dict[str, Any]) -> Call[BackupPolicy]:
    path = f"/api/backup-policies/{seg(policy_id)}"
    return Call("PATCH", path, model(BackupPolicy), json=body)


def policies_delete(policy_id: str) -> Call[None]:
    return Call("DELETE", f"/api/backup-policies/{seg(policy_id)}", nothing)


def policies_runs(
    policy_id: str, limit: int | None, offset: int | None, order_by: str | None
) -> Call[Page[PolicyRun]]:
    path = f"/api/backup-policies/{seg(policy_id)}/runs"
    return Call("GET", path, page(PolicyRun), params=paging(limit, offset, order_by))


def policies_retention_dry_run(
    policy_id: str, overrides: dict[str, int | None]
) -> Call[RetentionPreview]:
    path = f"/api/backup-policies/{seg(policy_id)}/retention/dry-run"
    return Call("GET", path, model(RetentionPreview), params=clean(**overrides))


def backups_usage(project_id: int) -> Call[BackupUsage]:
    return Call("GET", f"/api/projects/{seg(project_id)}/backups/usage", model(BackupUsage))


def _server_usage(response: httpx.Response) -> ServerBackupUsage:
    usage = ServerBackupUsage.model_validate(response.json())
    total = response.headers.get("x-total-count")
    usage.projects_total = int(total) if total and total.isdigit() else None
    return usage


def backups_server_usage(
    limit: int | None, offset: int | None, order_by: str | None
) -> Call[ServerBackupUsage]:
    params = paging(limit, offset, order_by)
    return Call("GET", "/api/admin/backups/usage", _server_usage, params=params)

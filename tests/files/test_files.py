from __future__ import annotations

from typing import Any

from fastapi.testclient import TestClient
from sqlalchemy import select

from cloudbox.audit.models import AuditLog
from cloudbox.blobstore.local import LocalBlobStore
from cloudbox.files.models import File
from cloudbox.runtime import Runtime
from tests.files.helpers import (
    base,
    counts,
    create_bucket,
    raw_upload,
    refcount,
    sha,
    upload,
    uploaded,
)
from tests.plugins.api import Account, add_member, assert_error


def files_url(pid: int, bucket: str = "docs") -> str:
    return f"{base(pid)}/buckets/{bucket}/files"


def test_upload_list_get_patch_delete(
    account: Account, project: dict[str, Any], runtime: Runtime
) -> None:
    pid = project["id"]
    create_bucket(account, pid, "docs")
    content = b"hello, world\n" * 100
    created = uploaded(
        account, pid, "docs", content, filename="report.txt", mime_type="text/plain; charset=utf-8"
    )
    assert set(created) == {
        "id",
        "name",
        "folder_path",
        "mime_type",
        "size",
        "checksum",
        "created_at",
        "updated_at",
    }
    assert created["name"] == "report.txt" and created["folder_path"] == ""
    assert created["mime_type"] == "text/plain" and created["size"] == len(content)
    assert created["checksum"] == f"sha256:{sha(content)}"
    small = uploaded(account, pid, "docs", b"x", filename="b.bin", folder_path="a/b/")
    assert small["folder_path"] == "a/b"
    big = uploaded(account, pid, "docs", b"y" * 5000, filename="a.bin", folder_path="a/b")

    listed = account.get(files_url(pid))
    assert listed.status_code == 200 and listed.headers["X-Total-Count"] == "3"
    assert [f["id"] for f in listed.json()] == [created["id"], small["id"], big["id"]]
    assert listed.json()[0] == created
    by_name = account.get(files_url(pid), params={"order_by": "name"})
    assert [f["name"] for f in by_name.json()] == ["a.bin", "b.bin", "report.txt"]
    by_size = account.get(files_url(pid), params={"order_by": "-size", "limit": 2})
    assert [f["size"] for f in by_size.json()] == [5000, 1300]
    assert by_size.headers["X-Total-Count"] == "3"
    offset = account.get(files_url(pid), params={"order_by": "created_at", "offset": 2})
    assert [f["id"] for f in offset.json()] == [big["id"]]
    folder = account.get(files_url(pid), params={"folder_path": "a/b"})
    assert {f["id"] for f in folder.json()} == {small["id"], big["id"]}
    assert folder.headers["X-Total-Count"] == "2"
    root = account.get(files_url(pid), params={"folder_path": ""})
    assert [f["id"] for f in root.json()] == [created["id"]]
    assert_error(
        account.get(files_url(pid), params={"order_by": "sha256"}), 422, "VALIDATION_ERROR"
    )
    assert_error(
        account.get(files_url(pid), params={"folder_path": "../x"}), 422, "VALIDATION_ERROR"
    )

    got = account.get(f"{files_url(pid)}/{created['id']}")
    assert got.status_code == 200 and got.json() == created

    moved = account.patch(
        f"{files_url(pid)}/{created['id']}", json={"name": "final.txt", "folder_path": "x/y"}
    )
    assert moved.status_code == 200, moved.text
    assert moved.json()["name"] == "final.txt" and moved.json()["folder_path"] == "x/y"
    assert moved.json()["checksum"] == created["checksum"]
    assert moved.json()["updated_at"] >= created["updated_at"]
    to_root = account.patch(f"{files_url(pid)}/{created['id']}", json={"folder_path": ""})
    assert to_root.json()["folder_path"] == "" and to_root.json()["name"] == "final.txt"
    content_response = account.get(f"{files_url(pid)}/{created['id']}/content")
    assert content_response.content == content

    assert account.delete(f"{files_url(pid)}/{created['id']}").status_code == 204
    assert_error(account.get(f"{files_url(pid)}/{created['id']}"), 404, "FILE_NOT_FOUND")
    assert_error(account.delete(f"{files_url(pid)}/{created['id']}"), 404, "FILE_NOT_FOUND")
    assert account.get(files_url(pid)).headers["X-Total-Count"] == "2"
    # the blob stays until the collector runs, with no reference left
    assert refcount(runtime, sha(content)) == 0
    assert runtime.blobs.exists(sha(content))

    with runtime.db.session() as db:
        entries = db.execute(
            select(AuditLog.action, AuditLog.resource_id, AuditLog.success).where(
                AuditLog.project_id == pid, AuditLog.action.like("files.%")
            )
        ).all()
    assert ("files.create", created["id"], True) in entries
    assert ("files.update", created["id"], True) in entries
    assert ("files.delete", created["id"], True) in entries


def test_files_are_scoped_to_their_bucket_and_project(
    account: Account, project: dict[str, Any]
) -> None:
    pid = project["id"]
    create_bucket(account, pid, "docs")
    create_bucket(account, pid, "other")
    created = uploaded(account, pid, "docs", b"abc")
    assert_error(account.get(f"{files_url(pid, 'other')}/{created['id']}"), 404, "FILE_NOT_FOUND")
    assert_error(
        account.get(f"{files_url(pid, 'other')}/{created['id']}/content"), 404, "FILE_NOT_FOUND"
    )
    assert_error(account.get(files_url(pid, "missing")), 404, "BUCKET_NOT_FOUND")
    assert_error(upload(account, pid, "missing", b"abc"), 404, "BUCKET_NOT_FOUND")
    second = account.create_project("Second")
    create_bucket(account, second["id"], "docs")
    assert_error(account.get(f"{files_url(second['id'])}/{created['id']}"), 404, "FILE_NOT_FOUND")


def test_upload_filenames_are_sanitised(account: Account, project: dict[str, Any]) -> None:
    pid = project["id"]
    create_bucket(account, pid, "docs")
    for raw, expected in (
        ("C:\\Users\\me\\photo.jpg", "photo.jpg"),
        ("../../etc/passwd", "passwd"),
        ("we\x01ird\x7fname.txt", "weirdname.txt"),
        ("été 😀.txt", "été 😀.txt"),
        ("n" * 300 + ".txt", "n" * 251 + ".txt"),
    ):
        response = raw_upload(account, pid, "docs", raw.encode(), b"data")
        assert response.status_code == 201, response.text
        created = response.json()
        assert created["name"] == expected
        download = account.get(f"{files_url(pid)}/{created['id']}/content")
        assert download.status_code == 200 and download.content == b"data"
        assert "attachment;" in download.headers["content-disposition"]


def test_upload_validation_writes_nothing(
    account: Account, project: dict[str, Any], runtime: Runtime
) -> None:
    pid = project["id"]
    create_bucket(account, pid, "docs")
    url = files_url(pid)
    before = counts(runtime)
    boundary = "XyZ"

    def form(*parts: str, end: bool = True) -> bytes:
        body = "".join(f"--{boundary}\r\n{part}\r\n" for part in parts)
        return (body + (f"--{boundary}--\r\n" if end else "")).encode()

    file_part = 'Content-Disposition: form-data; name="file"; filename="a.txt"\r\n\r\ndata'
    multipart = {"Content-Type": f"multipart/form-data; boundary={boundary}"}
    cases: list[tuple[Any, int, str]] = [
        # no file field at all
        (account.post(url, data={"folder_path": "x"}), 422, "VALIDATION_ERROR"),
        (account.post(url, json={"file": "abc"}), 422, "VALIDATION_ERROR"),
        # folder_path refused before the file is stored
        (upload(account, pid, "docs", b"abc", folder_path="/abs"), 422, "VALIDATION_ERROR"),
        (upload(account, pid, "docs", b"abc", folder_path="a/../b"), 422, "VALIDATION_ERROR"),
        (upload(account, pid, "docs", b"abc", folder_path="a//b"), 422, "VALIDATION_ERROR"),
        (upload(account, pid, "docs", b"abc", folder_path="a\\b"), 422, "VALIDATION_ERROR"),
        (upload(account, pid, "docs", b"abc", folder_path="x" * 1025), 422, "VALIDATION_ERROR"),
        # unusable file names and types
        (upload(account, pid, "docs", b"abc", filename=".."), 422, "VALIDATION_ERROR"),
        (upload(account, pid, "docs", b"abc", mime_type="not a type"), 422, "VALIDATION_ERROR"),
        # malformed multipart bodies
        (
            account.client.post(
                url,
                content=form('Content-Disposition: form-data; name="file"\r\n\r\nnot a file'),
                headers={**account.headers, **multipart},
            ),
            422,
            "VALIDATION_ERROR",
        ),
        (
            account.client.post(
                url,
                content=form('Content-Disposition: form-data; name="extra"\r\n\r\nx', file_part),
                headers={**account.headers, **multipart},
            ),
            422,
            "VALIDATION_ERROR",
        ),
        (
            account.client.post(
                url,
                content=form(file_part, end=False),  # truncated: no closing boundary
                headers={**account.headers, **multipart},
            ),
            400,
            "UPLOAD_INCOMPLETE",
        ),
        (
            account.client.post(
                url,
                content=f"--{boundary}\r\n{file_part}".encode(),  # cut inside the file
                headers={**account.headers, **multipart},
            ),
            400,
            "UPLOAD_INCOMPLETE",
        ),
        (
            account.client.post(
                url,
                content=b"garbage" * 10,
                headers={**account.headers, **multipart},
            ),
            422,
            "VALIDATION_ERROR",
        ),
        (
            account.client.post(
                url,
                content=form(file_part),
                headers={**account.headers, "Content-Type": "multipart/form-data"},
            ),
            422,
            "VALIDATION_ERROR",
        ),
    ]
    for response, status, code in cases:
        assert_error(response, status, code)
    assert counts(runtime) == before
    if isinstance(runtime.blobs, LocalBlobStore):
        assert list((runtime.blobs.root / ".tmp").iterdir()) == []

    uploaded(account, pid, "docs", b"abc", filename="ok.txt")
    patch_url = f"{url}/{account.get(url).json()[0]['id']}"
    for body in (
        {"name": ""},
        {"name": "a/b"},
        {"name": "a\\b"},
        {"name": "nul\x00"},
        {"name": ".."},
        {"name": "n" * 256},
        {"name": None},
        {"folder_path": "../up"},
        {"folder_path": None},
        {"size": 1},
    ):
        assert_error(account.patch(patch_url, json=body), 422, "VALIDATION_ERROR")
    assert account.get(patch_url).json()["name"] == "ok.txt"


def test_file_roles(client: TestClient, account: Account, project: dict[str, Any]) -> None:
    pid = project["id"]
    create_bucket(account, pid, "docs")
    created = uploaded(account, pid, "docs", b"secret plan")
    viewer = add_member(account, pid, "viewer", client)
    developer = add_member(account, pid, "developer", client)
    file_url = f"{files_url(pid)}/{created['id']}"
    assert viewer.get(files_url(pid)).status_code == 200
    assert viewer.get(file_url).status_code == 200
    assert viewer.get(f"{file_url}/content").content == b"secret plan"
    for response in (
        upload(viewer, pid, "docs", b"nope"),
        viewer.patch(file_url, json={"name": "x"}),
        viewer.delete(file_url),
    ):
        assert_error(response, 403, "INSUFFICIENT_PERMISSIONS")
    assert account.get(files_url(pid)).headers["X-Total-Count"] == "1"
    dev_file = uploaded(developer, pid, "docs", b"from dev")
    assert developer.patch(file_url, json={"name": "renamed"}).status_code == 200
    assert developer.delete(f"{files_url(pid)}/{dev_file['id']}").status_code == 204


def test_size_limit_at_and_over(
    account: Account, project: dict[str, Any], runtime: Runtime
) -> None:
    pid = project["id"]
    create_bucket(account, pid, "tiny", max_file_size=1000)
    at_limit = uploaded(account, pid, "tiny", b"a" * 1000)
    assert at_limit["size"] == 1000
    before = counts(runtime)
    refused = assert_error(upload(account, pid, "tiny", b"b" * 1001), 413, "FILE_TOO_LARGE")
    assert refused["error"]["details"]["max_file_size"] == 1000
    after = counts(runtime)
    assert after == before and after["stored"] == 1
    assert not runtime.blobs.exists(sha(b"b" * 1001))
    assert isinstance(runtime.blobs, LocalBlobStore)
    assert list((runtime.blobs.root / ".tmp").iterdir()) == []
    # a Content-Length far over the limit is refused before reading the body
    big = b"c" * 200_000
    assert_error(upload(account, pid, "tiny", big), 413, "FILE_TOO_LARGE")
    assert counts(runtime) == before


def test_disallowed_type_is_refused_before_storing(
    account: Account, project: dict[str, Any], runtime: Runtime
) -> None:
    pid = project["id"]
    create_bucket(account, pid, "images", allowed_types=["image/*", "application/pdf"])
    before = counts(runtime)
    for mime in ("text/plain", "application/octet-stream", "imagex/png"):
        refused = assert_error(
            upload(account, pid, "images", b"<svg/>", mime_type=mime),
            415,
            "FILE_TYPE_NOT_ALLOWED",
        )
        assert refused["error"]["details"]["allowed_types"] == ["image/*", "application/pdf"]
    assert counts(runtime) == before
    assert not runtime.blobs.exists(sha(b"<svg/>"))
    assert uploaded(account, pid, "images", b"png", mime_type="IMAGE/PNG")["mime_type"] == (
        "image/png"
    )
    assert uploaded(account, pid, "images", b"pdf", mime_type="application/pdf")["size"] == 3
    with runtime.db.session() as db:
        refusals = db.scalars(
            select(AuditLog.success).where(AuditLog.error_code == "FILE_TYPE_NOT_ALLOWED")
        ).all()
    assert refusals == [False, False, False]


def test_rows_point_at_their_blob(
    account: Account, project: dict[str, Any], runtime: Runtime
) -> None:
    pid = project["id"]
    create_bucket(account, pid, "docs")
    created = uploaded(account, pid, "docs", b"content")
    with runtime.db.session() as db:
        row = db.get(File, (pid, created["id"]))
        assert row is not None and row.sha256 == sha(b"content") and row.size == 7

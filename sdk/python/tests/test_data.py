"""Collections and documents, buckets and files, app users."""

from __future__ import annotations

import io
from pathlib import Path

import pytest

from cloudbox_sdk import (
    AppSession,
    BucketNotFound,
    Collection,
    CollectionExists,
    CollectionNotFound,
    Document,
    DocumentNotFound,
    FileNotFound,
    InvalidCredentials,
    InvalidToken,
    NotFound,
    StoredFile,
)
from conftest import Account, unique_email


def test_collections(owner: Account) -> None:
    collections = owner.client.collections
    schema = {"type": "object", "properties": {"title": {"type": "string"}}}
    posts = collections.create("posts", description="blog", schema=schema, indexes=["title"])
    assert isinstance(posts, Collection)
    assert (posts.name, posts.json_schema, posts.indexes) == ("posts", schema, ["title"])
    assert [c.name for c in collections.list()] == ["posts"]
    assert collections.get("posts").description == "blog"
    with pytest.raises(CollectionExists):
        collections.create("posts")

    renamed = collections.update("posts", new_name="articles", description="news")
    assert (renamed.name, renamed.description, renamed.json_schema) == ("articles", "news", schema)
    assert collections.update("articles", schema=None).json_schema is None

    collections.delete("articles")
    with pytest.raises(CollectionNotFound) as info:
        collections.get("articles")
    assert isinstance(info.value, NotFound)


def test_documents(owner: Account) -> None:
    owner.client.collections.create("notes")
    docs = owner.client.documents
    first = docs.create("notes", {"title": "one", "n": 1}, id="first")
    assert isinstance(first, Document)
    assert (first.id, first.data, first.version) == ("first", {"title": "one", "n": 1}, 1)
    second = docs.create("notes", {"title": "two", "n": 2})
    assert second.id
    listed = docs.list("notes")
    assert {d.id for d in listed} == {"first", second.id}
    assert listed.total == 2
    assert [d.id for d in docs.list("notes", filter={"n": 2})] == [second.id]
    assert docs.get("notes", "first").data["title"] == "one"

    patched = docs.update("notes", "first", {"title": "uno", "n": None, "extra": True})
    assert patched.data == {"title": "uno", "extra": True}
    assert patched.version == 2

    docs.delete("notes", "first")
    with pytest.raises(DocumentNotFound) as info:
        docs.get("notes", "first")
    assert info.value.code == "DOCUMENT_NOT_FOUND"


def test_buckets(owner: Account) -> None:
    buckets = owner.client.buckets
    bucket = buckets.create("media", description="pics", allowed_types=["image/png"])
    assert (bucket.name, bucket.allowed_types, bucket.is_public) == ("media", ["image/png"], False)
    assert [b.name for b in buckets.list()] == ["media"]
    assert buckets.get("media").description == "pics"
    updated = buckets.update("media", is_public=True, allowed_types=[])
    assert updated.is_public and updated.allowed_types == []
    buckets.delete("media")
    with pytest.raises(BucketNotFound):
        buckets.get("media")


def test_files(owner: Account, tmp_path: Path) -> None:
    owner.client.buckets.create("docs")
    files = owner.client.files
    from_bytes = files.upload("docs", b"hello world", filename="hello.txt", folder_path="a")
    assert isinstance(from_bytes, StoredFile)
    assert (from_bytes.name, from_bytes.size, from_bytes.folder_path) == ("hello.txt", 11, "a")
    path = tmp_path / "data.bin"
    path.write_bytes(bytes(range(256)) * 40)
    from_path = files.upload("docs", path)
    assert (from_path.name, from_path.size) == ("data.bin", 10240)
    from_file = files.upload(
        "docs", io.BytesIO(b"xyz"), filename="f.txt", content_type="text/plain"
    )
    assert from_file.mime_type.startswith("text/plain")

    assert {f.name for f in files.list("docs")} == {"hello.txt", "data.bin", "f.txt"}
    assert [f.name for f in files.list("docs", folder_path="a")] == ["hello.txt"]
    assert files.get("docs", from_path.id).checksum.startswith("sha256:")
    assert files.download("docs", from_path.id) == path.read_bytes()

    moved = files.update("docs", from_bytes.id, name="hi.txt", folder_path="b")
    assert (moved.name, moved.folder_path) == ("hi.txt", "b")

    files.delete("docs", from_bytes.id)
    with pytest.raises(FileNotFound):
        files.get("docs", from_bytes.id)
    owner.client.buckets.delete("docs", force=True)
    with pytest.raises(BucketNotFound):
        files.list("docs")


def test_app_users(owner: Account) -> None:
    app = owner.client.app_auth
    email = unique_email("enduser")
    signed_up = app.register(email, "app-user-password", name="End User", username="end_user")
    assert isinstance(signed_up, AppSession)
    assert signed_up.token is not None and signed_up.token.startswith("cbu_")
    assert signed_up.user.username == "end_user"

    signed_in = app.login(email, "app-user-password")
    assert signed_in.token is not None
    assert app.me(signed_in.token).email == email
    app.logout(signed_in.token)
    with pytest.raises(InvalidToken):
        app.me(signed_in.token)
    with pytest.raises(InvalidCredentials):
        app.login(email, "wrong-password")

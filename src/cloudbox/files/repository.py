"""SQL for storage buckets and files (blob references live in `blobrefs`, the collector's
queries in `gc`)."""

from __future__ import annotations

from sqlalchemy import Select, delete, func, select
from sqlalchemy.orm import Session

from cloudbox.files.models import File, StorageBucket


def get_bucket(
    db: Session, project_id: int, name: str, *, lock: bool = False
) -> StorageBucket | None:
    """``lock`` takes the row for update (PostgreSQL; SQLite writers are serialised)."""
    query = select(StorageBucket).where(
        StorageBucket.project_id == project_id, StorageBucket.name == name
    )
    return db.scalar(query.with_for_update() if lock else query)


def share_bucket(db: Session, project_id: int, bucket_id: str) -> StorageBucket | None:
    """Read the bucket with a share lock, so it cannot be deleted until we commit."""
    return db.scalar(
        select(StorageBucket)
        .where(StorageBucket.project_id == project_id, StorageBucket.id == bucket_id)
        .with_for_update(read=True)
    )


def buckets_of_project(project_id: int) -> Select[StorageBucket]:
    return select(StorageBucket).where(StorageBucket.project_id == project_id)


def count_files(db: Session, project_id: int, bucket_id: str) -> int:
    return (
        db.scalar(
            select(func.count())
            .select_from(File)
            .where(File.project_id == project_id, File.bucket_id == bucket_id)
        )
        or 0
    )


def delete_files_of_bucket(db: Session, project_id: int, bucket_id: str) -> None:
    db.execute(
        delete(File)
        .where(File.project_id == project_id, File.bucket_id == bucket_id)
        .execution_options(synchronize_session=False)
    )


def delete_file(db: Session, project_id: int, file_id: str) -> str | None:
    """Delete one file row; its content's digest, or None if it was already gone (a
    concurrent delete won), so that a reference is released exactly once."""
    return db.scalar(
        delete(File)
        .where(File.project_id == project_id, File.id == file_id)
        .returning(File.sha256)
        .execution_options(synchronize_session=False)
    )


def get_file(db: Session, project_id: int, bucket_id: str, file_id: str) -> File | None:
    row = db.get(File, (project_id, file_id))
    return row if row is not None and row.bucket_id == bucket_id else None


def files_of_bucket(project_id: int, bucket_id: str, folder_path: str | None) -> Select[File]:
    query = select(File).where(File.project_id == project_id, File.bucket_id == bucket_id)
    if folder_path is not None:
        query = query.where(File.folder_path == folder_path)
    return query

"""SQL for platform users and their sessions."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from cloudbox.auth.models import AuthSession, LoginFailure, User


def get_user_by_email(db: Session, email: str) -> User | None:
    return db.scalar(select(User).where(User.email == email))


def get_user(db: Session, user_id: int) -> User | None:
    return db.get(User, user_id)


def find_session(db: Session, token_hash: str) -> tuple[AuthSession, User] | None:
    row = db.execute(
        select(AuthSession, User)
        .join(User, User.id == AuthSession.user_id)
        .where(AuthSession.token_hash == token_hash)
    ).first()
    return (row[0], row[1]) if row else None


def revoke_session(db: Session, session_id: int, when: datetime) -> None:
    db.execute(
        update(AuthSession)
        .where(AuthSession.id == session_id, AuthSession.revoked_at.is_(None))
        .values(revoked_at=when)
    )


def get_login_failure(db: Session, email: str) -> LoginFailure | None:
    return db.get(LoginFailure, email)

"""SQL for functions and function domains."""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy import Select, select
from sqlalchemy.orm import Session

from cloudbox.functions.models import Function, FunctionDomain


def get_function(db: Session, project_id: int, function_id: str) -> Function | None:
    return db.get(Function, (project_id, function_id))


def function_by_name(db: Session, project_id: int, name: str) -> Function | None:
    return db.scalar(
        select(Function).where(Function.project_id == project_id, Function.name == name)
    )


def functions_of_project(project_id: int) -> Select[Function]:
    return select(Function).where(Function.project_id == project_id)


def get_domain(db: Session, project_id: int, domain_id: str) -> FunctionDomain | None:
    return db.get(FunctionDomain, (project_id, domain_id))


def domain_by_name(db: Session, domain: str) -> FunctionDomain | None:
    """Across every project: domains are unique server-wide."""
    return db.scalar(select(FunctionDomain).where(FunctionDomain.domain == domain))


def domains_of_project(project_id: int, function_id: str | None = None) -> Select[FunctionDomain]:
    query = select(FunctionDomain).where(FunctionDomain.project_id == project_id)
    if function_id is not None:
        query = query.where(FunctionDomain.function_id == function_id)
    return query


def domain_names_of_function(
    db: Session, project_id: int, function_id: str, limit: int
) -> Sequence[str]:
    return db.scalars(
        select(FunctionDomain.domain)
        .where(FunctionDomain.project_id == project_id, FunctionDomain.function_id == function_id)
        .order_by(FunctionDomain.domain)
        .limit(limit)
    ).all()

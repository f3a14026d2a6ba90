"""List conventions: plain JSON arrays, `limit`/`offset`, total in `X-Total-Count`."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Annotated, Any, TypeVarTuple

from fastapi import Depends, Query, Response
from sqlalchemy import Select
from sqlalchemy.orm import Session

from cloudbox.db.query import count
from cloudbox.errors import InvalidInput


@dataclass(frozen=True)
class Page:
    limit: int
    offset: int
    order_by: str | None


def page_params(
    limit: Annotated[int, Query(ge=1, le=1000)] = 50,
    offset: Annotated[int, Query(ge=0, le=2**53)] = 0,
    order_by: Annotated[str | None, Query(max_length=100, pattern=r"^-?[a-z_][a-z0-9_]*$")] = None,
) -> Page:
    return Page(limit=limit, offset=offset, order_by=order_by)


def set_total(response: Response, total: int) -> None:
    response.headers["X-Total-Count"] = str(total)


def order_clause(order_by: str | None, columns: Mapping[str, Any], default: Any) -> Any:
    """Translate `order_by=field` / `-field` into an ORDER BY clause over allowed columns."""
    if order_by is None:
        return default
    column = columns.get(order_by.lstrip("-"))
    if column is None:
        raise InvalidInput(
            "This field cannot be used for ordering",
            details={"order_by": order_by, "allowed": sorted(columns)},
        )
    return column.desc() if order_by.startswith("-") else column.asc()


Ts = TypeVarTuple("Ts")


def paged(
    db: Session,
    response: Response,
    query: Select[*Ts],
    page: Page,
    columns: Mapping[str, Any],
    default: Any,
) -> Select[*Ts]:
    """Set `X-Total-Count` and return the query ordered and limited to the page."""
    set_total(response, count(db, query))
    return (
        query.order_by(order_clause(page.order_by, columns, default))
        .limit(page.limit)
        .offset(page.offset)
    )


PageDep = Annotated[Page, Depends(page_params)]

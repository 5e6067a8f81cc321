"""One page of a query's rows and the total count, in one round trip when the page has rows."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.sql import Select

from website.extensions import db

__all__ = ["MAX_OFFSET", "counted_page", "page_of"]

MAX_OFFSET = 2**31 - 1  # no table here holds more rows: a larger offset is past the end


def counted_page(query: Select[Any], *, page: int, page_size: int) -> tuple[Sequence[Any], int]:
    """The ``page`` of ``query``'s entities and the count of all of them.

    The count rides along with the rows (COUNT(*) OVER ()); only an empty page needs a second
    query to count. A page far past the end never reaches the database as an offset.
    """
    offset = (page - 1) * page_size
    if offset <= MAX_OFFSET:
        counted = query.add_columns(func.count().over().label("page_total"))
        rows = db.session.execute(counted.limit(page_size).offset(offset)).all()
        if rows:
            return [row[0] for row in rows], rows[0][-1]
        if offset == 0:
            return [], 0
    total = db.session.scalar(select(func.count()).select_from(query.order_by(None).subquery()))
    return [], total or 0


def page_of(query: Select[Any], *, total: int, page: int, page_size: int) -> Sequence[Any]:
    """Rows ``(page - 1) * page_size`` onwards, when the caller knows the total already; a page
    past the end is empty without a query."""
    offset = (page - 1) * page_size
    if offset >= total:
        return []
    return db.session.scalars(query.limit(page_size).offset(offset)).all()

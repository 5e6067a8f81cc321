"""One page of a query's rows and the total count, in one round trip when the page has rows."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Integer, bindparam, func, select
from sqlalchemy.sql import Select

from website.extensions import db

__all__ = ["MAX_OFFSET", "PagedQuery", "counted_page", "page_of"]

MAX_OFFSET = 2**31 - 1  # no table here holds more rows: a larger offset is past the end
_LIMIT = bindparam("page_limit", type_=Integer())
_OFFSET = bindparam("page_offset", type_=Integer())


@dataclass(frozen=True)
class PagedQuery:
    """A query's two statements for ``counted_page``, which a caller may build once and reuse.

    ``rows`` selects a page (LIMIT and OFFSET are parameters) with the count of all rows beside
    each; ``count`` counts them when the page is empty.
    """

    rows: Select[Any]
    count: Select[Any]

    @classmethod
    def of(cls, query: Select[Any]) -> PagedQuery:
        return cls(
            rows=query.add_columns(func.count().over().label("page_total"))
            .limit(_LIMIT)
            .offset(_OFFSET),
            count=select(func.count()).select_from(query.order_by(None).subquery()),
        )


def counted_page(
    query: Select[Any] | PagedQuery,
    *,
    page: int,
    page_size: int,
    whole_rows: bool = False,
    params: Mapping[str, Any] | None = None,
) -> tuple[Sequence[Any], int]:
    """The ``page`` of ``query``'s entities (its rows, with ``whole_rows``; each then carries
    ``page_total`` as well) and the count of all of them.

    The count rides along with the rows (COUNT(*) OVER ()); only an empty page needs a second
    query to count. A page far past the end never reaches the database as an offset.
    """
    paged = query if isinstance(query, PagedQuery) else PagedQuery.of(query)
    params = dict(params or {})
    offset = (page - 1) * page_size
    if offset <= MAX_OFFSET:
        page_params = {**params, _LIMIT.key: page_size, _OFFSET.key: offset}
        rows = db.session.execute(paged.rows, page_params).all()
        if rows:
            return (rows if whole_rows else [row[0] for row in rows]), rows[0][-1]
        if offset == 0:
            return [], 0
    total = db.session.scalar(paged.count, params)
    return [], total or 0


def page_of(query: Select[Any], *, total: int, page: int, page_size: int) -> Sequence[Any]:
    """Rows ``(page - 1) * page_size`` onwards, when the caller knows the total already; a page
    past the end is empty without a query."""
    offset = (page - 1) * page_size
    if offset >= total:
        return []
    return db.session.scalars(query.limit(page_size).offset(offset)).all()

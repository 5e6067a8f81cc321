"""One page of a query's rows, given the total the caller already counted."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TypeVar

from sqlalchemy.sql import Select

from website.extensions import db

__all__ = ["page_of"]

T = TypeVar("T")


def page_of(query: Select[T], *, total: int, page: int, page_size: int) -> Sequence[T]:
    """Rows ``(page - 1) * page_size`` onwards; a page past the end is empty without a query
    (so that no page number, however large, reaches the database as an out-of-range offset)."""
    offset = (page - 1) * page_size
    if offset >= total:
        return []
    return db.session.scalars(query.limit(page_size).offset(offset)).all()

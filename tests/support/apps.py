"""Helpers for tests that need a second app (other settings) or a raw bearer header."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from flask import Flask

from website import create_app
from website.extensions import db

__all__ = ["another_app", "bearer"]


@contextmanager
def another_app(**config: Any) -> Iterator[Flask]:
    """A second app on the session's database, its connections closed afterwards."""
    other = create_app({"TESTING": True, **config})
    try:
        yield other
    finally:
        with other.app_context():
            db.engine.dispose()
        other.extensions["redis"].close()


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}

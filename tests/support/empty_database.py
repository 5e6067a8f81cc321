"""An app on a database of its own with no tables yet, for migration and CLI tests."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from flask import Flask

from tests.support.databases import fresh_database_url
from website import create_app
from website.extensions import db

__all__ = ["app_on_empty_database"]


@contextmanager
def app_on_empty_database(session_database_url: str, directory: Path) -> Iterator[Flask]:
    """The app, inside its context, on a new empty database of the session's kind."""
    with fresh_database_url(session_database_url, directory) as url:
        app = create_app({"TESTING": True, "SQLALCHEMY_DATABASE_URI": url})
        with app.app_context():
            yield app
            db.session.remove()
            db.engine.dispose()

"""A database that is down: every request answers 503 in the API's format, logged once per burst.

PostgreSQL goes down behind a TCP proxy the test controls (connections closed, new ones refused);
a SQLite database goes away with the folder it is in ("unable to open database file").
"""

from __future__ import annotations

import logging
import os
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from flask import Flask
from flask.testing import FlaskClient

from tests.support.apps import another_app
from tests.support.databases import is_postgres, server_address, through_port
from tests.support.tcp_proxy import TCPProxy, proxy_to
from website.extensions import db
from website.models import User

REQUESTS_DURING_OUTAGE = 5
UNAVAILABLE = {
    "code": 503,
    "status": "Service Unavailable",
    "message": "Database unavailable, try again shortly",
    "errors": {},
}


@dataclass
class Outage:
    """An app on the session's database, and the switch that takes that database away."""

    app: Flask
    proxy: TCPProxy | None = None
    link: Path | None = None  # SQLite: the app's path to the database's folder
    folder: Path | None = None  # SQLite: the folder itself

    def begin(self) -> None:
        if self.proxy is not None:
            self.proxy.refuse()
            return
        assert self.link is not None
        self.link.unlink()
        # A SQLite file stays readable through the handles already open on it, unlike a
        # server's connections: only connections opened from now on see it gone.
        with self.app.app_context():
            db.engine.dispose()

    def end(self) -> None:
        if self.proxy is not None:
            self.proxy.restore()
            return
        assert self.link is not None
        assert self.folder is not None
        self.link.symlink_to(self.folder)


@pytest.fixture
def outage(app: Flask, tmp_path: Path) -> Iterator[Outage]:
    database_url = os.environ["DATABASE_URL"]
    if is_postgres(database_url):
        with proxy_to(server_address(database_url)) as proxy:
            url = through_port(database_url, proxy.port)
            with another_app(SQLALCHEMY_DATABASE_URI=url) as proxied:
                yield Outage(proxied, proxy=proxy)
        return
    database = Path(database_url.removeprefix("sqlite:///"))
    link = tmp_path / "database-folder"
    link.symlink_to(database.parent)
    with another_app(SQLALCHEMY_DATABASE_URI=f"sqlite:///{link / database.name}") as linked:
        yield Outage(linked, link=link, folder=database.parent)


def database_warnings(caplog: pytest.LogCaptureFixture) -> list[str]:
    return [
        record.getMessage()
        for record in caplog.records
        if record.levelno == logging.WARNING and "database unavailable" in record.getMessage()
    ]


def test_a_database_that_is_down_answers_503_logged_once_and_recovers(
    outage: Outage, user: User, auth_headers: dict[str, str], caplog: pytest.LogCaptureFixture
) -> None:
    client: FlaskClient = outage.app.test_client()
    assert client.get("/tasks", headers=auth_headers).status_code == 200
    caplog.set_level(logging.INFO)

    outage.begin()
    responses = [client.get("/tasks", headers=auth_headers) for _ in range(REQUESTS_DURING_OUTAGE)]
    ready = client.get("/readyz")

    for response in responses:
        assert response.status_code == 503
        assert response.get_json() == UNAVAILABLE
        assert int(response.headers["Retry-After"]) > 0
    assert ready.status_code == 503
    assert ready.get_json()["errors"] == {"database": "unreachable"}
    assert len(database_warnings(caplog)) == 1, caplog.text
    assert not [record for record in caplog.records if record.levelno >= logging.ERROR]
    assert "Traceback" not in caplog.text

    outage.end()
    assert client.get("/tasks", headers=auth_headers).status_code == 200
    assert client.get("/readyz").status_code == 200

"""Fixtures for fetcher tests: private addresses refused, a fake DNS, servers on other addresses."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from flask import Flask

from tests.services.fetch.servers import BoundHTTPServer
from website.services.fetch import MappingResolver, use_resolver


@pytest.fixture
def public_only(app: Flask) -> dict[str, Any]:
    """The production rule: only public addresses, and only the hosts allowed by name."""
    app.config["FETCH_ALLOW_PRIVATE"] = False
    app.config["FETCH_ALLOWED_HOSTS"] = []
    return app.config


@pytest.fixture
def dns() -> Iterator[MappingResolver]:
    """The resolver every fetch uses during the test: ``dns.map("api.test", "127.0.0.1")``."""
    resolver = MappingResolver({})
    with use_resolver(resolver):
        yield resolver


@pytest.fixture
def http_server() -> Iterator[BoundHTTPServer]:
    """The shared fixture's server, quiet about clients that hang up on purpose."""
    server = BoundHTTPServer("127.0.0.1")
    server.start()
    yield server
    server.stop()


@pytest.fixture
def ipv6_server() -> Iterator[BoundHTTPServer]:
    server = BoundHTTPServer("::1")
    server.start()
    yield server
    server.stop()


@pytest.fixture
def second_loopback_server() -> Iterator[BoundHTTPServer]:
    """A server on 127.0.0.2, which nothing reaches unless it connects to exactly that address."""
    server = BoundHTTPServer("127.0.0.2")
    server.start()
    yield server
    server.stop()

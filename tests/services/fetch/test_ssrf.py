"""The fetcher against real local servers: private destinations are refused before any request."""

from __future__ import annotations

from typing import Any

import httpcore
import pytest

from tests.services.fetch.servers import BoundHTTPServer
from tests.support.http_server import LocalHTTPServer, Reply
from website.services.fetch import (
    FetchError,
    FetchRequest,
    MappingResolver,
    fetch,
    use_resolver,
)
from website.services.fetch.transport import PinnedBackend, fetch_scope

SECRET = {"secret": "instance credentials"}


def refused(url: str, **parameters: Any) -> FetchError:
    with pytest.raises(FetchError) as caught:
        fetch(FetchRequest(url, parameters=parameters, timeout=10))
    assert caught.value.kind == "failed"
    assert "instance credentials" not in caught.value.message
    return caught.value


@pytest.fixture
def secret_server(http_server: LocalHTTPServer) -> LocalHTTPServer:
    http_server.json("/secret", SECRET)
    return http_server


def test_refuses_a_public_looking_name_that_resolves_to_loopback(
    public_only: dict[str, Any], dns: MappingResolver, secret_server: LocalHTTPServer
) -> None:
    dns.map("api.example.com", "127.0.0.1")
    url = secret_server.url("/secret", host="api.example.com")

    error = refused(url)

    assert error.message == "The host resolves to a non-public address."
    assert secret_server.requests == []
    # The same URL is fetched once the name is allowed: the refusal above was the rule.
    public_only["FETCH_ALLOWED_HOSTS"] = ["api.example.com"]
    assert fetch(FetchRequest(url)).payload == SECRET


def test_refuses_a_name_with_one_private_address_among_public_ones(
    public_only: Any, dns: MappingResolver, secret_server: LocalHTTPServer
) -> None:
    dns.map("mixed.example.com", "93.184.216.34", "127.0.0.1")

    error = refused(secret_server.url("/secret", host="mixed.example.com"))

    assert error.message == "The host resolves to a non-public address."
    assert secret_server.requests == []


@pytest.mark.parametrize(
    "authority",
    [
        "127.0.0.1:{port}",
        "[::ffff:127.0.0.1]:{port}",
        "[::ffff:7f00:1]:{port}",
        "2130706433:{port}",
        "0x7f000001:{port}",
        "0x7f.1:{port}",
        "0177.0.0.1:{port}",
        "127.1:{port}",
        "127.0.0.1.:{port}",
        "api.example.com@127.0.0.1:{port}",
        "127.0.0.1:{port}\\@api.example.com",
    ],
)
def test_refuses_every_spelling_of_loopback(
    public_only: Any, secret_server: LocalHTTPServer, authority: str
) -> None:
    refused(f"http://{authority.format(port=secret_server.port)}/secret")

    assert secret_server.requests == []


def test_refuses_ipv6_loopback_literal_and_names(
    public_only: dict[str, Any], dns: MappingResolver, ipv6_server: BoundHTTPServer
) -> None:
    ipv6_server.json("/secret", SECRET)
    dns.map("v6.example.com", "::1")

    assert refused(ipv6_server.url("/secret")).message == "The host is a non-public address."
    assert refused(ipv6_server.url("/secret", host="v6.example.com")).message == (
        "The host resolves to a non-public address."
    )
    assert ipv6_server.requests == []
    public_only["FETCH_ALLOWED_HOSTS"] = ["[::1]"]
    assert fetch(FetchRequest(ipv6_server.url("/secret"))).payload == SECRET


@pytest.mark.parametrize(
    ("location", "reason"),
    [
        ("http://127.0.0.1:{port}/secret", "The host is a non-public address."),
        ("http://internal.example.com:{port}/secret", "The host resolves to a non-public address."),
        ("http://[::1]:{port}/secret", "The host is a non-public address."),
        ("http://2130706433:{port}/secret", "four decimal numbers"),
        ("http://api.example.com@127.0.0.1:{port}/secret", "credentials"),
        ("file:///etc/passwd", "http or https"),
        ("gopher://127.0.0.1:6379/_INFO", "http or https"),
        ("http://127.0.0.1:{port}\\@api.example.com/", "malformed"),
    ],
)
def test_a_redirect_from_an_allowed_host_to_a_private_one_fails_the_fetch(
    public_only: dict[str, Any],
    dns: MappingResolver,
    secret_server: LocalHTTPServer,
    location: str,
    reason: str,
) -> None:
    public_only["FETCH_ALLOWED_HOSTS"] = ["api.example.com"]
    dns.map("api.example.com", "127.0.0.1")
    dns.map("internal.example.com", "10.0.0.8")
    target = location.format(port=secret_server.port)
    secret_server.route("/start", lambda _request: Reply(302, b"", {"Location": target}))

    error = refused(secret_server.url("/start", host="api.example.com"))

    assert error.message.startswith("Redirect refused: ")
    assert reason in error.message
    assert [request.path for request in secret_server.requests] == ["/start"]


def test_connects_to_the_address_that_was_checked_even_if_dns_changes(
    public_only: dict[str, Any], second_loopback_server: BoundHTTPServer
) -> None:
    """The name is resolved once per hop; the connection uses that answer, not a new lookup."""
    impostor = BoundHTTPServer("127.0.0.1", second_loopback_server.port).start()
    second_loopback_server.json("/feed", {"served_by": "checked address"})
    impostor.json("/feed", {"served_by": "rebound address"})
    answers = iter([["127.0.0.2"], ["127.0.0.1"], ["127.0.0.1"]])
    lookups: list[str] = []

    class RebindingResolver:
        def resolve(self, host: str, port: int) -> list[str]:
            lookups.append(host)
            return next(answers)

    public_only["FETCH_ALLOWED_HOSTS"] = ["rebind.test"]
    try:
        with use_resolver(RebindingResolver()):
            result = fetch(FetchRequest(second_loopback_server.url("/feed", host="rebind.test")))
    finally:
        impostor.stop()

    assert result.payload == {"served_by": "checked address"}
    assert lookups == ["rebind.test"]
    [request] = second_loopback_server.requests
    assert request.headers["Host"] == f"rebind.test:{second_loopback_server.port}"
    assert impostor.requests == []


def test_the_connection_layer_refuses_any_address_it_was_not_given() -> None:
    backend = PinnedBackend()

    with pytest.raises(httpcore.ConnectError, match="not vetted"):
        backend.connect_tcp("127.0.0.1", 80, timeout=1)
    with fetch_scope(deadline=float("inf")) as scope:
        scope.pin("api.example.com", 443, ["127.0.0.1"])
        with pytest.raises(httpcore.ConnectError, match="not vetted"):
            backend.connect_tcp("api.example.com", 80, timeout=1)
        with pytest.raises(httpcore.ConnectError, match="not vetted"):
            backend.connect_tcp("127.0.0.1", 443, timeout=1)


def test_private_addresses_are_fetched_when_allowed(
    app: Any, secret_server: LocalHTTPServer
) -> None:
    app.config["FETCH_ALLOW_PRIVATE"] = True

    assert fetch(FetchRequest(secret_server.url("/secret"))).payload == SECRET

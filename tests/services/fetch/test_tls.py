"""HTTPS to a pinned address: the certificate is checked against the host name, sent as SNI."""

from __future__ import annotations

import ssl
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import trustme

from tests.services.fetch.servers import TLSHTTPServer
from website.services.fetch import FetchError, FetchRequest, MappingResolver, fetch

NAME = "secure.example.com"


@pytest.fixture(scope="module")
def authority() -> trustme.CA:
    return trustme.CA()


@pytest.fixture
def ca_bundle(authority: trustme.CA, tmp_path: Path, public_only: dict[str, Any]) -> Path:
    path = tmp_path / "ca.pem"
    authority.cert_pem.write_to_path(str(path))
    public_only["FETCH_CA_BUNDLE"] = str(path)
    public_only["FETCH_ALLOWED_HOSTS"] = [NAME, "127.0.0.1"]
    return path


def tls_server(authority: trustme.CA, *names: str) -> TLSHTTPServer:
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    authority.issue_cert(*names).configure_cert(context)
    server = TLSHTTPServer(context)
    server.json("/feed", [{"id": 1}])
    server.start()
    return server


@pytest.fixture
def server(authority: trustme.CA) -> Iterator[TLSHTTPServer]:
    server = tls_server(authority, NAME)
    yield server
    server.stop()


def test_fetches_https_from_the_checked_address_with_the_name_as_sni_and_host(
    ca_bundle: Path, dns: MappingResolver, server: TLSHTTPServer
) -> None:
    dns.map(NAME, "127.0.0.1")

    result = fetch(FetchRequest(server.url("/feed", host=NAME)))

    assert result.payload == [{"id": 1}]
    assert server.server_names == [NAME]
    [request] = server.requests
    assert request.headers["Host"] == f"{NAME}:{server.port}"


def test_a_certificate_for_another_name_is_refused(
    ca_bundle: Path, dns: MappingResolver, authority: trustme.CA
) -> None:
    dns.map(NAME, "127.0.0.1")
    impostor = tls_server(authority, "other.example.com")
    try:
        with pytest.raises(FetchError) as caught:
            fetch(FetchRequest(impostor.url("/feed", host=NAME)))
    finally:
        impostor.stop()

    assert caught.value.message.startswith(
        f"TLS certificate verification failed for {NAME}:{impostor.port}: Hostname mismatch"
    )
    assert impostor.requests == []


def test_connecting_by_address_checks_the_certificate_against_the_address(
    ca_bundle: Path, server: TLSHTTPServer
) -> None:
    with pytest.raises(FetchError) as caught:
        fetch(FetchRequest(server.url("/feed")))

    assert "TLS certificate verification failed" in caught.value.message


def test_an_unknown_certificate_authority_is_refused(
    ca_bundle: Path, dns: MappingResolver, server: TLSHTTPServer, public_only: dict[str, Any]
) -> None:
    dns.map(NAME, "127.0.0.1")
    public_only["FETCH_CA_BUNDLE"] = None  # certifi's authorities only

    with pytest.raises(FetchError) as caught:
        fetch(FetchRequest(server.url("/feed", host=NAME)))

    assert "TLS certificate verification failed" in caught.value.message
    assert "certificate" in caught.value.message

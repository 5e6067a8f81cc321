"""URL and host safety: only http(s), no spelling tricks, and no private addresses unless allowed.

Two entry points share one set of rules: ``validate_task_url`` when a task is created or
changed (a 422), and ``parse_url`` + ``vet_destination`` on every hop of every run.
"""

from __future__ import annotations

import ipaddress
import logging
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

import httpx
from flask import current_app

from website.errors import InvalidInput
from website.services.fetch.addresses import (
    InvalidIPLiteral,
    IPAddress,
    is_public_address,
    parse_ip_literal,
)
from website.services.fetch.resolver import HostNotFound, ResolutionTimeout, resolve_within

__all__ = [
    "Destination",
    "HostPolicy",
    "UnsafeURL",
    "parse_url",
    "validate_task_url",
    "vet_destination",
]

logger = logging.getLogger(__name__)

MAX_URL_LENGTH = 2048
PARSED_URLS = 1024  # parse_url answers kept per process (the addresses are never cached)
MAX_HOST_LENGTH = 253  # DNS limit for a name, without the trailing dot
ALLOWED_SCHEMES = {"http": 80, "https": 443}  # scheme -> default port
VALIDATION_RESOLVE_SECONDS = 3.0  # how long task creation waits for DNS before accepting the name
SCHEME_PREFIX = re.compile(r"^([A-Za-z][A-Za-z0-9+.-]*):(//)?")
HOST_LABEL = re.compile(r"^[a-z0-9_](?:[a-z0-9_-]{0,61}[a-z0-9_])?$")

NON_PUBLIC_HOST = "The host is a non-public address."
NON_PUBLIC_RESOLUTION = "The host resolves to a non-public address."


class UnsafeURL(ValueError):
    """A URL the fetcher refuses; ``message`` is short and safe to show the task's owner."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


@dataclass(frozen=True)
class Destination:
    """A checked URL and where it points."""

    url: httpx.URL
    host: str  # lower case, no brackets, no trailing dot: what the rules and allow-list see
    connect_host: str  # the host exactly as the HTTP stack will ask to connect to it
    port: int
    literal: IPAddress | None  # the address when the host is an IP literal


@dataclass(frozen=True)
class HostPolicy:
    """Which destinations may skip the public-address rule."""

    allow_private: bool = False
    allowed_hosts: frozenset[tuple[str, int | None]] = frozenset()  # (host, port or any)

    @classmethod
    def from_config(cls, config: Mapping[str, Any]) -> HostPolicy:
        return cls(
            allow_private=bool(config.get("FETCH_ALLOW_PRIVATE")),
            allowed_hosts=parse_allowed_hosts(config.get("FETCH_ALLOWED_HOSTS") or ()),
        )

    def exempts(self, destination: Destination) -> bool:
        """Whether ``destination`` may have non-public addresses."""
        if self.allow_private:
            return True
        return (destination.host, None) in self.allowed_hosts or (
            destination.host,
            destination.port,
        ) in self.allowed_hosts


def parse_allowed_hosts(entries: Iterable[str]) -> frozenset[tuple[str, int | None]]:
    """``FETCH_ALLOWED_HOSTS`` entries: ``host``, ``host:port``, ``[v6]``, ``[v6]:port``, ``v6``."""
    allowed: set[tuple[str, int | None]] = set()
    for entry in entries:
        entry = entry.strip().lower()
        port: int | None = None
        if entry.startswith("["):
            host, _, rest = entry[1:].partition("]")
            if rest.startswith(":") and rest[1:].isdigit():
                port = int(rest[1:])
        elif entry.count(":") == 1:
            host, _, port_text = entry.partition(":")
            port = int(port_text) if port_text.isdigit() else None
        else:
            host = entry
        if host:
            allowed.add((_normalize_host(host), port))
    return frozenset(allowed)


def _normalize_host(host: str) -> str:
    host = host.lower()
    if ":" in host:
        try:
            return ipaddress.IPv6Address(host).compressed
        except ValueError:
            return host
    return host[:-1] if host.endswith(".") else host


@lru_cache(maxsize=PARSED_URLS)
def parse_url(url: str) -> Destination:
    """Check a URL's form (never the network) and say where it points, or raise ``UnsafeURL``.

    A pure function of the text, so its answers are kept: a worker fetches the same task URLs
    over and over (a refused URL raises every time; exceptions are never cached).
    """
    if len(url) > MAX_URL_LENGTH:
        raise UnsafeURL(f"At most {MAX_URL_LENGTH} characters.")
    if any(ord(character) <= 0x20 or ord(character) == 0x7F for character in url):
        raise UnsafeURL("Must not contain spaces or control characters (percent-encode them).")
    if "\\" in url:
        raise UnsafeURL("Must not contain backslashes (percent-encode them as %5C).")
    prefix = SCHEME_PREFIX.match(url)
    if prefix is None or prefix.group(1).lower() not in ALLOWED_SCHEMES:
        raise UnsafeURL("Must be an http or https URL.")
    if not prefix.group(2):
        raise UnsafeURL("Must be an absolute URL like https://example.com/path.")
    authority = re.split(r"[/?#]", url[prefix.end() :], maxsplit=1)[0]
    if "@" in authority:
        raise UnsafeURL("Must not contain user credentials (user@host); use headers instead.")
    if not authority.startswith("["):
        # Before httpx reads it: its own IPv4 parser refuses some spellings with a vaguer error.
        _check_ip_spelling(authority.partition(":")[0].lower().removesuffix("."))
    try:
        parsed = httpx.URL(url)
        port = parsed.port
        connect_host = parsed.raw_host.decode("ascii")
    except (httpx.InvalidURL, UnicodeError, ValueError):
        raise UnsafeURL("Not a valid URL.") from None
    host = _normalize_host(connect_host)
    if not host:
        raise UnsafeURL("Must have a host.")
    if port is None:
        port = ALLOWED_SCHEMES[parsed.scheme]
    if not 0 < port < 2**16:
        raise UnsafeURL("The port must be between 1 and 65535.")
    return Destination(parsed, host, connect_host, port, _check_host(host))


def _check_ip_spelling(host: str) -> IPAddress | None:
    try:
        return parse_ip_literal(host) if host else None
    except InvalidIPLiteral as error:
        raise UnsafeURL(str(error)) from None


def _check_host(host: str) -> IPAddress | None:
    """The host's literal address, if it is one; raises ``UnsafeURL`` for malformed hosts."""
    if ":" not in host:
        labels = host.split(".")
        if len(host) > MAX_HOST_LENGTH or not all(HOST_LABEL.match(label) for label in labels):
            raise UnsafeURL("The host is not a valid host name or IP address.")
    return _check_ip_spelling(host)


def vet_destination(destination: Destination, policy: HostPolicy, seconds: float) -> list[str]:
    """The addresses to connect to, all checked; raises ``UnsafeURL``, ``HostNotFound`` or
    ``ResolutionTimeout``. Resolved once, here: the connection uses exactly these addresses."""
    if destination.literal is not None:
        addresses = [str(destination.literal)]
    else:
        addresses = resolve_within(destination.host, destination.port, seconds)
    if policy.exempts(destination):
        return addresses
    if destination.literal is not None:
        if not is_public_address(destination.literal):
            raise UnsafeURL(NON_PUBLIC_HOST)
    elif not all(_is_public(address) for address in addresses):
        raise UnsafeURL(NON_PUBLIC_RESOLUTION)
    return addresses


def _is_public(address: str) -> bool:
    try:
        return is_public_address(ipaddress.ip_address(address))
    except ValueError:
        return False  # a scoped (zone) or malformed address from the resolver: never public


def validate_task_url(url: str) -> None:
    """Refuse a URL a task may not fetch, with a 422 naming the ``url`` field.

    A host name that does not resolve now is accepted (DNS may be unreachable from the API, or
    the name may not exist yet); every run checks it again before connecting.
    """
    policy = HostPolicy.from_config(current_app.config)
    try:
        destination = parse_url(url)
        if not policy.exempts(destination):
            vet_destination(destination, policy, VALIDATION_RESOLVE_SECONDS)
    except UnsafeURL as error:
        raise InvalidInput("Invalid URL", {"url": [error.message]}) from None
    except (HostNotFound, ResolutionTimeout):
        logger.info("task URL host does not resolve now; accepted for a later check")

"""IP addresses: which ones are publicly routable, and how hosts spell IPv4 addresses."""

from __future__ import annotations

import ipaddress
import re

__all__ = [
    "IPAddress",
    "InvalidIPLiteral",
    "is_public_address",
    "parse_ip_literal",
]

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address

# IANA special-purpose ranges that a fetch must never reach, checked in addition to the
# standard library's is_global (which misses some of them on older Python releases).
NON_PUBLIC_IPV4 = tuple(
    ipaddress.IPv4Network(network)
    for network in (
        "0.0.0.0/8",  # "this network", including the unspecified address
        "10.0.0.0/8",  # private
        "100.64.0.0/10",  # carrier-grade NAT
        "127.0.0.0/8",  # loopback
        "169.254.0.0/16",  # link-local, including cloud metadata at 169.254.169.254
        "172.16.0.0/12",  # private
        "192.0.0.0/24",  # IETF protocol assignments
        "192.0.2.0/24",  # documentation
        "192.88.99.0/24",  # deprecated 6to4 relay anycast
        "192.168.0.0/16",  # private
        "198.18.0.0/15",  # benchmarking
        "198.51.100.0/24",  # documentation
        "203.0.113.0/24",  # documentation
        "224.0.0.0/4",  # multicast
        "240.0.0.0/4",  # reserved, including the broadcast address
    )
)
NON_PUBLIC_IPV6 = tuple(
    ipaddress.IPv6Network(network)
    for network in (
        "::/8",  # unspecified, loopback, IPv4-compatible (IPv4-mapped is unwrapped first)
        "64:ff9b:1::/48",  # local-use NAT64
        "100::/64",  # discard-only
        "2001::/23",  # IETF protocol assignments, including Teredo (2001::/32)
        "2001:db8::/32",  # documentation
        "3fff::/20",  # documentation
        "5f00::/16",  # segment routing SIDs
        "fc00::/7",  # unique local
        "fe80::/10",  # link-local
        "fec0::/10",  # deprecated site-local
        "ff00::/8",  # multicast
    )
)
NAT64_WELL_KNOWN = ipaddress.IPv6Network("64:ff9b::/96")  # embeds an IPv4 address in its low bits

# A WHATWG URL host whose last label is a number is an IPv4 address in some notation.
NUMERIC_LABEL = re.compile(r"^(?:0[xX][0-9a-fA-F]*|[0-9]+)$")
DOTTED_QUAD_PART = re.compile(r"^(?:0|[1-9][0-9]{0,2})$")
IPV4_PARTS = 4


class InvalidIPLiteral(ValueError):
    """A numeric host that is not a plainly written IPv4 or IPv6 address."""


def is_public_address(address: IPAddress) -> bool:
    """Whether ``address`` is globally routable, judging IPv6 translation forms by their IPv4."""
    if isinstance(address, ipaddress.IPv6Address):
        embedded = _embedded_ipv4(address)
        if embedded is not None:
            return is_public_address(embedded)
        if address.scope_id is not None:
            return False
        networks: tuple[ipaddress.IPv4Network | ipaddress.IPv6Network, ...] = NON_PUBLIC_IPV6
    else:
        networks = NON_PUBLIC_IPV4
    if any(address in network for network in networks):
        return False
    return address.is_global and not address.is_multicast and not address.is_reserved


def _embedded_ipv4(address: ipaddress.IPv6Address) -> ipaddress.IPv4Address | None:
    """The IPv4 address an IPv4-mapped, NAT64 or 6to4 address stands for."""
    if address.ipv4_mapped is not None:
        return address.ipv4_mapped
    if address in NAT64_WELL_KNOWN:
        return ipaddress.IPv4Address(int(address) & 0xFFFFFFFF)
    return address.sixtofour


def parse_ip_literal(host: str) -> IPAddress | None:
    """The address ``host`` names literally, or None for a host name.

    ``host`` is a URL host without brackets and without a trailing dot. Raises
    ``InvalidIPLiteral`` for decimal, hexadecimal, octal and shortened IPv4 spellings
    (``2130706433``, ``0x7f.1``, ``0177.0.0.1``, ``127.1``), which resolvers accept but
    which only serve to hide an address, and for numeric hosts that are no address at all.
    """
    if ":" in host:
        if "%" in host:
            raise InvalidIPLiteral("IPv6 zone identifiers are not allowed.")
        try:
            return ipaddress.IPv6Address(host)
        except ValueError:
            raise InvalidIPLiteral("Invalid IPv6 address.") from None
    labels = host.split(".")
    if not NUMERIC_LABEL.match(labels[-1]):
        return None
    # WHATWG: a host ending in a numeric label is parsed as IPv4. Accept only dotted quads.
    if len(labels) == IPV4_PARTS and all(
        DOTTED_QUAD_PART.match(label) and int(label) <= 0xFF for label in labels
    ):
        return ipaddress.IPv4Address(host)
    raise InvalidIPLiteral(
        "IPv4 addresses must be written as four decimal numbers, like 192.0.2.1."
    )

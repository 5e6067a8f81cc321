"""Which addresses count as public, and which host spellings are IP addresses."""

from __future__ import annotations

import ipaddress

import pytest

from website.services.fetch.addresses import InvalidIPLiteral, is_public_address, parse_ip_literal


@pytest.mark.parametrize(
    "address",
    [
        "127.0.0.1",  # loopback
        "127.255.255.254",
        "10.1.2.3",  # private
        "172.16.0.1",
        "192.168.1.1",
        "169.254.169.254",  # link-local: cloud metadata
        "100.64.0.1",  # carrier-grade NAT
        "0.0.0.0",  # unspecified
        "0.1.2.3",
        "224.0.0.1",  # multicast
        "239.255.255.250",
        "240.0.0.1",  # reserved
        "255.255.255.255",  # broadcast
        "192.0.0.8",  # IETF protocol assignments
        "192.0.2.1",  # documentation
        "198.18.0.1",  # benchmarking
        "::1",  # IPv6 loopback
        "::",  # IPv6 unspecified
        "fe80::1",  # IPv6 link-local
        "fc00::1",  # unique local
        "fd12:3456::1",
        "fec0::1",  # site-local
        "ff02::1",  # multicast
        "ff0e::1",  # global-scope multicast is still multicast
        "::ffff:127.0.0.1",  # IPv4-mapped loopback
        "::ffff:169.254.169.254",
        "::ffff:10.0.0.1",
        "::127.0.0.1",  # IPv4-compatible
        "2002:7f00:1::1",  # 6to4 of 127.0.0.1
        "2002:a9fe:a9fe::1",  # 6to4 of 169.254.169.254
        "2001:0:4136:e378:8000:63bf:3fff:fdd2",  # Teredo
        "2001::1",
        "64:ff9b::7f00:1",  # NAT64 of 127.0.0.1
        "64:ff9b::a9fe:a9fe",  # NAT64 of 169.254.169.254
        "64:ff9b:1::1",  # local-use NAT64
        "2001:db8::1",  # documentation
        "100::1",  # discard-only
    ],
)
def test_refuses_non_public_addresses(address: str) -> None:
    assert not is_public_address(ipaddress.ip_address(address))


@pytest.mark.parametrize(
    "address",
    [
        "8.8.8.8",
        "1.1.1.1",
        "52.218.0.1",
        "2606:4700:4700::1111",
        "2a00:1450:4001::1",
        "::ffff:8.8.8.8",  # IPv4-mapped public
        "2002:808:808::1",  # 6to4 of a public address
        "64:ff9b::808:808",  # NAT64 of a public address
    ],
)
def test_accepts_public_addresses(address: str) -> None:
    assert is_public_address(ipaddress.ip_address(address))


@pytest.mark.parametrize(
    "host",
    [
        "2130706433",  # decimal 127.0.0.1
        "0x7f000001",  # hexadecimal
        "0x7f.1",  # hexadecimal, shortened
        "0177.0.0.1",  # octal
        "0177.0000.0000.0001",
        "127.1",  # shortened
        "127.0.1",
        "127.000.000.001",  # leading zeros read as octal by some parsers
        "1.2.3.4.5",  # too many parts
        "256.0.0.1",  # out of range
        "example.123",  # a numeric last label makes the host an IPv4 address in WHATWG
        "0x",
    ],
)
def test_refuses_non_standard_ipv4_spellings(host: str) -> None:
    with pytest.raises(InvalidIPLiteral, match="four decimal numbers"):
        parse_ip_literal(host)


@pytest.mark.parametrize(
    ("host", "expected"),
    [
        ("127.0.0.1", ipaddress.ip_address("127.0.0.1")),
        ("8.8.8.8", ipaddress.ip_address("8.8.8.8")),
        ("::1", ipaddress.ip_address("::1")),
        ("example.com", None),
        ("1e100.net", None),
        ("s3-us-west-2.amazonaws.com", None),
    ],
)
def test_reads_plain_ip_literals_and_leaves_names_alone(
    host: str, expected: ipaddress.IPv4Address | ipaddress.IPv6Address | None
) -> None:
    assert parse_ip_literal(host) == expected


def test_refuses_ipv6_zone_identifiers() -> None:
    with pytest.raises(InvalidIPLiteral, match="zone"):
        parse_ip_literal("fe80::1%eth0")

"""Property test: odd URLs never crash the validator and never get a private address through."""

from __future__ import annotations

import contextlib
import ipaddress
import socket
from typing import Any
from urllib.parse import urlsplit

import httpx
import pytest
from hypothesis import HealthCheck, event, example, given, settings
from hypothesis import strategies as st

from website.errors import InvalidInput
from website.services.fetch import MappingResolver, validate_task_url
from website.services.fetch.addresses import is_public_address
from website.services.fetch.resolver import HostNotFound
from website.services.fetch.safety import HostPolicy, UnsafeURL, parse_url, vet_destination

PRIVATE_IPV4 = [
    "127.0.0.1",
    "127.1.2.3",
    "10.0.0.1",
    "172.16.5.4",
    "192.168.1.1",
    "169.254.169.254",
    "100.64.0.1",
    "0.0.0.0",
    "224.0.0.1",
    "255.255.255.255",
]
PRIVATE_IPV6 = [
    "::1",
    "::",
    "fe80::1",
    "fd00::1",
    "::ffff:127.0.0.1",
    "::ffff:169.254.169.254",
    "2002:7f00:1::",
    "64:ff9b::a9fe:a9fe",
    "2001::1",
    "ff02::1",
]
PUBLIC = ["93.184.216.34", "8.8.8.8", "2606:4700:4700::1111"]
PRIVATE_NAMES = {f"internal{n}.example.com": [PRIVATE_IPV4[n]] for n in range(4)} | {
    "v6.example.com": ["::1"],
    "mixed.example.com": ["8.8.8.8", "10.0.0.1"],
    "localhost": ["127.0.0.1", "::1"],
}
PUBLIC_NAMES = {"api.example.com": ["93.184.216.34"], "cdn.example.net": ["2606:4700::1"]}


@st.composite
def ipv4_spellings(draw: st.DrawFn) -> str:
    """The many ways resolvers and browsers accept an IPv4 address."""
    address = int(ipaddress.IPv4Address(draw(st.sampled_from(PRIVATE_IPV4 + PUBLIC[:2]))))
    parts = [(address >> shift) & 0xFF for shift in (24, 16, 8, 0)]
    layout = draw(st.sampled_from(["1", "2", "3", "4"]))
    if layout == "1":
        numbers = [address]
    elif layout == "2":
        numbers = [parts[0], address & 0xFFFFFF]
    elif layout == "3":
        numbers = [parts[0], parts[1], address & 0xFFFF]
    else:
        numbers = parts
    spelled = []
    for number in numbers:
        base = draw(st.sampled_from(["dec", "hex", "HEX", "oct", "zeros"]))
        spelled.append(
            {
                "dec": str(number),
                "hex": hex(number),
                "HEX": "0X" + format(number, "X"),
                "oct": "0" + format(number, "o"),
                "zeros": "00" + str(number),
            }[base]
        )
    return ".".join(spelled) + draw(st.sampled_from(["", "."]))


@st.composite
def ipv6_spellings(draw: st.DrawFn) -> str:
    address = ipaddress.IPv6Address(draw(st.sampled_from(PRIVATE_IPV6 + PUBLIC[2:])))
    text = draw(st.sampled_from([address.compressed, address.exploded, str(address).upper()]))
    return f"[{text}]"


hosts = st.one_of(
    ipv4_spellings(),
    ipv6_spellings(),
    st.sampled_from(sorted(PRIVATE_NAMES) + sorted(PUBLIC_NAMES) + PUBLIC[:2]),
    st.sampled_from(sorted(PRIVATE_NAMES)).map(str.upper),
    st.text(max_size=30),
    st.from_regex(r"[a-z0-9.\-_%\[\]:]{1,30}", fullmatch=True),
)


def mostly(usual: list[str], odd: list[str]) -> st.SearchStrategy[str]:
    """Usual values three times out of four, so that enough URLs get past the early checks."""
    return st.one_of(
        st.sampled_from(usual), st.sampled_from(usual), st.sampled_from(usual), st.sampled_from(odd)
    )


@st.composite
def odd_urls(draw: st.DrawFn) -> str:
    scheme = draw(mostly(["http", "https", "HTTP", "hTtPs"], ["ftp", "file", "gopher", ""]))
    separator = draw(mostly(["://"], [":/", ":", "://\\", ":\\\\", ":///", "//"]))
    userinfo = draw(mostly([""], ["user@", "user:pw@", "api.example.com@", "a@b@", ":@", "%40@"]))
    host = draw(hosts)
    port = draw(mostly(["", ":80", ":8080"], [":0", ":65536", ":", ":-1", ":1e3"]))
    tail = draw(
        st.one_of(
            mostly(["", "/", "/feed.json?x=1#f", "/a/b?c=d"], ["\\@evil.test/", "/@127.0.0.1/"]),
            st.text(max_size=20),
        )
    )
    return f"{scheme}{separator}{userinfo}{host}{port}{tail}"


def candidate_hosts(url: str) -> set[str]:
    """Every host some parser could read from ``url``: ours must be safe for all of them."""
    candidates = set()
    for text in (url, url.replace("\\", "/")):
        with contextlib.suppress(ValueError):
            candidates.add(urlsplit(text).hostname or "")
        with contextlib.suppress(httpx.InvalidURL, ValueError):
            candidates.add(httpx.URL(text).host)
    return {host.rstrip(".").lower() for host in candidates if host}


def addresses_a_lax_resolver_would_use(host: str) -> list[ipaddress.IPv4Address | Any]:
    found: list[Any] = []
    with contextlib.suppress(OSError, ValueError):  # glibc reads 127.1, 0x7f.1, 2130706433...
        found.append(ipaddress.IPv4Address(socket.inet_aton(host)))
    with contextlib.suppress(ValueError):
        found.append(ipaddress.ip_address(host.strip("[]")))
    for name, addresses in (PRIVATE_NAMES | PUBLIC_NAMES).items():
        if host == name:
            found.extend(ipaddress.ip_address(address) for address in addresses)
    return found


@pytest.fixture
def fake_dns(public_only: Any, dns: MappingResolver) -> MappingResolver:
    for name, addresses in (PRIVATE_NAMES | PUBLIC_NAMES).items():
        dns.map(name, *addresses)
    return dns


def _refusal(url: str) -> InvalidInput | None:
    """The validator's 422, or None when it accepts ``url``; any other exception propagates."""
    try:
        validate_task_url(url)
    except InvalidInput as error:
        return error
    return None


@settings(
    max_examples=1000,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(url=st.one_of(odd_urls(), odd_urls(), odd_urls(), st.text(max_size=60)))
@example(url="http://2130706433/")
@example(url="http://0x7f.0.0.1/")
@example(url="http://[::ffff:127.0.0.1]/")
@example(url="http://api.example.com@127.0.0.1/")
@example(url="http://127.0.0.1\\@api.example.com/")
@example(url="http://localhost./")
def test_no_url_crashes_the_validator_or_reaches_a_private_address(
    fake_dns: MappingResolver, url: str
) -> None:
    refusal = _refusal(url)
    if refusal is not None:
        assert list(refusal.errors) == ["url"]
        event(f"refused: {refusal.errors['url'][0]}")
        return
    event("accepted")
    # Accepted: whatever any parser reads as the host must not lead to a private address...
    for host in candidate_hosts(url):
        for address in addresses_a_lax_resolver_would_use(host):
            assert is_public_address(address), (url, host, address)
    # ...and the run-time check, which connects only where it checked, agrees.
    destination = parse_url(url)
    try:
        addresses = vet_destination(destination, HostPolicy(), 5.0)
    except (UnsafeURL, HostNotFound):
        return
    assert all(is_public_address(ipaddress.ip_address(address)) for address in addresses)
    assert destination.connect_host == httpx.URL(url).raw_host.decode("ascii")

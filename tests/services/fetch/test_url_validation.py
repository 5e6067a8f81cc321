"""validate_task_url: the check run when a task is created or changed, as a 422 naming the URL."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from flask.testing import FlaskClient

from tests.support.examples import ORIGINAL_EXAMPLE_TASK
from website.errors import InvalidInput
from website.services.fetch import MappingResolver, validate_task_url


def refusal(url: str) -> str:
    with pytest.raises(InvalidInput) as caught:
        validate_task_url(url)
    assert caught.value.status == 422
    [message] = caught.value.errors["url"]
    return str(message)


@pytest.mark.parametrize(
    ("url", "reason"),
    [
        ("ftp://example.com/feed.json", "http or https"),
        ("file:///etc/passwd", "http or https"),
        ("gopher://127.0.0.1:6379/_INFO", "http or https"),
        ("javascript:alert(1)", "http or https"),
        ("http:example.com/feed", "absolute URL"),
        ("http:/example.com/feed", "absolute URL"),
        ("//example.com/feed", "http or https"),
        ("http:///feed", "host"),
        ("http://user:secret@example.com/", "credentials"),
        ("http://example.com@127.0.0.1/", "credentials"),
        ("http://example.com:80@127.0.0.1/", "credentials"),
        ("http://127.0.0.1\\@example.com/", "backslashes"),
        ("http://example.com\\.evil.test/", "backslashes"),
        ("http://example.com/ feed", "spaces"),
        ("http://example.com/\nfeed", "control characters"),
        (" http://example.com/", "spaces"),
        ("http://2130706433/", "four decimal numbers"),
        ("http://0x7f000001/", "four decimal numbers"),
        ("http://0x7f.1/", "four decimal numbers"),
        ("http://0177.0.0.1/", "four decimal numbers"),
        ("http://127.1/", "four decimal numbers"),
        ("http://%31%32%37.0.0.1/", "four decimal numbers"),
        ("http://%65xample.com/", "not a valid host"),
        ("http://exa_mple..com/", "not a valid host"),
        ("http://[fe80::1%25eth0]/", "zone"),
        ("http://example.com:0/", "port"),
        ("http://example.com:99999/", "port"),
        ("http://example.com/" + "a" * 2048, "2048"),
    ],
)
def test_refuses_malformed_and_tricky_urls(public_only: Any, url: str, reason: str) -> None:
    assert reason in refusal(url)


@pytest.mark.parametrize(
    "url",
    [
        "http://127.0.0.1/",
        "http://127.0.0.1:8080/admin",
        "http://10.0.0.1/",
        "http://169.254.169.254/latest/meta-data/",
        "http://100.64.0.1/",
        "http://0.0.0.0:5000/",
        "http://224.0.0.1/",
        "http://[::1]/",
        "http://[::]/",
        "http://[fe80::1]/",
        "http://[fd00::1]/",
        "http://[::ffff:127.0.0.1]/",
        "http://[::ffff:7f00:1]/",
        "http://[::ffff:169.254.169.254]/",
        "http://[2002:7f00:1::]/",
        "http://[2001:0:4136:e378:8000:63bf:3fff:fdd2]/",
        "http://[64:ff9b::a9fe:a9fe]/",
        "HTTP://127.0.0.1./",
    ],
)
def test_refuses_private_ip_literals(public_only: Any, url: str) -> None:
    assert refusal(url) == "The host is a non-public address."


@pytest.mark.parametrize(
    ("addresses"),
    [
        ["127.0.0.1"],
        ["10.0.0.7"],
        ["169.254.169.254"],
        ["::1"],
        ["93.184.216.34", "127.0.0.1"],  # one private answer among public ones is enough
        ["2606:2800:220:1::1", "fd00::1"],
        ["::ffff:127.0.0.1"],
    ],
)
def test_refuses_names_that_resolve_to_private_addresses(
    public_only: Any, dns: MappingResolver, addresses: list[str]
) -> None:
    dns.map("feeds.example.com", *addresses)

    assert refusal("https://feeds.example.com/data.json") == (
        "The host resolves to a non-public address."
    )
    assert refusal("https://FEEDS.example.com./data.json") == (
        "The host resolves to a non-public address."
    )


def test_accepts_names_that_resolve_to_public_addresses(
    public_only: Any, dns: MappingResolver
) -> None:
    dns.map("feeds.example.com", "93.184.216.34", "2606:2800:220:1::1")

    validate_task_url("https://feeds.example.com/data.json?page=1#top")


def test_accepts_a_name_that_does_not_resolve_now(public_only: Any, dns: MappingResolver) -> None:
    validate_task_url(ORIGINAL_EXAMPLE_TASK["url"])


def test_accepts_public_ip_literals_and_international_names(public_only: Any) -> None:
    validate_task_url("http://8.8.8.8/")
    validate_task_url("https://[2606:4700:4700::1111]:8443/dns")


@pytest.mark.parametrize(
    ("allowed", "url"),
    [
        (["internal.test"], "http://internal.test/feed"),
        (["internal.test"], "http://internal.test:9000/feed"),
        (["internal.test:9000"], "http://internal.test:9000/feed"),
        (["127.0.0.1"], "http://127.0.0.1:5000/feed"),
        (["[::1]:8080"], "http://[::1]:8080/feed"),
        (["::1"], "http://[::1]/feed"),
    ],
)
def test_allowed_hosts_may_be_private(
    public_only: dict[str, Any], dns: MappingResolver, allowed: list[str], url: str
) -> None:
    dns.map("internal.test", "10.0.0.5")
    public_only["FETCH_ALLOWED_HOSTS"] = allowed

    validate_task_url(url)


@pytest.mark.parametrize(
    ("allowed", "url"),
    [
        (["internal.test:9000"], "http://internal.test:9001/feed"),
        (["internal.test"], "http://other.internal.test/feed"),
        (["127.0.0.1"], "http://127.0.0.2/feed"),
    ],
)
def test_allowed_hosts_match_exactly(
    public_only: dict[str, Any], dns: MappingResolver, allowed: list[str], url: str
) -> None:
    dns.map("internal.test", "10.0.0.5")
    dns.map("other.internal.test", "10.0.0.5")
    public_only["FETCH_ALLOWED_HOSTS"] = allowed

    assert "non-public" in refusal(url)


def test_allowed_hosts_still_get_the_spelling_rules(public_only: dict[str, Any]) -> None:
    public_only["FETCH_ALLOWED_HOSTS"] = ["2130706433", "0x7f.1"]

    assert "four decimal numbers" in refusal("http://2130706433/")
    assert "four decimal numbers" in refusal("http://0x7f.1/")


def test_allow_private_lets_private_addresses_through(public_only: dict[str, Any]) -> None:
    public_only["FETCH_ALLOW_PRIVATE"] = True

    validate_task_url("http://127.0.0.1:8080/")
    validate_task_url("http://[::1]/")
    assert "credentials" in refusal("http://a@127.0.0.1/")


def task_body(url: str) -> dict[str, Any]:
    start = datetime.now(UTC)
    return {
        "name": "feed",
        "url": url,
        "parameters": {},
        "start_time": start.isoformat(),
        "end_time": (start + timedelta(days=1)).isoformat(),
        "task_interval": 60,
        "max_execution_time": 0,
        "max_attempt": 3,
    }


def test_the_task_api_answers_422_for_a_private_url_on_create_and_update(
    public_only: Any, dns: MappingResolver, client: FlaskClient, auth_headers: dict[str, str]
) -> None:
    dns.map("rebind.example.com", "127.0.0.1")

    created = client.post(
        "/tasks", json=task_body("http://rebind.example.com/"), headers=auth_headers
    )
    assert created.status_code == 422
    assert created.json is not None
    assert created.json["errors"]["url"] == ["The host resolves to a non-public address."]

    dns.map("feeds.example.com", "93.184.216.34")
    good = client.post("/tasks", json=task_body("http://feeds.example.com/"), headers=auth_headers)
    assert good.status_code == 201, good.json
    assert good.json is not None
    changed = client.patch(
        f"/tasks/{good.json['id']}",
        json={"url": "http://169.254.169.254/latest/meta-data/"},
        headers=auth_headers,
    )
    assert changed.status_code == 422
    assert changed.json is not None
    assert changed.json["errors"]["url"] == ["The host is a non-public address."]


def test_the_task_api_accepts_the_original_example_body(
    public_only: Any, dns: MappingResolver, client: FlaskClient, auth_headers: dict[str, str]
) -> None:

    response = client.post("/tasks", json=ORIGINAL_EXAMPLE_TASK, headers=auth_headers)

    assert response.status_code == 201, response.json

"""What the fetcher sends and how it reads answers: statuses, JSON, redirects, 304s, cookies."""

from __future__ import annotations

import json
from typing import Any

import marshmallow as ma
import pytest
from flask import Flask

from tests.services.fetch.servers import BoundHTTPServer
from tests.support.http_server import LocalHTTPServer, Reply, Request
from website.schemas.task_parameters import TaskParametersSchema
from website.services.fetch import USER_AGENT, FetchError, FetchRequest, fetch

# Headers the fetcher sets itself (or that belong to one connection): refused when a task is saved,
# and dropped from a task stored before they were refused.
MANAGED_HEADERS = [
    "Accept-Encoding",
    "Connection",
    "Content-Length",
    "Host",
    "Keep-Alive",
    "Proxy-Authenticate",
    "Proxy-Authorization",
    "Proxy-Connection",
    "TE",
    "Trailer",
    "Transfer-Encoding",
    "Upgrade",
]


def failure(url: str, **request: Any) -> FetchError:
    with pytest.raises(FetchError) as caught:
        fetch(FetchRequest(url, **request))
    return caught.value


@pytest.mark.parametrize(
    ("status", "message"),
    [
        (404, "HTTP 404 Not Found."),
        (500, "HTTP 500 Internal Server Error."),
        (429, "HTTP 429 Too Many Requests."),
        (302, "HTTP 302 Found."),  # a redirect without a Location
        (599, "HTTP 599."),
    ],
)
def test_a_non_2xx_status_fails_with_that_status(
    app: Flask, http_server: LocalHTTPServer, status: int, message: str
) -> None:
    http_server.json("/feed", {"error": "private details"}, status=status)

    error = failure(http_server.url("/feed"))

    assert (error.kind, error.http_status, error.message) == ("failed", status, message)


@pytest.mark.parametrize(
    ("body", "message"),
    [
        (b'{"a": 1,\n "b": }', "Invalid JSON at line 2 column 7: Expecting value."),
        (b"[1, 2", "Invalid JSON at line 1 column 6: Expecting ',' delimiter."),
        (b"<html>oops</html>", "Invalid JSON at line 1 column 1: Expecting value."),
        (b"", "The response body is empty; expected JSON."),
        (b"  \n", "The response body is empty; expected JSON."),
        (b"[NaN]", "Invalid JSON: NaN is not a JSON number."),
        (b'{"x": -Infinity}', "Invalid JSON: -Infinity is not a JSON number."),
        (b'{"x": 1e999}', "Invalid JSON: 1e999 is beyond the range of a number."),
        (b'["\xff\xfe\xfd"]', "Invalid JSON: the body is not UTF-8 text."),
        (b"[" * 100_000, "Invalid JSON: nested too deeply."),
        (b"1" * 5000, "Invalid JSON: a number has too many digits."),
    ],
)
def test_invalid_json_fails_saying_where(
    app: Flask, http_server: LocalHTTPServer, body: bytes, message: str
) -> None:
    http_server.route("/feed", lambda _request: Reply(200, body))

    error = failure(http_server.url("/feed"))

    assert (error.kind, error.http_status, error.message) == ("failed", 200, message)


def test_valid_json_of_any_shape_is_returned(app: Flask, http_server: LocalHTTPServer) -> None:
    payload = {"items": [{"id": 1, "name": "caf\u00e9", "tags": ["a"], "score": 1.5}], "n": None}
    http_server.json("/feed", payload)
    http_server.route(
        "/bom", lambda _request: Reply(200, b"\xef\xbb\xbf" + json.dumps([1]).encode())
    )

    result = fetch(FetchRequest(http_server.url("/feed")))

    assert (result.status_code, result.payload, result.not_modified) == (200, payload, False)
    assert fetch(FetchRequest(http_server.url("/bom"))).payload == [1]


def test_sends_query_headers_and_a_json_body(app: Flask, http_server: LocalHTTPServer) -> None:
    http_server.json("/search", [])
    parameters = {
        "method": "POST",
        "query": {"q": "caf\u00e9 & more", "page": 2, "tag": ["a", "b"]},
        "headers": {"X-Api-Key": "k-123", "Accept": "application/vnd.example+json"},
        "body": {"filter": {"since": "2024-01-01"}},
    }

    fetch(FetchRequest(http_server.url("/search?fixed=1"), parameters=parameters))

    [request] = http_server.requests
    assert request.method == "POST"
    assert request.path == "/search?fixed=1&q=caf%C3%A9+%26+more&page=2&tag=a&tag=b"
    assert request.headers["X-Api-Key"] == "k-123"
    assert request.headers["Accept"] == "application/vnd.example+json"
    assert request.headers["Content-Type"] == "application/json"
    assert json.loads(request.body) == {"filter": {"since": "2024-01-01"}}


def test_names_the_project_and_its_version_and_keeps_its_own_transport_headers(
    app: Flask, http_server: LocalHTTPServer
) -> None:
    http_server.json("/feed", [])
    headers = {"Accept-Encoding": "br", "Host": "evil.test", "Transfer-Encoding": "chunked"}

    fetch(FetchRequest(http_server.url("/feed"), parameters={"headers": headers}))

    [request] = http_server.requests
    assert request.headers["User-Agent"] == USER_AGENT
    assert USER_AGENT.startswith("challenge/")
    assert request.headers["Accept"] == "application/json"
    assert request.headers["Accept-Encoding"] == "gzip, deflate"
    assert request.headers["Host"] == f"127.0.0.1:{http_server.port}"
    assert "Transfer-Encoding" not in request.headers


@pytest.mark.parametrize("name", MANAGED_HEADERS)
def test_a_header_the_api_refuses_is_one_the_fetcher_never_sends_from_a_task(
    app: Flask, http_server: LocalHTTPServer, name: str
) -> None:
    http_server.json("/feed", [])
    parameters = {"headers": {name: "from-the-task"}}

    with pytest.raises(ma.ValidationError) as refused:
        TaskParametersSchema().load(parameters)
    fetch(FetchRequest(http_server.url("/feed"), parameters=parameters))

    assert refused.value.messages == {"headers": {name: ["This header is managed by the fetcher."]}}
    [request] = http_server.requests
    assert "from-the-task" not in request.headers.values()


def test_a_header_with_a_line_break_is_refused_before_sending(
    app: Flask, http_server: LocalHTTPServer
) -> None:
    headers = {"X-Test": "a\r\nX-Injected: yes"}

    error = failure(http_server.url("/feed"), parameters={"headers": headers})

    assert "headers" in error.message
    assert http_server.requests == []


def redirect(to: str, status: int = 302) -> Any:
    return lambda _request: Reply(status, b"", {"Location": to})


def test_follows_redirects_checking_each_hop(app: Flask, http_server: LocalHTTPServer) -> None:
    http_server.route("/a", redirect("/b", 301))
    http_server.route("/b", redirect(f"http://127.0.0.1:{http_server.port}/c?x=1", 307))
    http_server.json("/c", {"ok": True})

    result = fetch(FetchRequest(http_server.url("/a")))

    assert (result.payload, result.redirects) == ({"ok": True}, 2)
    assert result.url == http_server.url("/c?x=1")


@pytest.mark.parametrize(
    ("status", "method", "body"),
    [
        (301, "GET", b""),
        (302, "GET", b""),
        (303, "GET", b""),
        (307, "POST", b'{"n":1}'),
        (308, "POST", b'{"n":1}'),
    ],
)
def test_redirects_keep_or_drop_the_method_like_browsers(
    app: Flask, http_server: LocalHTTPServer, status: int, method: str, body: bytes
) -> None:
    http_server.route("/submit", redirect("/done", status))
    http_server.json("/done", {"ok": True})

    fetch(FetchRequest(http_server.url("/submit"), parameters={"method": "POST", "body": {"n": 1}}))

    [_, followed] = http_server.requests
    assert (followed.method, followed.body) == (method, body)


def test_credentials_go_only_to_the_origin_the_task_names(
    app: Flask, http_server: LocalHTTPServer
) -> None:
    other = BoundHTTPServer("127.0.0.2").start()
    try:
        other.json("/feed", [])
        http_server.route("/same", redirect("/elsewhere"))
        http_server.route("/elsewhere", redirect(other.url("/feed")))
        headers = {"Authorization": "Bearer t0ken", "Cookie": "s=1", "X-Trace": "abc"}

        fetch(FetchRequest(http_server.url("/same"), parameters={"headers": headers}))

        [first, second] = http_server.requests
        [third] = other.requests
    finally:
        other.stop()
    assert first.headers["Authorization"] == second.headers["Authorization"] == "Bearer t0ken"
    assert "Authorization" not in third.headers
    assert "Cookie" not in third.headers
    assert third.headers["X-Trace"] == "abc"


def test_stops_after_the_configured_number_of_redirects(
    app: Flask, http_server: LocalHTTPServer
) -> None:
    app.config["FETCH_MAX_REDIRECTS"] = 3
    http_server.route("/loop", redirect("/loop"))

    error = failure(http_server.url("/loop"))

    assert error.message == "Too many redirects (more than 3)."
    assert len(http_server.requests) == 4


def test_cookies_never_pass_from_one_fetch_to_the_next(
    app: Flask, http_server: LocalHTTPServer
) -> None:
    http_server.route(
        "/login", lambda _request: Reply(200, b"[]", {"Set-Cookie": "session=abc; Path=/"})
    )
    http_server.json("/feed", [])

    fetch(FetchRequest(http_server.url("/login")))
    fetch(FetchRequest(http_server.url("/feed")))

    assert "Cookie" not in http_server.requests_to("/feed")[0].headers


def conditional_feed(etag: str, last_modified: str) -> Any:
    """A feed that answers 304 when the client already has its version."""

    def handler(request: Request) -> Reply:
        if request.headers.get("If-None-Match") == etag or (
            request.headers.get("If-Modified-Since") == last_modified
        ):
            return Reply(304, b"", {"ETag": etag})
        body = json.dumps([{"id": 1}]).encode()
        return Reply(200, body, {"ETag": etag, "Last-Modified": last_modified})

    return handler


def test_a_304_is_a_success_without_a_payload(app: Flask, http_server: LocalHTTPServer) -> None:
    modified = "Wed, 21 Oct 2015 07:28:00 GMT"
    http_server.route("/feed", conditional_feed('"v1"', modified))
    url = http_server.url("/feed")

    first = fetch(FetchRequest(url))
    by_etag = fetch(FetchRequest(url, etag=first.etag))
    by_date = fetch(FetchRequest(url, last_modified=first.last_modified))

    assert (first.not_modified, first.etag, first.last_modified) == (False, '"v1"', modified)
    assert (by_etag.status_code, by_etag.not_modified, by_etag.payload) == (304, True, None)
    assert (by_etag.etag, by_etag.last_modified) == ('"v1"', None)
    assert (by_date.not_modified, by_date.etag) == (True, '"v1"')
    first_request, etag_request, date_request = http_server.requests
    assert "If-None-Match" not in first_request.headers
    assert etag_request.headers["If-None-Match"] == '"v1"'
    assert date_request.headers["If-Modified-Since"] == modified


def test_a_304_to_an_unconditional_request_is_a_failure(
    app: Flask, http_server: LocalHTTPServer
) -> None:
    http_server.route("/feed", lambda _request: Reply(304))

    error = failure(http_server.url("/feed"))

    assert (error.http_status, error.message) == (304, "HTTP 304 Not Modified.")


def test_a_validator_too_long_to_store_is_not_kept(
    app: Flask, http_server: LocalHTTPServer
) -> None:
    headers = {"ETag": '"' + "x" * 600 + '"', "Last-Modified": "today"}
    http_server.route("/feed", lambda _request: Reply(200, b"[]", headers))

    result = fetch(FetchRequest(http_server.url("/feed")))

    assert (result.etag, result.last_modified) == (None, "today")

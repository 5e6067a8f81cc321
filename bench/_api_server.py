"""The WSGI app the API benchmark serves with gunicorn: the real app, and two hellos beside it.

- /bench/hello: the baseline, a bare Flask app (no extensions, no hooks, no auth, no database)
  answering a small JSON object: what any endpoint of a Flask API costs at the least.
- /bench/raw-hello: a plain WSGI callable, for reference: what gunicorn itself costs.

Both are served by the same gunicorn workers as the API, so that they differ from the API
endpoints only by what the API does.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any

from flask import Flask

from website import create_app

HELLO_PATH = "/bench/hello"
RAW_HELLO_PATH = "/bench/raw-hello"
RAW_HELLO_BODY = b'{"hello": "world"}'

api = create_app()
hello = Flask("bench_hello")


@hello.get(HELLO_PATH)
def say_hello() -> dict[str, str]:
    return {"hello": "world"}


def application(environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
    path = environ.get("PATH_INFO")
    if path == HELLO_PATH:
        return hello(environ, start_response)
    if path == RAW_HELLO_PATH:
        start_response(
            "200 OK",
            [("Content-Type", "application/json"), ("Content-Length", str(len(RAW_HELLO_BODY)))],
        )
        return [RAW_HELLO_BODY]
    return api(environ, start_response)

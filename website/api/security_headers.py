"""Security headers on every response (pages that need a fuller policy set their own)."""

from __future__ import annotations

from flask import Flask, Response

__all__ = ["SECURITY_HEADERS", "init_app"]

SECURITY_HEADERS = {
    # A response is only what its Content-Type says: never sniffed into a script or a page.
    "X-Content-Type-Options": "nosniff",
    # No response of ours inside another site's frame (clickjacking); the header for browsers
    # that predate frame-ancestors.
    "X-Frame-Options": "DENY",
    "Content-Security-Policy": "frame-ancestors 'none'",
    # Links followed from our pages tell nobody where they came from.
    "Referrer-Policy": "no-referrer",
}


def _add_security_headers(response: Response) -> Response:
    for name, value in SECURITY_HEADERS.items():
        response.headers.setdefault(name, value)  # a page's own, fuller policy stays
    return response


def init_app(app: Flask) -> None:
    app.after_request(_add_security_headers)

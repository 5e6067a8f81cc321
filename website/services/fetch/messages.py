"""Short, safe sentences for a failed fetch: HTTP statuses and transport errors."""

from __future__ import annotations

import ssl
from http import HTTPStatus

import httpx

__all__ = ["status_message", "transport_message"]


def status_message(status: int) -> str:
    try:
        return f"HTTP {status} {HTTPStatus(status).phrase}."
    except ValueError:
        return f"HTTP {status}."


def transport_message(error: httpx.HTTPError, where: str) -> str:
    """What went wrong talking to ``where`` (``host:port``), without the server's own words."""
    if isinstance(error, httpx.ConnectError):
        cause = _root_cause(error)
        if isinstance(cause, ssl.SSLCertVerificationError):
            return f"TLS certificate verification failed for {where}: {cause.verify_message}."
        if isinstance(cause, ssl.SSLError):
            return f"TLS handshake with {where} failed."
        if isinstance(cause, ConnectionRefusedError):
            return f"Connection to {where} refused."
        return f"Could not connect to {where}."
    if isinstance(error, httpx.RemoteProtocolError):
        return f"{where} closed the connection or sent an invalid HTTP response."
    if isinstance(error, httpx.ReadError):
        return f"The connection to {where} broke while reading the response."
    if isinstance(error, httpx.WriteError):
        return f"The connection to {where} broke while sending the request."
    if isinstance(error, httpx.LocalProtocolError):
        return "The request could not be sent: check the task's headers."
    return f"The request to {where} failed."


def _root_cause(error: BaseException) -> BaseException:
    """The original OS or TLS error under httpx's and httpcore's wrappers."""
    while True:
        inner = error.__cause__ or error.__context__
        if inner is None and error.args and isinstance(error.args[0], BaseException):
            inner = error.args[0]  # httpcore keeps it as its argument
        if inner is None:
            return error
        error = inner

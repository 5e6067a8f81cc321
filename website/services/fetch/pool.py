"""This process's transport (its connection pool): made on first use, and again after a fork."""

from __future__ import annotations

import atexit
import os
import ssl
import threading

import httpx

from website.services.fetch.transport import PinnedTransport

__all__ = ["CONNECTION_LIMITS", "process_transport"]

CONNECTION_LIMITS = httpx.Limits(
    # None: no limit of its own. The fetches of a process are as many as its worker's concurrency
    # (threads) or one (a prefork child); a limit below that would queue them behind it.
    max_connections=None,
    max_keepalive_connections=20,
    keepalive_expiry=30.0,  # seconds an idle connection is kept for the task's next run
)

_transports: dict[tuple[int, str | None], PinnedTransport] = {}
_transports_lock = threading.Lock()


def _ssl_context(ca_bundle: str | None) -> ssl.SSLContext:
    """Certificates checked against certifi's authorities, or those in ``ca_bundle``."""
    if ca_bundle:
        return ssl.create_default_context(cafile=ca_bundle)
    return httpx.create_ssl_context(trust_env=False)


def process_transport(ca_bundle: str | None = None) -> PinnedTransport:
    """This process's transport, shared by its fetches so connections are kept alive.

    Nothing else is shared: no cookies, no credentials (the fetcher sends neither by itself).
    """
    key = (os.getpid(), ca_bundle)
    transport = _transports.get(key)
    if transport is None:
        with _transports_lock:
            transport = _transports.get(key)
            if transport is None:
                # A forked child must not share its parent's sockets: forget, never close, them.
                for stale in [other for other in _transports if other[0] != key[0]]:
                    del _transports[stale]
                transport = PinnedTransport(_ssl_context(ca_bundle), CONNECTION_LIMITS)
                _transports[key] = transport
    return transport


@atexit.register
def _close_transports() -> None:
    """Close this process's pooled connections on the way out, rather than leave them to GC."""
    with _transports_lock:
        for key in [key for key in _transports if key[0] == os.getpid()]:
            _transports.pop(key).close()

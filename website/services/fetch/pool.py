"""Each fetching thread's transport (its connection pool): made on first use, again after a fork.

One pool per thread, not one per process: a ``threads`` worker runs hundreds of fetches at once,
and httpcore 1.0's pool, shared by them, closes a connection it has just handed to one thread
when another thread's request passes through it and finds the connection still idle: the first
request then fails on a closed socket ("broke while reading the response") or waits until its
deadline (encode/httpcore#1110). A thread's own pool serves one fetch at a time, so nothing can
close a connection under it, and no thread waits on another's pool lock. The TLS context (the
certificate store) is shared by the process.
"""

from __future__ import annotations

import os
import ssl
import threading
import weakref

import httpx

from website.services.fetch.transport import PinnedTransport

__all__ = ["CONNECTION_LIMITS", "thread_transport"]

CONNECTION_LIMITS = httpx.Limits(
    # One fetch at a time per pool (a fetch's redirects follow one another), so no limit of its own.
    max_connections=None,
    # Idle connections kept per thread: the origins of its last fetches. A worker keeps at most
    # its concurrency times this many open to upstreams between fetches.
    max_keepalive_connections=2,
    keepalive_expiry=30.0,  # seconds an idle connection is kept for the task's next run
)


class _Transports(dict[str | None, PinnedTransport]):
    """A thread's transports by CA bundle (a class of its own so that it can be watched)."""


class _ThreadState(threading.local):
    """This thread's transports, and the process that made them."""

    def __init__(self) -> None:
        self.pid = os.getpid()
        self.transports = _Transports()


_local = _ThreadState()
_lock = threading.Lock()
_ssl_contexts: dict[tuple[int, str | None], ssl.SSLContext] = {}


def _ssl_context(ca_bundle: str | None) -> ssl.SSLContext:
    """Certificates checked against certifi's authorities, or those in ``ca_bundle``: one
    context per process and bundle (loading the store costs milliseconds and a megabyte)."""
    key = (os.getpid(), ca_bundle)
    with _lock:
        context = _ssl_contexts.get(key)
        if context is None:
            if ca_bundle:
                context = ssl.create_default_context(cafile=ca_bundle)
            else:
                context = httpx.create_ssl_context(trust_env=False)
            _ssl_contexts[key] = context
    return context


def thread_transport(ca_bundle: str | None = None) -> PinnedTransport:
    """This thread's transport, kept so that its next fetches reuse their connections.

    Its connections are closed when the thread ends or the process exits. Nothing else is
    shared: no cookies, no credentials (the fetcher sends neither by itself).
    """
    if _local.pid != os.getpid():
        # A forked child must not share its parent's sockets: forget, never close, them.
        _local.pid, _local.transports = os.getpid(), _Transports()
    transport = _local.transports.get(ca_bundle)
    if transport is None:
        transport = PinnedTransport(_ssl_context(ca_bundle), CONNECTION_LIMITS)
        _local.transports[ca_bundle] = transport
        # Runs when the thread's transports are dropped (the thread ended) or at exit.
        weakref.finalize(_local.transports, _close, transport, os.getpid())
    return transport


def _close(transport: PinnedTransport, pid: int) -> None:
    if pid == os.getpid():  # not in a forked child: the sockets are its parent's
        transport.close()

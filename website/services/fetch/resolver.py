"""Host name resolution for the fetcher: a swappable resolver, bounded in time."""

from __future__ import annotations

import os
import socket
import threading
from collections.abc import Iterator, Mapping, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from concurrent.futures import TimeoutError as FutureTimeout
from contextlib import contextmanager
from typing import Protocol

__all__ = [
    "HostNotFound",
    "MappingResolver",
    "ResolutionTimeout",
    "Resolver",
    "SystemResolver",
    "resolve_within",
    "use_resolver",
]

RESOLVER_THREADS = 16  # concurrent lookups per process (above the default worker concurrency)


class HostNotFound(LookupError):
    """The name has no address (or the resolver could not be reached)."""


class ResolutionTimeout(TimeoutError):
    """The resolver did not answer before the deadline."""


class Resolver(Protocol):
    """Turns a host name into IP address strings; raises ``HostNotFound`` when it cannot."""

    def resolve(self, host: str, port: int) -> list[str]: ...


class SystemResolver:
    """The operating system's resolver (``getaddrinfo``): /etc/hosts, DNS, and so on."""

    def resolve(self, host: str, port: int) -> list[str]:
        try:
            infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
        except (socket.gaierror, UnicodeError) as error:
            raise HostNotFound(host) from error
        addresses: list[str] = []
        for _family, _type, _proto, _canonname, sockaddr in infos:
            address = str(sockaddr[0])
            if address not in addresses:
                addresses.append(address)
        if not addresses:
            raise HostNotFound(host)
        return addresses


class MappingResolver:
    """A fixed table of names to addresses, for tests and for pinning names by configuration."""

    def __init__(self, table: Mapping[str, Sequence[str]]) -> None:
        self.table = {
            name.lower().rstrip("."): list(addresses) for name, addresses in table.items()
        }

    def map(self, host: str, *addresses: str) -> None:
        """Answer ``addresses`` for ``host`` from now on."""
        self.table[host.lower().rstrip(".")] = list(addresses)

    def resolve(self, host: str, port: int) -> list[str]:
        addresses = self.table.get(host.lower().rstrip("."))
        if not addresses:
            raise HostNotFound(host)
        return list(addresses)


_resolver: Resolver = SystemResolver()
_executor: tuple[int, ThreadPoolExecutor] | None = None  # (owner pid, pool): pools do not fork
_executor_lock = threading.Lock()


@contextmanager
def use_resolver(resolver: Resolver) -> Iterator[Resolver]:
    """Resolve every host with ``resolver`` inside the block (process-wide)."""
    global _resolver
    saved = _resolver
    _resolver = resolver
    try:
        yield resolver
    finally:
        _resolver = saved


def resolve_within(host: str, port: int, seconds: float) -> list[str]:
    """Resolve ``host`` with the current resolver, giving up after ``seconds``.

    ``getaddrinfo`` cannot be interrupted, so the lookup runs on a small per-process pool and
    the caller stops waiting at the deadline; a stuck lookup finishes in the background.
    """
    if seconds <= 0:
        raise ResolutionTimeout(host)
    future: Future[list[str]] = _lookup_pool().submit(_resolver.resolve, host, port)
    try:
        return future.result(timeout=seconds)
    except FutureTimeout:
        future.cancel()
        raise ResolutionTimeout(host) from None


def _lookup_pool() -> ThreadPoolExecutor:
    global _executor
    with _executor_lock:
        if _executor is None or _executor[0] != os.getpid():
            pool = ThreadPoolExecutor(RESOLVER_THREADS, thread_name_prefix="fetch-resolver")
            _executor = (os.getpid(), pool)
        return _executor[1]

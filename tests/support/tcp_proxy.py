"""A TCP proxy on 127.0.0.1 between the app and a server, which a test breaks on purpose.

    with proxy_to(("127.0.0.1", 5432)) as proxy:   # point the app at proxy.port
        proxy.black_hole()  # a partition: bytes are taken but never forwarded, nothing closes
        proxy.heal()        # the held bytes are delivered, traffic flows again
        proxy.refuse()      # the server is down: connections are closed and refused
        proxy.restore()     # it is back on the same port

Threads, not asyncio: a test drives it from ordinary synchronous code. The proxy's own socket
takes every byte (the kernel acknowledges it), so a black hole is silent to the peer's TCP: only
a deadline the client keeps itself ends a wait on it.
"""

from __future__ import annotations

import contextlib
import socket
import threading
from collections.abc import Iterator

__all__ = ["TCPProxy", "proxy_to"]

CHUNK_BYTES = 65536
ACCEPT_POLL_SECONDS = 0.05  # how soon the accept loop notices refuse() or stop()


class _Pipe:
    """One direction of one connection: bytes read from ``source`` go to ``target``."""

    def __init__(self, source: socket.socket, target: socket.socket, proxy: TCPProxy) -> None:
        self.source = source
        self.target = target
        self.proxy = proxy
        self.held: list[bytes] = []
        self.lock = threading.Lock()
        threading.Thread(target=self._pump, daemon=True).start()

    def _pump(self) -> None:
        while self._forward(self._receive()):
            pass
        self.proxy._close(self.source, self.target)

    def _receive(self) -> bytes:
        try:
            return self.source.recv(CHUNK_BYTES)
        except OSError:
            return b""

    def _forward(self, chunk: bytes) -> bool:
        """Send or hold ``chunk``; False once the connection is over."""
        if not chunk:
            return False
        with self.lock:
            if self.proxy.holding:
                self.held.append(chunk)
                return True
            try:
                self.target.sendall(chunk)
            except OSError:
                return False
            return True

    def deliver_held(self) -> None:
        """Send what was held (the caller holds ``lock``)."""
        data, self.held = b"".join(self.held), []
        if data:
            with contextlib.suppress(OSError):
                self.target.sendall(data)


class TCPProxy:
    """Forwards connections to ``upstream`` until told to hold, refuse or stop."""

    def __init__(self, upstream: tuple[str, int]) -> None:
        self.upstream = upstream
        self.holding = False
        self.port = 0
        self._listener: socket.socket | None = None
        self._sockets: set[socket.socket] = set()
        self._pipes: list[_Pipe] = []
        self._lock = threading.Lock()

    def start(self) -> TCPProxy:
        listener = socket.socket()
        listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        listener.bind(("127.0.0.1", self.port))
        listener.listen(64)
        listener.settimeout(ACCEPT_POLL_SECONDS)
        self.port = listener.getsockname()[1]
        self._listener = listener
        threading.Thread(target=self._accept, args=(listener,), daemon=True).start()
        return self

    def _accept(self, listener: socket.socket) -> None:
        while self._listener is listener:
            try:
                client, _address = listener.accept()
            except TimeoutError:
                continue
            except OSError:
                return
            try:
                server = socket.create_connection(self.upstream)
            except OSError:
                client.close()
                continue
            with self._lock:
                self._sockets.update((client, server))
                self._pipes += [_Pipe(client, server, self), _Pipe(server, client, self)]

    def black_hole(self) -> None:
        """Take every byte in both directions and forward none; close nothing, refuse nothing."""
        self.holding = True

    def heal(self) -> None:
        """Deliver what was held, then forward again, like a partition that ends."""
        with self._lock, contextlib.ExitStack() as stack:
            # Every pump waits while the held bytes go first, so none overtakes them.
            for pipe in self._pipes:
                stack.enter_context(pipe.lock)
            for pipe in self._pipes:
                pipe.deliver_held()
            self.holding = False

    def refuse(self) -> None:
        """Close every connection and stop listening, like a server that is down."""
        listener, self._listener = self._listener, None
        if listener is not None:
            self._shut(listener)  # shutdown stops the listening at once, even mid-accept()
        with self._lock:
            sockets, self._sockets, self._pipes = set(self._sockets), set(), []
        for sock in sockets:
            self._shut(sock)

    def restore(self) -> None:
        """Listen again on the same port."""
        self.holding = False
        self.start()

    def stop(self) -> None:
        self.refuse()

    def _close(self, *sockets: socket.socket) -> None:
        with self._lock:
            self._sockets.difference_update(sockets)
            self._pipes = [pipe for pipe in self._pipes if pipe.source not in sockets]
        for sock in sockets:
            self._shut(sock)

    @staticmethod
    def _shut(sock: socket.socket) -> None:
        # shutdown wakes the pump blocked in recv() on it; close alone would not.
        with contextlib.suppress(OSError):
            sock.shutdown(socket.SHUT_RDWR)
        sock.close()


@contextlib.contextmanager
def proxy_to(upstream: tuple[str, int]) -> Iterator[TCPProxy]:
    """A started proxy to ``upstream``, stopped at the end of the block."""
    proxy = TCPProxy(upstream).start()
    try:
        yield proxy
    finally:
        proxy.stop()

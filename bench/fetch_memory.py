"""Fetcher memory: peak RSS growth while refusing a 200 MiB response with a 10 MiB cap.

Each measurement runs in a fresh Python process (peak RSS only ever grows): the process builds
the app, fetches a tiny response (the baseline: imports, client and pool all warm), notes its
RSS, then fetches the big response and notes its peak RSS. The growth is the difference: an
upper bound, as the earlier peak could only be higher than the RSS at the baseline.
A plain ``httpx.get`` of the same response, in the same run, shows what the cap saves.

Run: ``python bench/fetch_memory.py`` or ``python -m bench fetch_memory``. Target: growth under
40 MiB.
"""

from __future__ import annotations

import gzip
import json
import os
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

MIB = 1024 * 1024
RESPONSE_BYTES = 200 * MIB  # what the server offers
CAP_BYTES = 10 * MIB  # FETCH_MAX_BYTES in the measuring process
TARGET_GROWTH = 40 * MIB  # the acceptance limit for peak RSS growth
CHUNK = 64 * 1024  # bytes per chunk the server writes
TINY_BODY = b'[{"id": 1}]'
# A JSON array of numbers, repeated: looks like real data, compresses like real data.
PATTERN = b"".join(b"%d," % number for number in range(20000))


def _chunks(total: int) -> Iterator[bytes]:
    block = (PATTERN * (CHUNK // len(PATTERN) + 1))[:CHUNK]
    yield b"["
    sent = 1
    while sent < total - 2:
        piece = block[: min(CHUNK, total - 2 - sent)]
        yield piece
        sent += len(piece)
    yield b"0]"


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    gzip_bomb = b""  # built by the server process only, never by the measuring ones

    def log_message(self, format: str, *args: Any) -> None:
        return

    def do_GET(self) -> None:
        try:
            if self.path == "/tiny":
                self._send(TINY_BODY)
            elif self.path == "/chunked":
                self._send_chunked(_chunks(RESPONSE_BYTES))
            elif self.path == "/sized":
                self.send_response(200)
                self.send_header("Content-Length", str(RESPONSE_BYTES))
                self.end_headers()
                for chunk in _chunks(RESPONSE_BYTES):
                    self.wfile.write(chunk)
            elif self.path == "/gzip":
                self._send(self.gzip_bomb, {"Content-Encoding": "gzip"})
            else:
                self._send(b"{}", status=404)
        except (BrokenPipeError, ConnectionResetError):
            pass  # the fetcher hung up at the cap: the point of the exercise

    def _send(self, body: bytes, headers: dict[str, str] | None = None, status: int = 200) -> None:
        self.send_response(status)
        for name, value in (headers or {}).items():
            self.send_header(name, value)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def _send_chunked(self, chunks: Iterator[bytes]) -> None:
        self.send_response(200)
        self.send_header("Transfer-Encoding", "chunked")
        self.end_headers()
        for chunk in chunks:
            self.wfile.write(b"%x\r\n%s\r\n" % (len(chunk), chunk))
        self.wfile.write(b"0\r\n\r\n")


class _Server(ThreadingHTTPServer):
    daemon_threads = True

    def handle_error(self, request: Any, client_address: Any) -> None:
        if not isinstance(sys.exc_info()[1], ConnectionError):
            super().handle_error(request, client_address)


def _memory_status(field: str) -> int:
    """A ``/proc/self/status`` memory figure in bytes (``VmHWM``: peak RSS, ``VmRSS``: now).

    ``VmHWM``, unlike getrusage's ``ru_maxrss``, does not inherit the peak of the parent process.
    """
    with open("/proc/self/status") as status:
        for line in status:
            if line.startswith(field + ":"):
                return int(line.split()[1]) * 1024
    raise RuntimeError(f"no {field} in /proc/self/status (Linux only)")


def _peak_rss() -> int:
    return _memory_status("VmHWM")


def _current_rss() -> int:
    return _memory_status("VmRSS")


def measure_fetcher(base_url: str, path: str) -> dict[str, Any]:
    """In this (fresh) process: baseline after a tiny fetch, then the big one."""
    from website import create_app
    from website.services.fetch import FetchError, FetchRequest, fetch

    app = create_app({"TESTING": True, "FETCH_MAX_BYTES": CAP_BYTES, "FETCH_ALLOW_PRIVATE": True})
    with app.app_context():
        fetch(FetchRequest(base_url + "/tiny", timeout=60))
        baseline = _current_rss()  # not the earlier peak: memory freed since then could hide growth
        started = time.monotonic()
        try:
            result = fetch(FetchRequest(base_url + path, timeout=120))
            outcome = f"accepted {result.size} bytes"
        except FetchError as error:
            outcome = error.message
        elapsed = time.monotonic() - started
    return {"baseline": baseline, "peak": _peak_rss(), "outcome": outcome, "seconds": elapsed}


def measure_plain_httpx(base_url: str, path: str) -> dict[str, Any]:
    """The same download with a plain ``httpx.get``: no cap, the whole body in memory."""
    import httpx

    httpx.get(base_url + "/tiny", timeout=60)
    baseline = _current_rss()
    started = time.monotonic()
    response = httpx.get(base_url + path, timeout=120)
    elapsed = time.monotonic() - started
    return {
        "baseline": baseline,
        "peak": _peak_rss(),
        "outcome": f"read {len(response.content)} bytes",
        "seconds": elapsed,
    }


def _run_child(kind: str, base_url: str, path: str, environment: dict[str, str]) -> dict[str, Any]:
    completed = subprocess.run(
        [sys.executable, __file__, "--child", kind, base_url, path],
        env=environment,
        capture_output=True,
        text=True,
        timeout=600,
        check=True,
    )
    result: dict[str, Any] = json.loads(completed.stdout.strip().splitlines()[-1])
    return result


def main(argv: list[str] | None = None) -> None:
    """Measure and print a table; exit with status 1 when a fetcher case misses the target.

    ``argv`` (``--child KIND URL PATH``) is how this script runs its own measuring processes.
    """
    arguments = list(sys.argv[1:] if argv is None else argv)
    if len(arguments) == 4 and arguments[0] == "--child":
        _, kind, url, path = arguments
        measure = measure_fetcher if kind == "fetcher" else measure_plain_httpx
        print(json.dumps(measure(url, path)))
        return
    _Handler.gzip_bomb = gzip.compress(b"[" + b" " * RESPONSE_BYTES + b"]", compresslevel=9)
    server = _Server(("127.0.0.1", 0), _Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    base_url = f"http://127.0.0.1:{server.server_address[1]}"
    cases = [
        ("fetcher", "/chunked", "200 MiB chunked, no length"),
        ("fetcher", "/gzip", "200 MiB gzip bomb (~200 KiB sent)"),
        ("fetcher", "/sized", "200 MiB with Content-Length"),
        ("httpx", "/chunked", "plain httpx.get, same 200 MiB"),
    ]
    ok = True
    with tempfile.TemporaryDirectory() as instance:
        environment = {
            **os.environ,
            "APP_ENV": "development",
            "INSTANCE_PATH": instance,
            "DATABASE_URL": f"sqlite:///{instance}/bench.db",
            "LOG_LEVEL": "WARNING",
        }
        print(
            f"Fetcher memory: {RESPONSE_BYTES // MIB} MiB response, "
            f"FETCH_MAX_BYTES={CAP_BYTES // MIB} MiB, target growth < {TARGET_GROWTH // MIB} MiB"
        )
        print(f"{'case':<36} {'baseline':>10} {'growth':>10} {'x cap':>6} {'time':>7}  outcome")
        try:
            for kind, path, label in cases:
                result = _run_child(kind, base_url, path, environment)
                growth = result["peak"] - result["baseline"]
                if kind == "fetcher":
                    ok = ok and growth < TARGET_GROWTH
                print(
                    f"{label:<36} {result['baseline'] / MIB:>7.1f} MiB {growth / MIB:>6.1f} MiB"
                    f" {growth / CAP_BYTES:>5.2f}x {result['seconds']:>6.2f}s  {result['outcome']}"
                )
        finally:
            server.shutdown()
            server.server_close()
    print("PASS" if ok else "FAIL", "(fetcher growth under the target in every case)")
    if not ok:
        raise SystemExit(1)


if __name__ == "__main__":
    main()

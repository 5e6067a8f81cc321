"""A headless Chromium driven over the DevTools protocol on a pipe (no driver, no extra package).

Chromium started with ``--remote-debugging-pipe`` reads JSON commands, each ended by a NUL byte,
from its file descriptor 3 and writes replies and events to its descriptor 4.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
import queue
import shutil
import signal
import subprocess
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from werkzeug.serving import make_server

__all__ = [
    "APP_HOST",
    "BROWSER_NAMES",
    "HOST_RESOLVER_RULES",
    "RECORD_POLICY_VIOLATIONS",
    "Browser",
    "BrowserError",
    "find_browser",
    "serve_app",
]

# The browser reaches the app under a real-looking name (resolved to 127.0.0.1 inside Chromium
# only): Swagger UI behaves differently for "localhost", and every other name resolves to nothing,
# so a page that tried a CDN or an online validator would show it.
APP_HOST = "challenge.test"
HOST_RESOLVER_RULES = f"MAP {APP_HOST} 127.0.0.1, MAP * ~NOTFOUND"
# Installed before the page's own scripts: what the page's Content-Security-Policy refused.
RECORD_POLICY_VIOLATIONS = """window.policyViolations = [];
document.addEventListener('securitypolicyviolation',
    event => window.policyViolations.push(`${event.violatedDirective} ${event.blockedURI}`));"""


@contextlib.contextmanager
def serve_app(app: Any) -> Iterator[str]:
    """``app`` served over real HTTP on 127.0.0.1; its URL as the browser sees it."""
    server = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://{APP_HOST}:{server.port}"
    finally:
        server.shutdown()
        thread.join()


BROWSER_NAMES = ("chromium", "chromium-browser", "google-chrome", "google-chrome-stable")
REPLY_TIMEOUT_SECONDS = 60.0
CLOSE_TIMEOUT_SECONDS = 10.0
HIGH_DESCRIPTOR = 64  # the pipes live at or above this descriptor number in the test process


class BrowserError(RuntimeError):
    """The browser answered a command with an error, or did not answer in time."""


def find_browser() -> str | None:
    """The path of an installed Chromium (or Chrome), if any."""
    for name in BROWSER_NAMES:
        found = shutil.which(name)
        if found:
            return found
    return None


class Browser:
    """One headless browser with one page; every network request the page makes is recorded."""

    def __init__(self, binary: str, profile: Path, host_resolver_rules: str) -> None:
        commands_read, self._commands = self._high_pipe()
        self._replies, replies_write = self._high_pipe()
        arguments = [
            "--headless=new",
            "--remote-debugging-pipe",
            "--no-sandbox",  # CI runs as root, where Chromium's sandbox cannot start
            "--disable-gpu",
            "--disable-dev-shm-usage",
            "--no-first-run",
            "--no-default-browser-check",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            "--disable-extensions",
            f"--user-data-dir={profile}",
            f"--host-resolver-rules={host_resolver_rules}",
            "about:blank",
        ]
        # Bash puts the pipe ends on the descriptors Chromium expects, then becomes Chromium
        # (bash, as dash only redirects descriptors 0-9).
        script = f'exec "$0" "$@" 3<&{commands_read} 4>&{replies_write}'
        self.process = subprocess.Popen(
            ["bash", "-c", script, binary, *arguments],
            pass_fds=(commands_read, replies_write),
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            start_new_session=True,
        )
        os.close(commands_read)
        os.close(replies_write)
        self._next_id = 0
        self._waiting: dict[int, queue.Queue[dict[str, Any]]] = {}
        self._lock = threading.Lock()
        self.requested_urls: list[str] = []
        self._reader = threading.Thread(target=self._read_forever, daemon=True)
        self._reader.start()
        target = self.send("Target.createTarget", {"url": "about:blank"})["targetId"]
        self.session = self.send("Target.attachToTarget", {"targetId": target, "flatten": True})[
            "sessionId"
        ]
        for domain in ("Network", "Page", "Runtime"):
            self.send(f"{domain}.enable", session=self.session)

    @staticmethod
    def _high_pipe() -> tuple[int, int]:
        """A pipe on descriptors above Chromium's 3 and 4, so that moving them cannot collide."""
        low = os.pipe()
        high = tuple(fcntl.fcntl(end, fcntl.F_DUPFD_CLOEXEC, HIGH_DESCRIPTOR) for end in low)
        for end in low:
            os.close(end)
        return high[0], high[1]

    def _read_forever(self) -> None:
        buffer = b""
        while True:
            try:
                chunk = os.read(self._replies, 65536)
            except OSError:
                return
            if not chunk:
                return
            buffer += chunk
            while b"\0" in buffer:
                raw, buffer = buffer.split(b"\0", 1)
                self._dispatch(json.loads(raw))

    def _dispatch(self, message: dict[str, Any]) -> None:
        if message.get("method") == "Network.requestWillBeSent":
            self.requested_urls.append(message["params"]["request"]["url"])
        if "id" in message:
            with self._lock:
                waiting = self._waiting.pop(message["id"], None)
            if waiting is not None:
                waiting.put(message)

    def send(
        self, method: str, params: dict[str, Any] | None = None, session: str | None = None
    ) -> dict[str, Any]:
        """Send one command and wait for its reply's result."""
        reply: queue.Queue[dict[str, Any]] = queue.Queue()
        with self._lock:
            self._next_id += 1
            command: dict[str, Any] = {"id": self._next_id, "method": method}
            self._waiting[self._next_id] = reply
        command["params"] = params or {}
        if session is not None:
            command["sessionId"] = session
        os.write(self._commands, json.dumps(command).encode() + b"\0")
        try:
            message = reply.get(timeout=REPLY_TIMEOUT_SECONDS)
        except queue.Empty:
            raise BrowserError(f"no reply to {method}") from None
        if "error" in message:
            raise BrowserError(f"{method}: {message['error']}")
        result: dict[str, Any] = message.get("result", {})
        return result

    def navigate(self, url: str) -> None:
        self.send("Page.navigate", {"url": url}, session=self.session)

    def evaluate(self, expression: str) -> Any:
        """Run JavaScript in the page (promises awaited) and return its JSON value."""
        result = self.send(
            "Runtime.evaluate",
            {"expression": expression, "awaitPromise": True, "returnByValue": True},
            session=self.session,
        )
        if "exceptionDetails" in result:
            raise BrowserError(f"script failed: {result['exceptionDetails']}")
        return result["result"].get("value")

    def wait_for(self, expression: str, timeout: float, what: str) -> Any:
        """Evaluate ``expression`` until it is truthy; return that value."""
        deadline = time.monotonic() + timeout
        while True:
            value = self.evaluate(expression)
            if value:
                return value
            if time.monotonic() > deadline:
                raise BrowserError(f"timed out after {timeout:.0f} s waiting for {what}")
            time.sleep(0.2)

    def type_text(self, text: str) -> None:
        """Type into the focused element, as a keyboard would."""
        self.send("Input.insertText", {"text": text}, session=self.session)

    def close(self) -> None:
        """Close the browser and make sure none of its processes is left."""
        with contextlib.suppress(BrowserError, OSError):
            self.send("Browser.close")
        try:
            self.process.wait(timeout=CLOSE_TIMEOUT_SECONDS)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()
        with contextlib.suppress(ProcessLookupError):  # renderer and helper processes
            os.killpg(self.process.pid, signal.SIGKILL)
        for descriptor in (self._commands, self._replies):
            with contextlib.suppress(OSError):
                os.close(descriptor)

"""Webhook receivers for tests: a route on a real local HTTP server, and the documented check."""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from pathlib import Path
from typing import Any

from tests.support.http_server import LocalHTTPServer, Reply, Request

__all__ = ["DOCUMENTED_VERIFY", "answering", "documented_verify_signature", "events_received"]

NOTIFICATIONS_DOC = Path(__file__).resolve().parents[2] / "docs" / "notifications.md"
PYTHON_BLOCK = re.compile(r"```python\n(.*?)```", re.DOTALL)


def documented_verify_signature() -> Callable[[str, bytes, str], bool]:
    """``verify_signature`` exactly as docs/notifications.md shows it to receivers."""
    [snippet] = [
        block
        for block in PYTHON_BLOCK.findall(NOTIFICATIONS_DOC.read_text())
        if "def verify_signature" in block
    ]
    namespace: dict[str, Any] = {}
    exec(compile(snippet, str(NOTIFICATIONS_DOC), "exec"), namespace)  # noqa: S102
    verify: Callable[[str, bytes, str], bool] = namespace["verify_signature"]
    return verify


DOCUMENTED_VERIFY = documented_verify_signature()


def events_received(server: LocalHTTPServer, path: str) -> list[dict[str, Any]]:
    """The JSON bodies POSTed to ``path``, in order."""
    return [json.loads(request.body) for request in server.requests_to(path)]


def answering(*statuses: int) -> Callable[[Request], Reply]:
    """A handler answering each status in turn, then the last one for ever."""
    replies = list(statuses)

    def handle(_request: Request) -> Reply:
        status = replies.pop(0) if len(replies) > 1 else replies[0]
        return Reply(status, b"ok")

    return handle

"""The child processes of ``challenge run``: own process groups, prefixed logs, clean stop."""

from __future__ import annotations

import contextlib
import logging
import os
import signal
import subprocess
import threading
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import IO

import click

__all__ = ["ChildSpec", "Supervisor"]

logger = logging.getLogger(__name__)

STOP_TIMEOUT_SECONDS = 20.0  # a warm worker shutdown finishes its running fetches in this time
LOG_COLORS = ("cyan", "magenta", "yellow", "green", "blue")


@dataclass(frozen=True)
class ChildSpec:
    """A child process: its log prefix and its command line."""

    name: str
    command: Sequence[str]


@dataclass
class _Child:
    spec: ChildSpec
    process: subprocess.Popen[bytes]
    reader: threading.Thread


class Supervisor:
    """Starts children, streams their output line by line, and stops every one of them.

    Each child leads its own process group, so a Ctrl-C in the terminal reaches only the
    supervisor, which then stops the children in order: SIGTERM to each leader (a graceful
    shutdown), SIGKILL to each whole group once ``stop_timeout`` has passed or the leader is gone.
    """

    def __init__(
        self,
        specs: Sequence[ChildSpec],
        environment: Mapping[str, str],
        stop_timeout: float = STOP_TIMEOUT_SECONDS,
    ) -> None:
        self.specs = list(specs)
        self.environment = dict(environment)
        self.stop_timeout = stop_timeout
        self.children: list[_Child] = []
        self._output_lock = threading.Lock()
        self._prefix_width = max((len(spec.name) for spec in self.specs), default=0)

    def start(self) -> None:
        """Start every child, in order."""
        for index, spec in enumerate(self.specs):
            process = subprocess.Popen(
                list(spec.command),
                env=self.environment,
                stdin=subprocess.DEVNULL,
                stdout=subprocess.PIPE,
                stderr=subprocess.STDOUT,
                process_group=0,  # its own group: the terminal's Ctrl-C is ours to handle
            )
            color = LOG_COLORS[index % len(LOG_COLORS)]
            reader = threading.Thread(
                target=self._stream,
                args=(spec.name, color, process.stdout),
                name=f"{spec.name}-log",
                daemon=True,
            )
            reader.start()
            self.children.append(_Child(spec, process, reader))
            logger.info("started %s (pid %s)", spec.name, process.pid)

    def exited_child(self) -> ChildSpec | None:
        """The first child that has exited, if any."""
        for child in self.children:
            if child.process.poll() is not None:
                return child.spec
        return None

    def echo(self, name: str, message: str, color: str | None = None) -> None:
        """Print ``message`` with a child's prefix, never interleaved with another line."""
        prefix = click.style(f"{name:<{self._prefix_width}} |", fg=color)
        self.print(f"{prefix} {message}")

    def print(self, text: str) -> None:
        """Print ``text`` between two log lines of the children."""
        with self._output_lock:
            click.echo(text)

    def stop(self) -> None:
        """Stop every child: SIGTERM first, SIGKILL to the whole group after the timeout."""
        for child in reversed(self.children):
            if child.process.poll() is None:
                _signal_leader(child.process, signal.SIGTERM)
        deadline = time.monotonic() + self.stop_timeout
        for child in self.children:
            remaining = max(0.0, deadline - time.monotonic())
            try:
                child.process.wait(timeout=remaining)
            except subprocess.TimeoutExpired:
                logger.warning("%s did not stop in time: killing it", child.spec.name)
            # Also sweeps up grandchildren (gunicorn or celery pool workers) left in the group.
            _kill_group(child.process.pid)
            child.process.wait()
            child.reader.join(timeout=1.0)

    def _stream(self, name: str, color: str, stream: IO[bytes] | None) -> None:
        if stream is None:
            return
        with stream:
            for raw_line in iter(stream.readline, b""):
                self.echo(name, raw_line.decode(errors="replace").rstrip(), color)


def _signal_leader(process: subprocess.Popen[bytes], signum: signal.Signals) -> None:
    with contextlib.suppress(ProcessLookupError):
        process.send_signal(signum)


def _kill_group(process_group: int) -> None:
    with contextlib.suppress(ProcessLookupError, PermissionError):  # the group is already empty
        os.killpg(process_group, signal.SIGKILL)

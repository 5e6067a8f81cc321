"""Real gunicorn and Celery processes for the shipping tests, always stopped, output kept in files.

They inherit the test session's environment (database, Redis, instance folder) plus overrides.
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx

__all__ = [
    "ChildProcess",
    "celery_command",
    "gunicorn_command",
    "running",
    "wait_for_http",
    "wait_until",
]

STOP_TIMEOUT_SECONDS = 20.0
POLL_INTERVAL_SECONDS = 0.2


def wait_until(condition: Callable[[], bool], timeout: float, what: str) -> None:
    """Poll ``condition`` until it holds; fail the test with ``what`` after ``timeout`` s."""
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout:.0f} s waiting for {what}")
        time.sleep(POLL_INTERVAL_SECONDS)


class ChildProcess:
    """A subprocess in its own process group, its stdout and stderr written to files."""

    def __init__(self, command: list[str], directory: Path, environment: dict[str, str]) -> None:
        directory.mkdir(parents=True, exist_ok=True)
        self.stdout_path = directory / "stdout.log"
        self.stderr_path = directory / "stderr.log"
        with self.stdout_path.open("wb") as stdout, self.stderr_path.open("wb") as stderr:
            self.process = subprocess.Popen(
                command,
                stdout=stdout,
                stderr=stderr,
                env={**os.environ, **environment},
                start_new_session=True,
            )

    def lines(self, stream: str = "stderr") -> list[str]:
        path = self.stderr_path if stream == "stderr" else self.stdout_path
        return [line for line in path.read_text(errors="replace").splitlines() if line.strip()]

    def output(self) -> str:
        return f"stdout:\n{self.stdout_path.read_text()}\nstderr:\n{self.stderr_path.read_text()}"

    def assert_alive(self) -> None:
        code = self.process.poll()
        assert code is None, f"the process exited with {code}\n{self.output()}"

    def stop(self) -> None:
        """SIGTERM the whole group, then SIGKILL it if it lingers."""
        if self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGTERM)
            try:
                self.process.wait(timeout=STOP_TIMEOUT_SECONDS)
            except subprocess.TimeoutExpired:
                os.killpg(self.process.pid, signal.SIGKILL)
                self.process.wait()
        with contextlib.suppress(ProcessLookupError):  # children that outlived their parent
            os.killpg(self.process.pid, signal.SIGKILL)


@contextmanager
def running(
    command: list[str], directory: Path, environment: dict[str, str] | None = None
) -> Iterator[ChildProcess]:
    child = ChildProcess(command, directory, environment or {})
    try:
        yield child
    finally:
        child.stop()


def celery_command(role: str, *options: str) -> list[str]:
    """``celery --quiet -A cli.worker_app worker|beat ...`` with this interpreter."""
    return [
        sys.executable,
        "-m",
        "celery",
        "--quiet",
        "-A",
        "cli.worker_app",
        role,
        *options,
    ]


def gunicorn_command(port: int, *options: str) -> list[str]:
    """The Docker image's gunicorn command, bound to 127.0.0.1:``port``."""
    return [
        sys.executable, "-m", "gunicorn",
        "--config", "python:website.gunicorn_config",
        "--bind", f"127.0.0.1:{port}",
        "--logger-class", "website.log.GunicornLogger",
        "--workers", "2",
        *options,
        "website:create_app()",
    ]  # fmt: skip


def wait_for_http(url: str, child: ChildProcess, timeout: float) -> None:
    def answers() -> bool:
        child.assert_alive()
        try:
            return httpx.get(url, timeout=2).status_code == 200
        except httpx.HTTPError:
            return False

    wait_until(answers, timeout, f"{url} to answer")

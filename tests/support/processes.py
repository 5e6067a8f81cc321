"""Real ``celery worker`` and ``celery beat`` subprocesses for tests that cross process boundaries.

They inherit the test session's environment (database, Redis, instance folder) plus whatever a
test overrides (short ticks and leases, another Redis). Each runs in its own process group, logs
to a file the test can read, and is always stopped (killed if need be) by ``CeleryProcesses``.

    with CeleryProcesses(tmp_path, SCHEDULER_TICK_SECONDS="0.2") as processes:
        worker = processes.worker(concurrency=4)
        processes.beat()
        ...
        worker.kill()  # SIGKILL, like an OOM kill or a lost machine
"""

from __future__ import annotations

import itertools
import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from types import TracebackType

__all__ = ["CeleryProcess", "CeleryProcesses", "wait_for"]

READY_TIMEOUT_SECONDS = 90.0  # two shared cores and a cold import can make start-up slow
STOP_TIMEOUT_SECONDS = 30.0  # a warm shutdown waits for the running jobs
POLL_SECONDS = 0.1
CELERY_APP = "cli.worker_app"
# What each role logs once it can do its work.
READY_MARKERS = {"worker": " ready.", "beat": "beat: Starting..."}
_names = itertools.count(1)


def wait_for(
    condition: object, timeout: float = 60.0, interval: float = 0.2, message: str = ""
) -> None:
    """Poll ``condition()`` until it is truthy; fail after ``timeout`` seconds."""
    assert callable(condition)
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(message or f"condition not met within {timeout:g} s")
        time.sleep(interval)


class CeleryProcess:
    """One ``celery worker`` or ``celery beat`` child process."""

    def __init__(
        self,
        role: str,
        arguments: list[str],
        environment: dict[str, str],
        log: Path,
        app: str = CELERY_APP,
    ) -> None:
        self.role = role
        self.log_path = log
        self._log = log.open("ab")
        self.process = subprocess.Popen(
            [sys.executable, "-m", "celery", "-A", app, role, *arguments],
            env=environment,
            stdout=self._log,
            stderr=subprocess.STDOUT,
            start_new_session=True,  # its own process group: signals reach it and its children
        )

    @property
    def pid(self) -> int:
        return self.process.pid

    @property
    def running(self) -> bool:
        return self.process.poll() is None

    def log_text(self) -> str:
        return self.log_path.read_text(errors="replace")

    def wait_until_ready(self, timeout: float = READY_TIMEOUT_SECONDS) -> CeleryProcess:
        marker = READY_MARKERS[self.role]
        deadline = time.monotonic() + timeout
        while marker not in self.log_text():
            if not self.running:
                raise RuntimeError(f"celery {self.role} exited early:\n{self.log_text()[-4000:]}")
            if time.monotonic() > deadline:
                raise RuntimeError(f"celery {self.role} not ready:\n{self.log_text()[-4000:]}")
            time.sleep(POLL_SECONDS)
        return self

    def signal(self, signum: int) -> None:
        if self.running:
            os.killpg(self.process.pid, signum)

    def kill(self) -> None:
        """SIGKILL the whole process group: no cleanup, no acknowledgement, like a lost machine."""
        self.signal(signal.SIGKILL)
        self.process.wait(timeout=STOP_TIMEOUT_SECONDS)

    def terminate(self, timeout: float = STOP_TIMEOUT_SECONDS) -> int:
        """SIGTERM (Celery's warm shutdown) and wait for the exit code."""
        self.signal(signal.SIGTERM)
        return self.process.wait(timeout=timeout)

    def stop(self) -> None:
        """Terminate, and kill if it does not exit in time; never raises."""
        try:
            if self.running:
                self.terminate()
        except subprocess.TimeoutExpired:
            self.kill()
        finally:
            self._log.close()


class CeleryProcesses:
    """Starts workers and beats with the session environment; stops them all on exit."""

    def __init__(self, directory: Path, **environment: str) -> None:
        self.directory = directory
        self.environment = {**os.environ, **environment}
        self.started: list[CeleryProcess] = []

    def worker(
        self,
        concurrency: int = 2,
        pool: str = "threads",
        ready: bool = True,
        app: str = CELERY_APP,
        **environment: str,
    ) -> CeleryProcess:
        name = f"worker{next(_names)}"
        arguments = [
            f"--hostname={name}@%h",
            f"--pool={pool}",
            f"--concurrency={concurrency}",
            "--loglevel=INFO",
            # No cluster chatter at start-up: workers here never need each other.
            "--without-gossip",
            "--without-mingle",
            "--without-heartbeat",
        ]
        # The pool goes in the environment too: Celery reads "--pool=prefork" (its default) as
        # "not given" and takes a configured WORKER_POOL instead.
        environment = {"WORKER_POOL": pool, **environment}
        return self._start("worker", name, arguments, environment, ready, app)

    def beat(self, ready: bool = True, **environment: str) -> CeleryProcess:
        name = f"beat{next(_names)}"
        schedule = self.directory / f"{name}-schedule"
        arguments = [f"--schedule={schedule}", "--loglevel=INFO"]
        return self._start("beat", name, arguments, environment, ready, CELERY_APP)

    def _start(
        self,
        role: str,
        name: str,
        arguments: list[str],
        environment: dict[str, str],
        ready: bool,
        app: str,
    ) -> CeleryProcess:
        process = CeleryProcess(
            role,
            arguments,
            {**self.environment, **environment},
            self.directory / f"{name}.log",
            app,
        )
        self.started.append(process)
        return process.wait_until_ready() if ready else process

    def logs(self) -> str:
        """Every process's log, for an assertion message."""
        return "\n".join(
            f"===== {process.role} {process.pid}\n{process.log_text()[-6000:]}"
            for process in self.started
        )

    def stop_all(self) -> None:
        for process in reversed(self.started):
            process.stop()

    def __enter__(self) -> CeleryProcesses:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.stop_all()

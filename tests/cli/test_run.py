"""``challenge run``: the embedded stack starts, serves, fetches, and stops without leftovers."""

from __future__ import annotations

import contextlib
import json
import os
import signal
import socket
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from flask import Flask
from sqlalchemy import create_engine, text

from cli import main
from cli.embedded_redis import EmbeddedRedis
from tests.support.databases import fresh_database_url
from website.services.demo_feed import DEMO_FEEDS

STARTUP_TIMEOUT_SECONDS = 90.0  # generous: two cores shared with other test runs
FIRST_JOB_TIMEOUT_SECONDS = 90.0
EXIT_TIMEOUT_SECONDS = 60.0
POLL_SECONDS = 0.25
# A newcomer's environment: none of the settings the test session exports for itself.
SESSION_ONLY_SETTINGS = ("REDIS_URL", "FETCH_ALLOW_PRIVATE", "DEMO_BASE_URL", "LOG_FORMAT")


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def parent_of(pid: int) -> int | None:
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except (FileNotFoundError, ProcessLookupError):
        return None
    return int(stat.rsplit(")", 1)[1].split()[1])


def is_alive(pid: int) -> bool:
    """True while ``pid`` runs (a zombie has already exited)."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except (FileNotFoundError, ProcessLookupError):
        return False
    return stat.rsplit(")", 1)[1].split()[0] != "Z"


def descendants_of(root: int) -> set[int]:
    """Every process below ``root``: children, grandchildren and so on (read from /proc)."""
    children: dict[int, list[int]] = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            parent = parent_of(int(entry.name))
            if parent is not None:
                children.setdefault(parent, []).append(int(entry.name))
    found: set[int] = set()
    pending = [root]
    while pending:
        for child in children.get(pending.pop(), []):
            if child not in found:
                found.add(child)
                pending.append(child)
    return found


def command_line(pid: int) -> str:
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode()
    except (FileNotFoundError, ProcessLookupError):
        return ""


def wait_for(condition: Callable[[], bool], timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout:.0f} s waiting for {what}")
        time.sleep(POLL_SECONDS)


def http_get(url: str) -> tuple[int, Any]:
    try:
        with urllib.request.urlopen(url, timeout=5) as response:
            return response.status, json.loads(response.read())
    except urllib.error.HTTPError as error:
        return error.code, None
    except OSError:
        return 0, None


@dataclass
class RunningStack:
    """A ``challenge run`` process and everything it printed."""

    process: subprocess.Popen[str]
    url: str
    database_url: str
    output: list[str] = field(default_factory=list)
    reader: threading.Thread = field(init=False)

    def __post_init__(self) -> None:
        self.reader = threading.Thread(target=self._read_output, daemon=True)

    def _read_output(self) -> None:
        assert self.process.stdout is not None
        for line in self.process.stdout:
            self.output.append(line.rstrip())

    def printed(self) -> str:
        return "\n".join(self.output)

    def answers(self, path: str) -> bool:
        return http_get(f"{self.url}{path}")[0] == 200

    def wait_until_ready(self) -> None:
        def ready() -> bool:
            assert self.process.poll() is None, f"challenge run exited:\n{self.printed()}"
            return self.answers("/healthz") and self.answers("/readyz")

        wait_for(ready, STARTUP_TIMEOUT_SECONDS, "/healthz and /readyz")

    def wait_for_exit(self) -> int:
        return self.process.wait(timeout=EXIT_TIMEOUT_SECONDS)


@pytest.fixture
def start_stack(
    test_environment: dict[str, str], tmp_path: Path
) -> Iterator[Callable[..., RunningStack]]:
    """Start ``challenge run`` on free ports with its own instance folder and database."""
    started: list[RunningStack] = []
    with fresh_database_url(test_environment["DATABASE_URL"], tmp_path) as database_url:

        def start(*, own_process_group: bool = False) -> RunningStack:
            port = free_port()
            environment = {
                **{k: v for k, v in os.environ.items() if k not in SESSION_ONLY_SETTINGS},
                "INSTANCE_PATH": str(tmp_path / "instance"),
                "DATABASE_URL": database_url,
                "EMBEDDED_REDIS_PORT": str(free_port()),
                "WORKER_CONCURRENCY": "2",
            }
            challenge = Path(sys.executable).with_name("challenge")
            process = subprocess.Popen(
                [str(challenge), "run", "--port", str(port), "--workers", "1"],
                env=environment,
                stdin=subprocess.DEVNULL,
                stdout=subprocess.PIPE,
                stderr=subprocess.STDOUT,
                text=True,
                process_group=0 if own_process_group else None,
            )
            stack = RunningStack(process, f"http://127.0.0.1:{port}", database_url)
            stack.reader.start()
            started.append(stack)
            return stack

        try:
            yield start
        finally:
            for stack in started:
                leftovers = descendants_of(stack.process.pid)
                if stack.process.poll() is None:
                    stack.process.kill()
                    stack.process.wait()
                for pid in leftovers:
                    if is_alive(pid):
                        os.kill(pid, signal.SIGKILL)
                stack.reader.join(timeout=10)
                if stack.process.stdout is not None:
                    stack.process.stdout.close()


def succeeded_jobs(database_url: str) -> int:
    engine = create_engine(database_url)
    try:
        with engine.connect() as connection:
            query = text("SELECT count(*) FROM jobs WHERE status = 'succeeded'")
            return int(connection.execute(query).scalar_one())
    except Exception:  # the schema may not exist yet
        return 0
    finally:
        engine.dispose()


def assert_all_gone(pids: set[int]) -> None:
    wait_for(lambda: not any(is_alive(pid) for pid in pids), 10, "every child to be gone")


@pytest.mark.slow
def test_run_serves_the_api_and_demo_feed_fetches_and_stops_cleanly_on_sigterm(
    start_stack: Callable[..., RunningStack],
) -> None:
    stack = start_stack()
    stack.wait_until_ready()

    status, records = http_get(f"{stack.url}/demo/events/salesmeeting2020.json")
    assert status == 200
    assert len(records) == DEMO_FEEDS["salesmeeting2020.json"]
    # The seeded demo tasks fetch that feed through the worker: fetches are flowing.
    wait_for(
        lambda: succeeded_jobs(stack.database_url) > 0,
        FIRST_JOB_TIMEOUT_SECONDS,
        "a seeded task's first successful job",
    )
    children = descendants_of(stack.process.pid)
    commands = " ".join(command_line(pid) for pid in children)
    for program in ("redis-server", "gunicorn", "cli.worker_app worker", "beat"):
        assert program in commands

    with urllib.request.urlopen(f"{stack.url}/ui/login", timeout=30) as login_page:
        assert b"Log in" in login_page.read()  # the dashboard's templates ship with the package

    stack.process.send_signal(signal.SIGTERM)

    assert stack.wait_for_exit() == 0
    assert_all_gone(children)
    printed = stack.printed()
    assert "Demo login   demo / demo-password" in printed
    assert f"Swagger UI   {stack.url}/swagger-ui" in printed
    assert f"Dashboard    {stack.url}/ui/" in printed
    for prefix in ("web    | ", "worker | ", "beat   | "):
        assert any(line.startswith(prefix) for line in stack.output), prefix


@pytest.mark.slow
def test_run_stops_everything_on_ctrl_c_in_its_terminal(
    start_stack: Callable[..., RunningStack],
) -> None:
    stack = start_stack(own_process_group=True)
    stack.wait_until_ready()
    children = descendants_of(stack.process.pid)

    # A terminal's Ctrl-C signals the whole foreground process group.
    os.killpg(stack.process.pid, signal.SIGINT)

    assert stack.wait_for_exit() == 0
    assert_all_gone(children)
    assert "Stopped." in stack.printed()


@pytest.mark.slow
def test_run_stops_everything_and_fails_when_a_child_dies(
    start_stack: Callable[..., RunningStack],
) -> None:
    stack = start_stack()
    stack.wait_until_ready()
    children = descendants_of(stack.process.pid)
    beat = next(pid for pid in children if " beat " in command_line(pid))

    os.kill(beat, signal.SIGKILL)

    assert stack.wait_for_exit() != 0
    assert_all_gone(children)
    assert "beat exited unexpectedly" in stack.printed()


def test_run_refuses_an_embedded_redis_port_another_redis_already_serves(
    test_environment: dict[str, str], tmp_path: Path
) -> None:
    with EmbeddedRedis(free_port(), tmp_path / "someone-elses") as someone_elses:
        environment = {
            **{k: v for k, v in os.environ.items() if k not in SESSION_ONLY_SETTINGS},
            "INSTANCE_PATH": str(tmp_path / "instance"),
            "DATABASE_URL": f"sqlite:///{tmp_path / 'run.db'}",
            "EMBEDDED_REDIS_PORT": str(someone_elses.port),
        }
        completed = subprocess.run(
            [str(Path(sys.executable).with_name("challenge")), "run", "--port", str(free_port())],
            env=environment,
            stdin=subprocess.DEVNULL,
            capture_output=True,
            text=True,
            timeout=EXIT_TIMEOUT_SECONDS,
        )
        assert completed.returncode == 1
        assert f"port {someone_elses.port} on 127.0.0.1 is taken" in completed.stderr
        assert "set EMBEDDED_REDIS_PORT" in completed.stderr
        assert "Traceback" not in completed.stderr
        assert someone_elses.process is not None
        assert someone_elses.process.poll() is None  # the other server is left alone


def test_challenge_run_is_ours_not_flasks_development_server(app: Flask) -> None:
    result = app.test_cli_runner().invoke(main, ["run", "--help"])
    assert result.exit_code == 0
    assert "--workers" in result.output
    assert "--reload" not in result.output


def test_run_refuses_a_taken_port_at_once_naming_the_setting_that_moves_it(
    test_environment: dict[str, str], tmp_path: Path
) -> None:
    with socket.socket() as someone_elses:
        someone_elses.bind(("127.0.0.1", 0))
        someone_elses.listen()
        port = someone_elses.getsockname()[1]
        environment = {
            **{k: v for k, v in os.environ.items() if k not in SESSION_ONLY_SETTINGS},
            "INSTANCE_PATH": str(tmp_path / "instance"),
            "DATABASE_URL": f"sqlite:///{tmp_path / 'run.db'}",
            "EMBEDDED_REDIS_PORT": str(free_port()),
            "PORT": str(port),
        }
        completed = subprocess.run(
            [str(Path(sys.executable).with_name("challenge")), "run"],
            env=environment,
            stdin=subprocess.DEVNULL,
            capture_output=True,
            text=True,
            timeout=EXIT_TIMEOUT_SECONDS,
        )
    assert completed.returncode == 1
    assert completed.stderr.strip() == (
        f"Error: port {port} on 127.0.0.1 is taken (Address already in use): "
        "set PORT (or --port) to another port"
    )
    assert not (tmp_path / "run.db").exists()  # nothing was started nor created


def demo_task_urls(database_url: str) -> set[str]:
    engine = create_engine(database_url)
    try:
        with engine.connect() as connection:
            return set(connection.execute(text("SELECT url FROM tasks")).scalars())
    except Exception:  # the schema may not exist yet
        return set()
    finally:
        engine.dispose()


@pytest.mark.slow
def test_make_run_serves_on_port_and_seeds_the_demo_against_it(
    test_environment: dict[str, str], tmp_path: Path, project_root: Path
) -> None:
    port = free_port()
    with fresh_database_url(test_environment["DATABASE_URL"], tmp_path) as database_url:
        environment = {
            **{k: v for k, v in os.environ.items() if k not in SESSION_ONLY_SETTINGS},
            "INSTANCE_PATH": str(tmp_path / "instance"),
            "DATABASE_URL": database_url,
            "EMBEDDED_REDIS_PORT": str(free_port()),
            "WORKER_CONCURRENCY": "2",
            "WEB_CONCURRENCY": "1",
            "PORT": str(port),
        }
        process = subprocess.Popen(
            ["make", "--no-print-directory", "run"],
            cwd=project_root,
            env=environment,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
            process_group=0,
        )
        stack = RunningStack(process, f"http://127.0.0.1:{port}", database_url)
        stack.reader.start()
        try:
            stack.wait_until_ready()
            wait_for(
                lambda: f"API          {stack.url}" in stack.printed(),
                STARTUP_TIMEOUT_SECONDS,
                "the announcement of the URLs",
            )
            urls = demo_task_urls(database_url)
            assert urls
            assert all(url.startswith(f"{stack.url}/demo/events/") for url in urls)
            wait_for(
                lambda: succeeded_jobs(database_url) > 0,
                FIRST_JOB_TIMEOUT_SECONDS,
                "a seeded task's first successful job",
            )
        finally:
            leftovers = descendants_of(process.pid)
            with contextlib.suppress(ProcessLookupError):
                os.killpg(process.pid, signal.SIGINT)  # Ctrl-C in the terminal
            try:
                process.wait(timeout=EXIT_TIMEOUT_SECONDS)
            finally:
                for pid in leftovers:
                    if is_alive(pid):
                        os.kill(pid, signal.SIGKILL)
                stack.reader.join(timeout=10)
                if process.stdout is not None:
                    process.stdout.close()
                if process.stdout is not None:
                    process.stdout.close()

"""A configuration the app refuses is reported by the CLI as one clear line, not a traceback."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
from pathlib import Path

import pytest


def test_challenge_reports_a_refused_configuration_without_a_traceback(tmp_path: Path) -> None:
    environment = {
        key: value
        for key, value in os.environ.items()
        if key not in {"SECRET_KEY", "JWT_SECRET_KEY"}
    }
    environment.update(APP_ENV="production", INSTANCE_PATH=str(tmp_path / "instance"))
    result = subprocess.run(
        [sys.executable, "-c", "from cli import main; main()", "db", "init"],
        env=environment,
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 1
    assert "configuration refused: SECRET_KEY must be set in production" in result.stderr
    assert "Traceback" not in result.stderr


CHALLENGE = Path(sys.executable).with_name("challenge")  # the console script of this venv
ERROR_EXIT_STATUS = 1


def challenge(tmp_path: Path, *arguments: str, **settings: str) -> subprocess.CompletedProcess[str]:
    """``challenge ARGUMENTS`` in a fresh instance folder, with the test session's settings."""
    environment = {**os.environ, "INSTANCE_PATH": str(tmp_path / "instance"), **settings}
    return subprocess.run(
        [str(CHALLENGE), *arguments],
        env=environment,
        cwd=tmp_path,
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
        timeout=120,
    )


def assert_one_line_error(result: subprocess.CompletedProcess[str], *expected: str) -> str:
    """The command failed with one line on stderr holding every ``expected`` text."""
    assert result.returncode == ERROR_EXIT_STATUS, result.stdout + result.stderr
    assert "Traceback" not in result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    for text in expected:
        assert text in lines[0], lines[0]
    return lines[0]


@pytest.mark.parametrize(
    ("url", "advice"),
    [
        ("postgres://challenge:s3cret@db.example:5432/challenge", "write postgresql+psycopg://"),
        ("postgresql://challenge:s3cret@db.example:5432/challenge", "write postgresql+psycopg://"),
        ("postgresql+psycopg://challenge:s3cret@db.example:port/challenge", "USER:PASSWORD@HOST"),
        ("challenge:s3cret@db.example", "use postgresql+psycopg://"),
        ("mysql://challenge:s3cret@db.example/challenge", "use postgresql+psycopg://"),
    ],
)
def test_a_database_url_no_driver_can_use_is_refused_in_one_line(
    tmp_path: Path, url: str, advice: str
) -> None:
    line = assert_one_line_error(
        challenge(tmp_path, "db", "init", DATABASE_URL=url),
        "configuration refused: DATABASE_URL",
        advice,
    )
    assert "s3cret" not in line  # the password is never repeated


def test_an_unreachable_database_is_refused_in_one_line(tmp_path: Path) -> None:
    with socket.socket() as closed:  # a port nothing listens on
        closed.bind(("127.0.0.1", 0))
        port = closed.getsockname()[1]
    url = f"postgresql+psycopg://challenge:s3cret@127.0.0.1:{port}/challenge"
    line = assert_one_line_error(
        challenge(tmp_path, "db", "init", DATABASE_URL=url, DATABASE_CONNECT_TIMEOUT="2"),
        "configuration refused: DATABASE_URL: the database does not answer",
        "point DATABASE_URL at one that runs",
    )
    assert "s3cret" not in line


def test_a_sqlite_file_that_cannot_be_opened_is_refused_in_one_line(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'no-such-folder' / 'challenge.db'}"
    assert_one_line_error(
        challenge(tmp_path, "db", "init", DATABASE_URL=url),
        "configuration refused: DATABASE_URL: the database does not answer",
    )


@pytest.mark.parametrize("url", ["http://redis.example:6379/0", "redis://redis.example:port/0"])
def test_a_redis_url_that_is_not_one_is_refused_in_one_line(tmp_path: Path, url: str) -> None:
    assert_one_line_error(
        challenge(tmp_path, "db", "init", REDIS_URL=url),
        "configuration refused: REDIS_URL",
        "redis://HOST:6379/0",
    )


def test_an_unknown_log_level_is_refused_in_one_line(tmp_path: Path) -> None:
    assert_one_line_error(
        challenge(tmp_path, "db", "init", LOG_LEVEL="loud"),
        "configuration refused: LOG_LEVEL must be one of DEBUG, INFO, WARNING, ERROR, CRITICAL",
        "'loud'",
    )


def test_run_with_an_unreachable_redis_url_says_so_at_once(tmp_path: Path) -> None:
    with socket.socket() as closed, socket.socket() as free:
        closed.bind(("127.0.0.1", 0))
        port = closed.getsockname()[1]
        free.bind(("127.0.0.1", 0))
        web_port = free.getsockname()[1]
    result = challenge(
        tmp_path,
        "run",
        "--port",
        str(web_port),
        REDIS_URL=f"redis://127.0.0.1:{port}/0",
        DATABASE_URL=f"sqlite:///{tmp_path / 'run.db'}",
    )
    line = assert_one_line_error(result, f"Redis at 127.0.0.1:{port} (REDIS_URL) does not answer")
    assert "unset REDIS_URL to run the embedded Redis" in line
    assert "Press Ctrl-C" not in result.stdout

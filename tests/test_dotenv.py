"""A developer's .env (say, Compose's settings copied there) changes neither the suite nor its apps.

`challenge` and `make run` read a .env in the folder they start in; the test suite, and every
process it starts, never does (FLASK_SKIP_DOTENV, set by tests/conftest.py and `challenge test`).
"""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from flask import Flask

from website import create_app

# What a Compose .env holds, and worse: each would change what a test sees.
HOSTILE_DOTENV = {
    "APP_ENV": "production",
    "DATABASE_URL": "postgres://challenge:pw@postgres:5432/challenge",
    "REDIS_URL": "redis://redis:6379/0",
    "LOG_FORMAT": "json",
    "LOG_LEVEL": "ERROR",
    "DEMO_BASE_URL": "http://website:8000",
    "FETCH_ALLOW_PRIVATE": "0",
    "FETCH_ALLOWED_HOSTS": "website:8000",
    "MAX_TASKS_PER_USER": "1",
    "RATELIMIT_AUTH": "1 per hour",
}


def write_hostile_dotenv(folder: Path) -> Path:
    path = folder / ".env"
    path.write_text("".join(f"{name}={value}\n" for name, value in HOSTILE_DOTENV.items()))
    return path


@pytest.fixture
def project_with_a_dotenv(tmp_path: Path) -> Path:
    """A folder with a hostile .env, the one the suite is started from."""
    write_hostile_dotenv(tmp_path)
    return tmp_path


@pytest.fixture
def dotenv_in_the_repository(project_root: Path) -> Iterator[Path]:
    """A hostile .env in this checkout's root (where `cp .env.example .env` used to put it)."""
    if (project_root / ".env").exists():
        pytest.skip("this checkout has a .env of its own; it is left alone")
    path = write_hostile_dotenv(project_root)
    try:
        yield project_root
    finally:
        path.unlink()


@pytest.mark.parametrize("where", ["the current folder", "the repository"])
def test_the_app_under_test_ignores_a_dotenv(
    app: Flask,
    project_with_a_dotenv: Path,
    request: pytest.FixtureRequest,
    monkeypatch: pytest.MonkeyPatch,
    where: str,
) -> None:
    if where == "the repository":
        request.getfixturevalue("dotenv_in_the_repository")
    else:
        monkeypatch.chdir(project_with_a_dotenv)
    before = dict(os.environ)

    other = create_app({"TESTING": True})

    assert dict(os.environ) == before
    for name in ("LOG_FORMAT", "LOG_LEVEL", "DEMO_BASE_URL", "MAX_TASKS_PER_USER", "APP_ENV"):
        assert other.config[name] == app.config[name], name
    assert other.config["SQLALCHEMY_DATABASE_URI"] == app.config["SQLALCHEMY_DATABASE_URI"]


@pytest.mark.slow
def test_challenge_test_passes_with_a_hostile_dotenv_where_it_starts(
    test_environment: dict[str, str], project_with_a_dotenv: Path, project_root: Path
) -> None:
    # A developer's shell: none of the settings this session exported for itself.
    environment = {
        name: value
        for name, value in os.environ.items()
        if name not in test_environment and name != "FLASK_SKIP_DOTENV"
    }
    tests = ["tests/test_config.py", "tests/cli/test_db.py", "tests/api/test_tasks.py"]
    completed = subprocess.run(
        [
            str(Path(sys.executable).with_name("challenge")),
            "test",
            *("-q", "-p", "no:randomly", "-p", "no:cacheprovider", "-x"),
            *("--rootdir", str(project_root)),
            *(str(project_root / test) for test in tests),
        ],
        cwd=project_with_a_dotenv,
        env=environment,
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
        timeout=900,
    )
    assert completed.returncode == 0, completed.stdout[-3000:] + completed.stderr[-3000:]
    assert " passed" in completed.stdout
    assert "failed" not in completed.stdout

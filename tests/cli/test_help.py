"""The CLI explains itself: a version, help for every option, and a ``--help`` that answers fast."""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Iterator
from importlib.metadata import version

import click
import pytest
from flask.testing import FlaskCliRunner

from cli import COMMANDS, main

# What `challenge --help` must not import: the app's heavy dependencies load with a command.
HEAVY_MODULES = ("celery", "kombu", "sqlalchemy", "flask_smorest", "marshmallow", "redis", "httpx")


def every_command(
    group: click.Group, context: click.Context, path: tuple[str, ...] = ()
) -> Iterator[tuple[tuple[str, ...], click.Command]]:
    for name in group.list_commands(context):
        command = group.get_command(context, name)
        assert command is not None, name
        yield (*path, name), command
        if isinstance(command, click.Group):
            yield from every_command(command, click.Context(command, parent=context), (*path, name))


def test_every_command_and_option_has_help_text() -> None:
    context = click.Context(main, info_name="challenge")
    commands = list(every_command(main, context))
    assert {("tasks", "list"), ("tasks", "run"), ("db", "seed"), ("run",)} <= {
        path for path, _ in commands
    }
    missing = [
        f"challenge {' '.join(path)} {option.opts[0]}"
        for path, command in [((), main), *commands]
        for option in command.params
        if isinstance(option, click.Option) and not (option.help or "").strip()
    ]
    undocumented = [
        " ".join(path) for path, command in commands if not command.get_short_help_str()
    ]
    assert missing == []
    assert undocumented == []


@pytest.mark.parametrize("name", sorted(COMMANDS))
def test_the_help_listing_says_what_each_command_says_of_itself(name: str) -> None:
    context = click.Context(main, info_name="challenge")
    command = main.get_command(context, name)
    assert command is not None
    assert (command.help or "").strip().splitlines()[0] == COMMANDS[name][2]


def test_version_is_challenges_own(runner: FlaskCliRunner) -> None:
    result = runner.invoke(main, ["--version"])
    assert result.exit_code == 0
    assert result.output.strip() == f"challenge {version('challenge')}"


def test_help_imports_none_of_the_heavy_modules() -> None:
    probe = (
        "import json, sys\n"
        "from cli import main\n"
        "try:\n"
        "    main(['--help'], prog_name='challenge')\n"
        "except SystemExit:\n"
        "    pass\n"
        f"print(json.dumps(sorted(m for m in {HEAVY_MODULES!r} if m in sys.modules)))\n"
    )
    completed = subprocess.run(
        [sys.executable, "-c", probe], capture_output=True, text=True, timeout=60, check=True
    )
    *listing, imported = completed.stdout.strip().splitlines()
    assert json.loads(imported) == []
    assert "tasks" in "\n".join(listing)


def test_commands_print_their_result_and_the_apps_info_lines_only_with_verbose(
    tmp_path: object,
) -> None:
    def seed(*options: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [sys.executable, "-c", "from cli import main; main()", *options, "db", "init"],
            capture_output=True,
            text=True,
            timeout=120,
        )

    quiet, verbose = seed(), seed("-v")
    assert quiet.returncode == 0, quiet.stderr
    assert quiet.stdout.strip() == "Database is at the latest schema."
    assert " INFO " not in quiet.stderr
    assert verbose.returncode == 0, verbose.stderr
    assert " INFO " in verbose.stderr

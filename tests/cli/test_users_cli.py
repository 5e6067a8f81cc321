"""``challenge users create``: the only way to make an admin, with a prompted password."""

from __future__ import annotations

import pytest
from click.testing import Result
from flask.testing import FlaskCliRunner

from cli import main
from website.models import User
from website.services.passwords import verify_password
from website.services.users import get_user_by_username

PASSWORD = "a long cli password"


def create(runner: FlaskCliRunner, *args: str, typed: str = f"{PASSWORD}\n{PASSWORD}\n") -> Result:
    """Run ``challenge users create`` with ``typed`` as what the operator types at the prompts."""
    return runner.invoke(main, ["users", "create", *args], input=typed)


@pytest.mark.parametrize(("flags", "role"), [(["--admin"], "admin"), ([], "user")])
def test_creates_a_user_with_the_prompted_password(
    runner: FlaskCliRunner, flags: list[str], role: str
) -> None:
    result = create(runner, "root", *flags)
    assert result.exit_code == 0, result.output
    user = get_user_by_username("root")
    assert isinstance(user, User)
    assert user.role == role
    assert verify_password(user.password_hash, PASSWORD)


def test_never_echoes_the_password(runner: FlaskCliRunner) -> None:
    result = create(runner, "root", "--admin")
    assert PASSWORD not in result.output
    assert "Password" in result.output


def test_asks_again_when_the_confirmation_differs(runner: FlaskCliRunner) -> None:
    result = create(runner, "root", typed=f"{PASSWORD}\nsomething else\n{PASSWORD}\n{PASSWORD}\n")
    assert result.exit_code == 0, result.output
    assert verify_password(get_user_by_username("root").password_hash, PASSWORD)  # type: ignore[union-attr]


def test_does_not_take_the_password_as_an_option(runner: FlaskCliRunner) -> None:
    result = runner.invoke(main, ["users", "create", "root", "--password", PASSWORD])
    assert result.exit_code == 2
    assert get_user_by_username("root") is None


@pytest.mark.parametrize(
    ("username", "password", "message"),
    [
        ("ab", PASSWORD, "username"),
        ("root", "short", "password"),
    ],
)
def test_refuses_invalid_credentials(
    runner: FlaskCliRunner, username: str, password: str, message: str
) -> None:
    result = create(runner, username, typed=f"{password}\n{password}\n")
    assert result.exit_code == 1
    assert message in result.output
    assert get_user_by_username(username) is None


def test_refuses_a_taken_username(runner: FlaskCliRunner) -> None:
    assert create(runner, "root").exit_code == 0
    result = create(runner, "root", "--admin")
    assert result.exit_code == 1
    assert "already taken" in result.output
    assert get_user_by_username("root").role == "user"  # type: ignore[union-attr]


NEW_PASSWORD = "another long cli password"


def set_password(runner: FlaskCliRunner, username: str, typed: str) -> Result:
    return runner.invoke(main, ["users", "set-password", username], input=typed)


def test_set_password_prompts_twice_and_ends_the_users_sessions(runner: FlaskCliRunner) -> None:
    create(runner, "carol")
    stamp = get_user_by_username("carol").security_stamp  # type: ignore[union-attr]

    result = set_password(runner, "CAROL", f"{NEW_PASSWORD}\n{NEW_PASSWORD}\n")

    assert result.exit_code == 0, result.output
    assert NEW_PASSWORD not in result.output
    assert "New password: \nRepeat for confirmation: " in result.output
    user = get_user_by_username("carol")
    assert user is not None
    assert verify_password(user.password_hash, NEW_PASSWORD)
    assert user.security_stamp != stamp


def test_set_password_of_an_unknown_user_fails_in_one_line(runner: FlaskCliRunner) -> None:
    result = set_password(runner, "nobody", f"{NEW_PASSWORD}\n{NEW_PASSWORD}\n")

    assert result.exit_code == 1
    assert "No user named 'nobody'" in result.output


def test_set_password_refuses_a_short_password(runner: FlaskCliRunner) -> None:
    create(runner, "carol")

    result = set_password(runner, "carol", "short\nshort\n")

    assert result.exit_code == 1
    assert "password" in result.output
    assert verify_password(get_user_by_username("carol").password_hash, PASSWORD)  # type: ignore[union-attr]

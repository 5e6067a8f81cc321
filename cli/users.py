"""``challenge users``: manage accounts from the command line (the only way to make an admin)."""

from __future__ import annotations

import click
from flask.cli import AppGroup

from website.errors import DomainError
from website.models import Role
from website.services.users import create_user, get_user_by_username, set_password

__all__ = ["users_group"]

users_group = AppGroup("users", help="Manage user accounts.")


@users_group.command("create")
@click.argument("username")
@click.option("--admin", is_flag=True, help="Give the user the admin role.")
def create_command(username: str, admin: bool) -> None:
    """Create a user; the password is prompted for (twice), never echoed nor taken as an option."""
    password = click.prompt("Password", hide_input=True, confirmation_prompt=True)
    try:
        user = create_user(username, password, Role.ADMIN if admin else Role.USER)
    except DomainError as error:
        raise _refused(error) from None
    click.echo(f"Created {user.role} {user.username!r} (id {user.id}).")


@users_group.command("set-password")
@click.argument("username")
def set_password_command(username: str) -> None:
    """Set a user's password (prompted twice, never echoed): every session of the user ends."""
    user = get_user_by_username(username)
    if user is None:
        raise click.ClickException(f"No user named {username!r}")
    password = click.prompt("New password", hide_input=True, confirmation_prompt=True)
    try:
        set_password(user.id, password)
    except DomainError as error:
        raise _refused(error) from None
    click.echo(f"Password of {user.username!r} (id {user.id}) set; their sessions have ended.")


def _refused(error: DomainError) -> click.ClickException:
    details = "; ".join(
        f"{field}: {' '.join(map(str, problems))}" for field, problems in error.errors.items()
    )
    return click.ClickException(f"{error.message}{f' ({details})' if details else ''}")

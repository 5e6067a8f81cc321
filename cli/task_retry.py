"""``challenge tasks retry``: reset the failure count of exhausted tasks, as the bulk reset does."""

from __future__ import annotations

import click

from website.services.task_retries import reset_attempts
from website.services.users import get_user_by_username

__all__ = ["retry_command"]


@click.command("retry")
@click.option(
    "--exhausted", is_flag=True, help="Retry every exhausted task (required: what to retry)."
)
@click.option("--user", "username", metavar="NAME", help="Only this user's tasks (default: all).")
def retry_command(exhausted: bool, username: str | None) -> None:
    """Reset the attempts of exhausted tasks so they run again; print how many and which."""
    if not exhausted:
        raise click.UsageError("Say what to retry: --exhausted.")
    owner_id = None
    if username is not None:
        user = get_user_by_username(username)
        if user is None:
            raise click.ClickException(f"No user named {username!r}.")
        owner_id = user.id
    ids = reset_attempts(owner_id, exhausted=True)
    listed = f": {', '.join(map(str, ids))}" if ids else ""
    click.echo(f"Reset {len(ids)} exhausted task{'' if len(ids) == 1 else 's'}{listed}.")

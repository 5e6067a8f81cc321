"""The demo account and its tasks over the sample event feeds, created idempotently."""

from __future__ import annotations

import logging
import secrets
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime

from flask import current_app
from sqlalchemy import delete, select

from website.config import PRODUCTION
from website.database import utcnow
from website.extensions import db
from website.models import Task, User
from website.services import database_admin
from website.services.passwords import hash_password
from website.services.tasks import create_task
from website.services.users import create_user, get_user_by_username

__all__ = [
    "DEMO_TASKS",
    "DEMO_USERNAME",
    "DEVELOPMENT_DEMO_PASSWORD",
    "DemoTask",
    "SeedResult",
    "prepare_demo_database",
    "seed_demo",
]

logger = logging.getLogger(__name__)

DEMO_USERNAME = "demo"
DEVELOPMENT_DEMO_PASSWORD = "demo-password"  # noqa: S105  (well known on purpose: development only)
GENERATED_PASSWORD_BYTES = 18  # 24 URL-safe characters for a production demo password
DEMO_MAX_EXECUTION_TIME = 10  # seconds; the demo feed answers in milliseconds
DEMO_MAX_ATTEMPT = 5


@dataclass(frozen=True)
class DemoTask:
    """One seeded task: a demo feed fetched every ``interval`` seconds."""

    feed: str
    interval: int
    priority: int = 5

    @property
    def name(self) -> str:
        return f"{self.feed.removesuffix('.json')} every {self.interval}s"


# Short intervals, so that a newcomer sees fetches flowing within seconds of `challenge run`.
DEMO_TASKS = (
    DemoTask("salesmeeting2020.json", 10, priority=9),
    DemoTask("salesmeeting2020.json", 30),
    DemoTask("salesmeeting2020.json", 60, priority=1),
    DemoTask("amazingexpo2020.json", 15, priority=7),
    DemoTask("amazingexpo2020.json", 30),
    DemoTask("amazingexpo2020.json", 45),
    DemoTask("amazingexpo2020.json", 60, priority=1),
    DemoTask("ceosummersummit2020.json", 10),
    DemoTask("ceosummersummit2020.json", 20),
    DemoTask("ceosummersummit2020.json", 40, priority=3),
)


@dataclass(frozen=True)
class SeedResult:
    """What a seed run did. ``password`` is set only when this run chose it, to be shown once."""

    username: str
    password: str | None
    user_created: bool
    tasks_created: int
    tasks_kept: int
    tasks_deleted: int


def seed_demo(
    *,
    password: str | None = None,
    reset: bool = False,
    base_url: str | None = None,
    on_task: Callable[[DemoTask], None] | None = None,
) -> SeedResult:
    """Create the demo user and its tasks; whatever already exists is kept, so a rerun adds nothing.

    ``reset`` deletes the demo user's tasks (their jobs and data go with them) first.
    ``base_url`` is where the demo feed is served (DEMO_BASE_URL by default). ``on_task`` is called
    once per demo task, created or kept, to drive a progress bar.
    """
    base_url = (base_url or current_app.config["DEMO_BASE_URL"]).rstrip("/")
    user, chosen_password, user_created = _demo_user(password)
    deleted = _delete_tasks_of(user) if reset else 0
    existing_names = set(db.session.scalars(select(Task.name).where(Task.owner_id == user.id)))
    start_time = utcnow()
    created = 0
    for demo_task in DEMO_TASKS:
        if demo_task.name not in existing_names:
            create_task(user.id, _task_values(demo_task, base_url, start_time))
            created += 1
        if on_task is not None:
            on_task(demo_task)
    logger.info(
        "demo seeded: %s tasks created, %s kept, %s deleted",
        created,
        len(DEMO_TASKS) - created,
        deleted,
        extra={"user_id": user.id},
    )
    return SeedResult(
        username=user.username,
        password=chosen_password,
        user_created=user_created,
        tasks_created=created,
        tasks_kept=len(DEMO_TASKS) - created,
        tasks_deleted=deleted,
    )


def _demo_user(password: str | None) -> tuple[User, str | None, bool]:
    """The demo user, created if missing; an explicit ``password`` is (re)applied."""
    user = get_user_by_username(DEMO_USERNAME)
    if user is None:
        chosen = password or _default_password()
        return create_user(DEMO_USERNAME, chosen), chosen, True
    if password is not None:
        user.password_hash = hash_password(password)
        db.session.commit()
        logger.info("demo password changed", extra={"user_id": user.id})
    return user, password, False


def _default_password() -> str:
    if current_app.config["APP_ENV"] == PRODUCTION:
        return secrets.token_urlsafe(GENERATED_PASSWORD_BYTES)
    return DEVELOPMENT_DEMO_PASSWORD


def _delete_tasks_of(user: User) -> int:
    result = db.session.execute(delete(Task).where(Task.owner_id == user.id))
    db.session.commit()
    deleted: int = getattr(result, "rowcount", 0)
    logger.info("demo tasks deleted: %s", deleted, extra={"user_id": user.id})
    return deleted


def _task_values(demo_task: DemoTask, base_url: str, start_time: datetime) -> dict[str, object]:
    return {
        "name": demo_task.name,
        "url": f"{base_url}/demo/events/{demo_task.feed}",
        "parameters": {},
        "start_time": start_time,
        "end_time": None,
        "task_interval": demo_task.interval,
        "max_execution_time": DEMO_MAX_EXECUTION_TIME,
        "max_attempt": DEMO_MAX_ATTEMPT,
        "priority": demo_task.priority,
    }


def prepare_demo_database(base_url: str) -> SeedResult | None:
    """Migrate to the latest schema; a brand-new database also gets the demo user and tasks.

    Only where the demo feed is served (DEMO_FEED, on in development): elsewhere the demo
    tasks would have nothing to fetch.
    """
    is_new = database_admin.database_is_new()
    database_admin.migrate_to_head()
    if is_new and current_app.config["DEMO_FEED"]:
        return seed_demo(base_url=base_url)
    return None

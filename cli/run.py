"""``challenge run``: the whole stack on embedded defaults, in one terminal, until Ctrl-C."""

from __future__ import annotations

import os
import signal
import socket
import sys
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Callable
from pathlib import Path
from types import FrameType

import click
import redis
from flask import current_app
from flask.cli import with_appcontext

from cli.db import echo_seed_result
from cli.embedded_redis import EmbeddedRedis
from cli.supervisor import ChildSpec, Supervisor
from website.config import DEVELOPMENT, WEB_PORT
from website.extensions import db
from website.services.seed import DEMO_USERNAME, DEVELOPMENT_DEMO_PASSWORD, prepare_demo_database

__all__ = ["run_command"]

POLL_SECONDS = 0.5  # how often children and the health endpoint are checked
READY_TIMEOUT_SECONDS = 60.0  # the web server must answer /healthz within this time
HEALTH_PROBE_TIMEOUT_SECONDS = 2.0
REDIS_PROBE_TIMEOUT_SECONDS = 3.0
BEAT_SCHEDULE_FILE = "celerybeat-schedule"  # beat's bookkeeping, kept in the instance folder
STOP_SIGNALS = (signal.SIGINT, signal.SIGTERM)


@click.command("run")
@click.option(
    "--host",
    default="127.0.0.1",
    show_default=True,
    envvar="HOST",
    help="Address to serve on (HOST).",
)
@click.option(
    "--port",
    default=WEB_PORT,
    show_default=True,
    envvar="PORT",
    type=click.IntRange(1, 65535),
    help="Port to serve on (PORT).",
)
@click.option(
    "--workers", default=2, show_default=True, type=click.IntRange(1), help="Web processes."
)
@with_appcontext
def run_command(host: str, port: int, workers: int) -> None:
    """Run the web server, a worker and beat (and Redis unless REDIS_URL is set) until Ctrl-C."""
    stop = threading.Event()
    previous_handlers = {signum: signal.signal(signum, _set(stop)) for signum in STOP_SIGNALS}
    config = current_app.config
    instance_path = Path(current_app.instance_path)
    local_url = f"http://{'127.0.0.1' if host in {'0.0.0.0', '::'} else host}:{port}"  # noqa: S104
    redis_server = None
    # Taken ports and an unreachable Redis fail now, in one line, before anything starts.
    _refuse_taken_port(host, port, "PORT (or --port)")
    if config["REDIS_EMBEDDED"]:
        _refuse_taken_port("127.0.0.1", config["EMBEDDED_REDIS_PORT"], "EMBEDDED_REDIS_PORT")
    else:
        _refuse_unreachable_redis(config["REDIS_URL"])
    try:
        if config["REDIS_EMBEDDED"]:
            redis_server = EmbeddedRedis(config["EMBEDDED_REDIS_PORT"], instance_path / "redis")
            try:
                redis_server.start()
            except RuntimeError as error:
                raise click.ClickException(
                    f"the embedded Redis did not start on port {redis_server.port} ({error}): "
                    "set EMBEDDED_REDIS_PORT to another port, or REDIS_URL to use a Redis server"
                ) from None
            click.echo(f"Embedded Redis on {redis_server.url}")
        seeded = prepare_demo_database(base_url=local_url)
        if seeded is not None:
            echo_seed_result(seeded)
        db.session.remove()
        db.engine.dispose()
        if stop.is_set():
            return
        supervisor = Supervisor(_children(host, port, workers, instance_path), _environment())
        try:
            supervisor.start()
            failed = _watch(supervisor, stop, local_url)
        finally:
            supervisor.stop()
        if failed is not None:
            raise click.ClickException(f"{failed.name} exited unexpectedly; everything stopped.")
        click.echo("Stopped.")
    finally:
        if redis_server is not None:
            redis_server.stop()
        for signum, handler in previous_handlers.items():
            signal.signal(signum, handler)


def _refuse_taken_port(host: str, port: int, setting: str) -> None:
    """Fail in one line when something already listens on ``host:port``."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    with socket.socket(family, socket.SOCK_STREAM) as probe:
        # As the servers bind: a port left in TIME_WAIT by a previous run is free.
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind((host, port))
        except OSError as error:
            raise click.ClickException(
                f"port {port} on {host} is taken ({error.strerror}): set {setting} to another port"
            ) from None


def _refuse_unreachable_redis(url: str) -> None:
    """Fail in one line when the Redis of REDIS_URL does not answer a ping."""
    client = redis.Redis.from_url(
        url,
        socket_connect_timeout=REDIS_PROBE_TIMEOUT_SECONDS,
        socket_timeout=REDIS_PROBE_TIMEOUT_SECONDS,
    )
    try:
        client.ping()
    except redis.RedisError as error:
        where = client.connection_pool.connection_kwargs
        address = where.get("path") or f"{where.get('host')}:{where.get('port')}"
        raise click.ClickException(
            f"Redis at {address} (REDIS_URL) does not answer ({error}): start it, or unset "
            "REDIS_URL to run the embedded Redis"
        ) from None
    finally:
        client.close()


def _children(host: str, port: int, workers: int, instance_path: Path) -> list[ChildSpec]:
    python = sys.executable
    log_level = current_app.config["LOG_LEVEL"]
    celery = [python, "-m", "celery", "-A", "cli.worker_app"]
    return [
        ChildSpec(
            "web",
            [
                *(python, "-m", "gunicorn", "-c", "python:website.gunicorn_config"),
                *("--bind", f"{host}:{port}", "--workers", str(workers)),
                "website:create_app()",
            ],
        ),
        ChildSpec("worker", [*celery, "worker", "--loglevel", log_level]),
        ChildSpec(
            "beat",
            [
                *celery,
                *("beat", "--loglevel", log_level),
                *("--schedule", str(instance_path / BEAT_SCHEDULE_FILE)),
            ],
        ),
    ]


def _environment() -> dict[str, str]:
    """The children's environment: ours, pinned to the same instance folder, database and Redis."""
    config = current_app.config
    return {
        **os.environ,
        "INSTANCE_PATH": current_app.instance_path,
        "DATABASE_URL": config["SQLALCHEMY_DATABASE_URI"],
        "REDIS_URL": config["REDIS_URL"],
        "PYTHONUNBUFFERED": "1",  # log lines arrive as they are written
    }


def _watch(supervisor: Supervisor, stop: threading.Event, local_url: str) -> ChildSpec | None:
    """Wait for a stop signal, announcing the URLs once the web answers; a dead child ends it."""
    deadline = time.monotonic() + READY_TIMEOUT_SECONDS
    announced = False
    while not stop.wait(POLL_SECONDS):
        failed = supervisor.exited_child()
        if failed is not None:
            return failed
        if not announced and _answers(f"{local_url}/healthz"):
            announced = True
            supervisor.print(_announcement(local_url))
        elif not announced and time.monotonic() > deadline:
            supervisor.print(f"The web server does not answer {local_url}/healthz yet; waiting.")
            deadline = float("inf")
    return None


def _answers(url: str) -> bool:
    try:
        with urllib.request.urlopen(url, timeout=HEALTH_PROBE_TIMEOUT_SECONDS) as response:  # noqa: S310
            return bool(response.status == 200)
    except (OSError, urllib.error.URLError):
        return False


def _announcement(local_url: str) -> str:
    lines = [
        "",
        f"  API          {local_url}   (OpenAPI spec: {local_url}/openapi.json)",
        f"  Swagger UI   {local_url}/swagger-ui",
        f"  Health       {local_url}/healthz   {local_url}/readyz",
    ]
    if current_app.config["UI_ENABLED"]:
        lines.append(f"  Dashboard    {local_url}/ui/")
    if current_app.config["DEMO_FEED"]:
        lines.append(f"  Demo feed    {local_url}/demo/events/salesmeeting2020.json")
    if current_app.config["APP_ENV"] == DEVELOPMENT:
        lines.append(f"  Demo login   {DEMO_USERNAME} / {DEVELOPMENT_DEMO_PASSWORD}")
    lines += ["  Press Ctrl-C to stop.", ""]
    return "\n".join(lines)


def _set(event: threading.Event) -> Callable[[int, FrameType | None], None]:
    def handler(_signum: int, _frame: FrameType | None) -> None:
        event.set()

    return handler

"""Configuration read once from the environment (12-factor), with safe defaults per APP_ENV."""

from __future__ import annotations

import json
import os
import secrets
import urllib.parse
from datetime import timedelta
from pathlib import Path
from typing import Any

__all__ = ["ConfigError", "load_config", "log_settings", "web_server_settings"]

DEVELOPMENT = "development"
PRODUCTION = "production"
APP_ENVS = (DEVELOPMENT, PRODUCTION)

MIN_SECRET_BYTES = 32  # HS256 wants at least 256 bits of key
EMBEDDED_REDIS_PORT = 6390  # away from a system redis on 6379
ONE_YEAR = 365 * 24 * 3600  # the longest allowed task interval, in seconds
MIB = 1024 * 1024
# Records may serialise larger than the body they came from (ASCII escapes of non-ASCII text
# take up to 3x), so their bound defaults to a multiple of the body cap.
RECORDS_BYTES_PER_BODY_BYTE = 4
LOG_FORMATS = ("text", "json")  # lines for people, or one JSON object per line for collectors
WEB_PORT = 8000  # where `challenge run` and the Docker image serve the API
MIN_CONNECT_TIMEOUT = 2  # seconds; libpq takes anything shorter as 2
LOG_LEVELS = ("DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL")
# The database drivers installed with challenge: SQLite, and PostgreSQL through psycopg 3.
DATABASE_SCHEMES = ("sqlite", "postgresql+psycopg")
REDIS_SCHEMES = ("redis", "rediss", "unix")


class ConfigError(RuntimeError):
    """The environment describes a configuration the app refuses to start with."""


def _env(name: str, default: str | None = None) -> str | None:
    value = os.environ.get(name)
    return default if value is None or value == "" else value


def _env_bool(name: str, default: bool) -> bool:
    value = _env(name)
    if value is None:
        return default
    if value.lower() in {"1", "true", "yes", "on"}:
        return True
    if value.lower() in {"0", "false", "no", "off"}:
        return False
    raise ConfigError(f"{name} must be a boolean (1/0, true/false), got {value!r}")


def _env_int(name: str, default: int, minimum: int = 0) -> int:
    value = _env(name)
    if value is None:
        return default
    try:
        number = int(value)
    except ValueError:
        raise ConfigError(f"{name} must be an integer, got {value!r}") from None
    if number < minimum:
        raise ConfigError(f"{name} must be at least {minimum}, got {number}")
    return number


def _env_float(name: str, default: float, minimum: float = 0.0) -> float:
    value = _env(name)
    if value is None:
        return default
    try:
        number = float(value)
    except ValueError:
        raise ConfigError(f"{name} must be a number, got {value!r}") from None
    if number < minimum:
        raise ConfigError(f"{name} must be at least {minimum}, got {number}")
    return number


def _env_list(name: str) -> list[str]:
    value = _env(name, "") or ""
    return [item.strip().lower() for item in value.split(",") if item.strip()]


def _development_secrets(instance_path: Path) -> dict[str, str]:
    """Generate the development secrets once and keep them in the instance folder."""
    path = instance_path / "secrets.json"
    try:
        stored = json.loads(path.read_text())
    except (FileNotFoundError, ValueError):
        stored = {}
    if not {"SECRET_KEY", "JWT_SECRET_KEY"} <= stored.keys():
        stored = {
            "SECRET_KEY": secrets.token_urlsafe(48),
            "JWT_SECRET_KEY": secrets.token_urlsafe(48),
        }
        path.parent.mkdir(parents=True, exist_ok=True)
        # Write then rename, so that two processes starting together agree on one secret.
        tmp = path.with_suffix(f".{os.getpid()}.tmp")
        tmp.write_text(json.dumps(stored))
        tmp.chmod(0o600)
        if not path.exists():
            tmp.replace(path)
        else:
            tmp.unlink()
            stored = json.loads(path.read_text())
    return stored


def _secret(name: str, app_env: str, instance_path: Path) -> str:
    value = _env(name)
    if value is None:
        if app_env == PRODUCTION:
            raise ConfigError(f"{name} must be set in production (at least 32 random bytes)")
        return _development_secrets(instance_path)[name]
    if len(value.encode()) < MIN_SECRET_BYTES:
        raise ConfigError(f"{name} must be at least {MIN_SECRET_BYTES} bytes long")
    return value


def _database_url(instance_path: Path) -> str:
    """DATABASE_URL, refused unless one of the installed drivers can use it."""
    url = _env("DATABASE_URL")
    if url is None:
        return f"sqlite:///{instance_path / 'challenge.db'}"
    scheme, separator, _rest = url.partition("://")
    if not separator or not scheme:
        raise ConfigError(
            "DATABASE_URL is not a URL: use postgresql+psycopg://USER:PASSWORD@HOST:5432/NAME "
            "or sqlite:///PATH"
        )
    if scheme in {"postgres", "postgresql", "postgresql+psycopg2"}:
        raise ConfigError(
            f"DATABASE_URL starts with {scheme}://, which needs a driver challenge does not "
            "install: write postgresql+psycopg:// instead (same user, password, host and name)"
        )
    if scheme not in DATABASE_SCHEMES:
        raise ConfigError(
            f"DATABASE_URL starts with {scheme}://: use postgresql+psycopg://... or sqlite:///..."
        )
    # Only the scheme is ever repeated in a message: the rest may hold a password.
    from sqlalchemy.engine import make_url
    from sqlalchemy.exc import ArgumentError

    try:
        parsed = make_url(url)
        parsed.port  # noqa: B018  (a port that is not a number fails here)
    except (ArgumentError, ValueError):
        raise ConfigError(
            f"DATABASE_URL could not be parsed: use {scheme}://USER:PASSWORD@HOST:5432/NAME "
            "(percent-encode @, : and / inside the password)"
            if scheme != "sqlite"
            else "DATABASE_URL could not be parsed: use sqlite:///RELATIVE/PATH or "
            "sqlite:////ABSOLUTE/PATH"
        ) from None
    return url


def _redis_url(embedded_redis_port: int) -> str:
    """REDIS_URL (a Redis server of your own), else the embedded Redis's address."""
    url = _env("REDIS_URL")
    if url is None:
        return f"redis://127.0.0.1:{embedded_redis_port}/0"
    try:
        parsed = urllib.parse.urlsplit(url)
        parsed.port  # noqa: B018  (a port that is not a number fails here)
    except ValueError:
        parsed = None
    if parsed is None or parsed.scheme not in REDIS_SCHEMES or not (parsed.hostname or parsed.path):
        raise ConfigError(
            "REDIS_URL could not be used: write redis://HOST:6379/0 (rediss:// for TLS), or unset "
            "it to run the embedded Redis"
        )
    return url


def load_config(instance_path: Path) -> dict[str, Any]:
    """Read the whole configuration from the environment."""
    app_env = _env("APP_ENV", DEVELOPMENT) or DEVELOPMENT
    if app_env not in APP_ENVS:
        raise ConfigError(f"APP_ENV must be one of {', '.join(APP_ENVS)}, got {app_env!r}")
    development = app_env == DEVELOPMENT
    embedded_redis_port = _env_int("EMBEDDED_REDIS_PORT", EMBEDDED_REDIS_PORT, minimum=1)
    redis_url = _redis_url(embedded_redis_port)
    max_execution_time = _env_int("MAX_EXECUTION_TIME", 300, minimum=1)
    fetch_default_timeout = _env_int("FETCH_DEFAULT_TIMEOUT", 30, minimum=1)
    fetch_max_bytes = _env_int("FETCH_MAX_BYTES", 10 * MIB, minimum=1)
    web_port = _env_int("PORT", WEB_PORT, minimum=1)

    return {
        "APP_ENV": app_env,
        "SECRET_KEY": _secret("SECRET_KEY", app_env, instance_path),
        "JWT_SECRET_KEY": _secret("JWT_SECRET_KEY", app_env, instance_path),
        "SQLALCHEMY_DATABASE_URI": _database_url(instance_path),
        # How long to wait for PostgreSQL (docs/configuration.md); 0 statement timeout: none.
        "DATABASE_CONNECT_TIMEOUT": _env_int(
            "DATABASE_CONNECT_TIMEOUT", 5, minimum=MIN_CONNECT_TIMEOUT
        ),
        "DATABASE_STATEMENT_TIMEOUT": _env_float("DATABASE_STATEMENT_TIMEOUT", 30.0),
        # A threads worker's fetches share its 15 pooled connections: when hundreds of responses
        # arrive at once, the last in line wait seconds for one (the process's core is busy).
        "DATABASE_POOL_TIMEOUT": _env_float("DATABASE_POOL_TIMEOUT", 30.0, minimum=0.1),
        "REDIS_URL": redis_url,
        "REDIS_EMBEDDED": _env("REDIS_URL") is None,
        "EMBEDDED_REDIS_PORT": embedded_redis_port,
        # API
        "MAX_CONTENT_LENGTH": _env_int("MAX_CONTENT_LENGTH", 1 * MIB, minimum=1024),
        "MAX_TASKS_PER_USER": _env_int("MAX_TASKS_PER_USER", 1000, minimum=1),
        # Tasks one POST /tasks/batch may carry (and rows one import inserts at a time).
        "MAX_BATCH": _env_int("MAX_BATCH", 500, minimum=1),
        "MIN_TASK_INTERVAL": _env_int("MIN_TASK_INTERVAL", 1, minimum=1),
        "MAX_TASK_INTERVAL": ONE_YEAR,
        "MAX_EXECUTION_TIME": max_execution_time,
        "DEMO_FEED": _env_bool("DEMO_FEED", development),
        # Where the seeded demo tasks fetch the demo feed from (this app's own address).
        # By default the address `challenge run` serves: PORT, else 8000.
        "DEMO_BASE_URL": (_env("DEMO_BASE_URL", f"http://127.0.0.1:{web_port}") or "").rstrip("/"),
        # Auth
        "JWT_ACCESS_TOKEN_EXPIRES": timedelta(
            seconds=_env_int("JWT_ACCESS_TOKEN_EXPIRES", 15 * 60, minimum=1)
        ),
        "JWT_REFRESH_TOKEN_EXPIRES": timedelta(
            seconds=_env_int("JWT_REFRESH_TOKEN_EXPIRES", 30 * 24 * 3600, minimum=1)
        ),
        "JWT_ALGORITHM": "HS256",
        "JWT_DECODE_ALGORITHMS": ["HS256"],
        # The API reads bearer tokens from the Authorization header only; the dashboard
        # (website/ui) asks for its cookie explicitly, so no API view ever accepts a cookie.
        "JWT_TOKEN_LOCATION": ["headers"],
        # The dashboard's cookie: HttpOnly, SameSite, only sent to /ui/, Secure in production,
        # and every state-changing request must carry the token's CSRF value (double submit).
        "JWT_ACCESS_COOKIE_PATH": "/ui/",
        "JWT_REFRESH_COOKIE_PATH": "/ui/",
        "JWT_COOKIE_SAMESITE": "Lax",
        "JWT_COOKIE_SECURE": _env_bool("UI_COOKIE_SECURE", not development),
        "JWT_COOKIE_CSRF_PROTECT": True,
        "JWT_CSRF_IN_COOKIES": False,  # the pages carry the value in their forms
        "JWT_CSRF_CHECK_FORM": True,
        # Dashboard
        "UI_ENABLED": _env_bool("UI_ENABLED", development),
        "RATELIMIT_ENABLED": _env_bool("RATELIMIT_ENABLED", True),
        "RATELIMIT_AUTH": _env("RATELIMIT_AUTH", "10 per minute"),
        # Fetcher
        "FETCH_ALLOW_PRIVATE": _env_bool("FETCH_ALLOW_PRIVATE", development),
        "FETCH_ALLOWED_HOSTS": _env_list("FETCH_ALLOWED_HOSTS"),
        "FETCH_MAX_BYTES": fetch_max_bytes,
        # What one job may keep: records, and bytes of their JSON (and of what its records
        # expression builds while it runs).
        "FETCH_MAX_RECORDS": _env_int("FETCH_MAX_RECORDS", 100_000, minimum=1),
        "FETCH_MAX_RECORDS_BYTES": _env_int(
            "FETCH_MAX_RECORDS_BYTES", RECORDS_BYTES_PER_BODY_BYTE * fetch_max_bytes, minimum=1
        ),
        "FETCH_DEFAULT_TIMEOUT": min(fetch_default_timeout, max_execution_time),
        "FETCH_MAX_REDIRECTS": _env_int("FETCH_MAX_REDIRECTS", 10),
        # A PEM file of CA certificates trusted instead of certifi's (e.g. a private CA).
        "FETCH_CA_BUNDLE": _env("FETCH_CA_BUNDLE"),
        # Scheduler and worker
        "SCHEDULER_TICK_SECONDS": _env_float("SCHEDULER_TICK_SECONDS", 1.0, minimum=0.05),
        "SCHEDULER_BATCH": _env_int("SCHEDULER_BATCH", 500, minimum=1),
        "REQUEUE_AFTER": _env_int("REQUEUE_AFTER", 30, minimum=1),
        # A queued job waiting longer goes before every priority; 0: strict priorities.
        "PRIORITY_MAX_WAIT_SECONDS": _env_float("PRIORITY_MAX_WAIT_SECONDS", 60.0),
        "LEASE_GRACE_SECONDS": _env_int("LEASE_GRACE_SECONDS", 5, minimum=0),
        "DATA_RETENTION_JOBS": _env_int("DATA_RETENTION_JOBS", 100, minimum=1),
        "PRUNE_INTERVAL_SECONDS": _env_int("PRUNE_INTERVAL_SECONDS", 300, minimum=1),
        # Threads: hundreds of fetches wait on slow servers in one process (docs/engine.md).
        "WORKER_POOL": _env("WORKER_POOL", "threads"),
        "WORKER_CONCURRENCY": _env_int("WORKER_CONCURRENCY", 200, minimum=1),
        # Messages a worker process reserves per unit of concurrency (docs/engine.md).
        "WORKER_PREFETCH_MULTIPLIER": _env_int("WORKER_PREFETCH_MULTIPLIER", 1, minimum=1),
        # KiB of resident memory after which a prefork child is replaced once its task ends
        # (Celery's worker_max_memory_per_child), so no leak or huge job holds memory for good;
        # 0 turns it off.
        "WORKER_MAX_MEMORY_PER_CHILD": _env_int("WORKER_MAX_MEMORY_PER_CHILD", 256 * 1024),
        # Webhooks (docs/notifications.md)
        "MAX_WEBHOOKS_PER_USER": _env_int("MAX_WEBHOOKS_PER_USER", 20, minimum=1),
        "WEBHOOK_TIMEOUT": _env_float("WEBHOOK_TIMEOUT", 10.0, minimum=0.1),
        "WEBHOOK_MAX_ATTEMPTS": _env_int("WEBHOOK_MAX_ATTEMPTS", 12, minimum=1),
        "WEBHOOK_RETRY_BASE_SECONDS": _env_float("WEBHOOK_RETRY_BASE_SECONDS", 30.0, minimum=0.01),
        "WEBHOOK_RETRY_MAX_SECONDS": _env_float("WEBHOOK_RETRY_MAX_SECONDS", 3600.0, minimum=0.01),
        "WEBHOOK_MAX_IN_FLIGHT": _env_int("WEBHOOK_MAX_IN_FLIGHT", 2, minimum=1),
        "WEBHOOK_MAX_CHANGED_IDS": _env_int("WEBHOOK_MAX_CHANGED_IDS", 100),
        "WEBHOOK_RETENTION_DAYS": _env_int("WEBHOOK_RETENTION_DAYS", 30, minimum=1),
        # Logs
        **log_settings(),
    }


def log_settings() -> dict[str, str]:
    """The log level and format; gunicorn's master, which builds no app, reads them too."""
    development = (_env("APP_ENV", DEVELOPMENT) or DEVELOPMENT) == DEVELOPMENT
    log_format = _env("LOG_FORMAT", "text" if development else "json") or "json"
    if log_format not in LOG_FORMATS:
        choices = ", ".join(LOG_FORMATS)
        raise ConfigError(f"LOG_FORMAT must be one of {choices}, got {log_format!r}")
    log_level = (_env("LOG_LEVEL", "INFO") or "INFO").upper()
    if log_level not in LOG_LEVELS:
        choices = ", ".join(LOG_LEVELS)
        raise ConfigError(f"LOG_LEVEL must be one of {choices}, got {log_level.lower()!r}")
    return {"LOG_LEVEL": log_level, "LOG_FORMAT": log_format}


def web_server_settings() -> dict[str, Any]:
    """The web server's address and size, read by ``website/gunicorn_config.py``."""
    return {
        # 127.0.0.1 unless told otherwise; the Docker image sets HOST=0.0.0.0.
        "HOST": _env("HOST", "127.0.0.1"),
        "PORT": _env_int("PORT", WEB_PORT, minimum=1),
        # Gunicorn worker processes.
        "WEB_CONCURRENCY": _env_int("WEB_CONCURRENCY", 2, minimum=1),
        # Threads per worker process.
        "WEB_THREADS": _env_int("WEB_THREADS", 4, minimum=1),
    }

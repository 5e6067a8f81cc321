"""The app's Redis connection (JWT blocklist, readiness, rate limits share the server)."""

from __future__ import annotations

import redis
from flask import Flask, current_app

__all__ = ["get_redis", "init_app"]

REDIS_SOCKET_TIMEOUT = 2.0  # seconds; a request never hangs on a dead Redis


def init_app(app: Flask) -> None:
    app.extensions["redis"] = redis.Redis.from_url(
        app.config["REDIS_URL"],
        socket_timeout=REDIS_SOCKET_TIMEOUT,
        socket_connect_timeout=REDIS_SOCKET_TIMEOUT,
        health_check_interval=30,
        decode_responses=True,
    )


def get_redis() -> redis.Redis:
    """The current app's Redis client."""
    client: redis.Redis = current_app.extensions["redis"]
    return client

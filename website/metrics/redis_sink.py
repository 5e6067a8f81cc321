"""A process's metric increments, buffered and added to Redis hashes once a second by a thread.

Nothing on a request's or a job's path waits for Redis; losing Redis resets the sums, which
Prometheus reads as a counter reset.
"""

from __future__ import annotations

import logging
import math
import os
import threading
import time
from collections import defaultdict

import redis

__all__ = ["RedisSink"]

logger = logging.getLogger(__name__)

FLUSH_INTERVAL_SECONDS = 1.0  # how stale another process's increments can be in a scrape
REDIS_TIMEOUT_SECONDS = 1.0  # a dead Redis costs the flusher thread this much, nobody else
FAILURE_WARNING_DELAY_SECONDS = 10.0  # a blip is not worth a warning; an outage is
FAILURE_LOG_INTERVAL_SECONDS = 60.0  # then one warning a minute while Redis stays unreachable


class RedisSink:
    """Buffers increments per process and flushes them to Redis from a daemon thread."""

    def __init__(self) -> None:
        self._reset()
        self.client: redis.Redis | None = None
        self.url: str | None = None
        self.failing_since: float | None = None
        self.last_failure_logged = -math.inf
        os.register_at_fork(after_in_child=self._reset)

    def _reset(self) -> None:
        # A forked child starts empty: its parent flushes what it had buffered.
        self.lock = threading.Lock()
        self.pending: defaultdict[str, defaultdict[str, float]] = defaultdict(
            lambda: defaultdict(float)
        )
        self.thread: threading.Thread | None = None

    def connect(self, url: str) -> None:
        if url != self.url:
            if self.client is not None:
                self.client.close()
            self.url = url
            self.client = redis.Redis.from_url(
                url,
                socket_timeout=REDIS_TIMEOUT_SECONDS,
                socket_connect_timeout=REDIS_TIMEOUT_SECONDS,
                decode_responses=True,
            )

    def add(self, key: str, increments: dict[str, float]) -> None:
        with self.lock:
            fields = self.pending[key]
            for field, amount in increments.items():
                fields[field] += amount
            if self.thread is None:
                self.thread = threading.Thread(
                    target=self._flush_forever, name="metrics-flusher", daemon=True
                )
                self.thread.start()

    def _flush_forever(self) -> None:
        while True:
            time.sleep(FLUSH_INTERVAL_SECONDS)
            self.flush()

    def flush(self) -> bool:
        """Write the buffered increments to Redis; on failure keep them for the next try."""
        with self.lock:
            pending, self.pending = self.pending, defaultdict(lambda: defaultdict(float))
        if not pending:
            return True
        client = self.client
        try:
            if client is None:
                raise redis.ConnectionError("metrics are not connected to Redis yet")
            pipeline = client.pipeline(transaction=False)
            for key, fields in pending.items():
                for field, amount in fields.items():
                    if float(amount).is_integer():
                        pipeline.hincrby(key, field, int(amount))
                    else:
                        pipeline.hincrbyfloat(key, field, amount)
            pipeline.execute()
        except Exception as error:  # never let metrics break the process that records them
            self._keep(pending)
            self._report_failure(error)
            return False
        self.failing_since = None
        return True

    def _report_failure(self, error: Exception) -> None:
        now = time.monotonic()
        if self.failing_since is None:
            self.failing_since = now
        if (
            now - self.failing_since >= FAILURE_WARNING_DELAY_SECONDS
            and now - self.last_failure_logged >= FAILURE_LOG_INTERVAL_SECONDS
        ):
            self.last_failure_logged = now
            logger.warning("metrics not flushed to Redis for a while, kept for later: %s", error)

    def _keep(self, pending: dict[str, defaultdict[str, float]]) -> None:
        with self.lock:
            for key, fields in pending.items():
                for field, amount in fields.items():
                    self.pending[key][field] += amount

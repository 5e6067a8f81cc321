"""One warning per burst of a repeated failure, instead of one per occurrence."""

from __future__ import annotations

import logging
import threading
import time

__all__ = ["BurstLog"]


class BurstLog:
    """Logs the first occurrence, then at most one line per ``interval`` seconds with a count.

    An outage fails every request and job that meets it; one line when it starts and one a
    while later ("still happening, N more") tell an operator as much as thousands would.
    """

    def __init__(self, logger: logging.Logger, interval: float) -> None:
        self.logger = logger
        self.interval = interval
        self._lock = threading.Lock()
        self._logged_at: float | None = None
        self._unlogged = 0

    def warning(self, message: str, *args: object) -> None:
        """Log ``message % args`` unless a line was logged less than ``interval`` s ago."""
        now = time.monotonic()
        with self._lock:
            if self._logged_at is not None and now - self._logged_at < self.interval:
                self._unlogged += 1
                return
            unlogged, self._unlogged, self._logged_at = self._unlogged, 0, now
        if unlogged:
            self.logger.warning(
                f"{message} (and %s more times since the last report)", *args, unlogged
            )
        else:
            self.logger.warning(message, *args)

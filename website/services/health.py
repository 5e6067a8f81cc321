"""Readiness: can this process reach the database and Redis?"""

from __future__ import annotations

import logging

from sqlalchemy import text

from website.errors import report_database_unavailable
from website.extensions import db
from website.redis_client import get_redis

__all__ = ["unavailable_dependencies"]

logger = logging.getLogger(__name__)


def unavailable_dependencies() -> list[str]:
    """The names of the dependencies that do not answer (empty when all is well)."""
    down = []
    try:
        db.session.execute(text("SELECT 1"))
    except Exception as error:  # any driver error means "not ready"
        report_database_unavailable(error)  # once per outage: probes come every few seconds
        down.append("database")
    finally:
        db.session.rollback()
    try:
        get_redis().ping()
    except Exception as error:
        logger.warning("readiness: redis unavailable: %s", error)
        down.append("redis")
    return down

"""The webhook delivery queue: ``webhooks.deliver`` messages on a queue of their own.

Every worker consumes it beside the job queue (``celery_app.config``), but a slow receiver
takes at most ``WEBHOOK_MAX_IN_FLIGHT`` worker slots: the tick publishes no more than that.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence

from celery import Celery

from celery_app.queue import PUBLISH_ERRORS
from website.services.webhook_delivery import DeliveryMessage

__all__ = ["DELIVER_TASK", "WEBHOOK_QUEUE_NAME", "CeleryDeliveryQueue"]

logger = logging.getLogger(__name__)

WEBHOOK_QUEUE_NAME = "webhooks"
DELIVER_TASK = "webhooks.deliver"
HARD_LIMIT_MARGIN_SECONDS = 5  # beyond the POST's own deadline, a stuck attempt is killed


class CeleryDeliveryQueue:
    """``website.services.webhook_delivery.DeliveryQueue`` on a Celery app."""

    def __init__(self, celery: Celery, post_timeout: float) -> None:
        self.celery = celery
        self.time_limit = post_timeout + HARD_LIMIT_MARGIN_SECONDS

    def publish(self, messages: Sequence[DeliveryMessage]) -> list[int]:
        published: list[int] = []
        try:
            with self.celery.producer_or_acquire() as producer:
                for message in messages:
                    self.celery.send_task(
                        DELIVER_TASK,
                        args=[message.event_row_id, message.attempt],
                        queue=WEBHOOK_QUEUE_NAME,
                        time_limit=self.time_limit,
                        producer=producer,
                        retry=False,
                    )
                    published.append(message.event_row_id)
        except PUBLISH_ERRORS as error:
            # The events stay pending: their lease runs out and a later tick publishes them.
            logger.warning("broker unavailable, webhook events left for a later tick: %s", error)
        return published

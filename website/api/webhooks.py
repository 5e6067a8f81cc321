"""The webhook endpoints: subscriptions to events, their delivery attempts, a test ping."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from flask import url_for
from flask.views import MethodView
from flask_smorest.pagination import PaginationParameters

from website.api.blueprint import Blueprint
from website.api.responses import documents_errors, id_segment
from website.auth import current_user, login_required, owner_scope
from website.models import Webhook, WebhookEvent
from website.schemas.common import ScopeArgsSchema
from website.schemas.webhooks import (
    WebhookCreatedSchema,
    WebhookCreateSchema,
    WebhookDeliverySchema,
    WebhookEventSchema,
    WebhookSchema,
    WebhookUpdateSchema,
)
from website.services import webhooks as webhook_service

__all__ = ["blp"]

blp = Blueprint(
    "webhooks",
    __name__,
    description="Webhooks: signed POSTs to your URL when a task is exhausted, recovers, goes "
    "stale or its data changes (docs/notifications.md).",
)

WEBHOOK_ID = id_segment("webhook_id")
LOCATION_HEADER = {
    "Location": {"description": "The new webhook's URL.", "schema": {"type": "string"}}
}


@blp.route("/webhooks")
class Webhooks(MethodView):
    @login_required
    @blp.arguments(ScopeArgsSchema, location="query")
    @blp.response(200, WebhookSchema(many=True))
    @blp.paginate()
    @documents_errors(blp, 401)
    def get(
        self, args: dict[str, Any], pagination_parameters: PaginationParameters
    ) -> Sequence[Webhook]:
        """List your webhooks."""
        webhooks, total = webhook_service.list_webhooks(
            owner_scope(args["all"]),
            page=pagination_parameters.page,
            page_size=pagination_parameters.page_size,
        )
        pagination_parameters.item_count = total
        return webhooks

    @login_required
    @blp.arguments(WebhookCreateSchema)
    @blp.response(201, WebhookCreatedSchema, headers=LOCATION_HEADER)
    @documents_errors(blp, 400, 401, 413, 415)
    def post(self, values: dict[str, Any]) -> tuple[Webhook, dict[str, str]]:
        """Create a webhook.

        The answer holds its secret, the key of its signatures: it is never shown again.
        """
        webhook = webhook_service.create_webhook(current_user.id, values)
        return webhook, {"Location": url_for("webhooks.WebhookById", webhook_id=webhook.id)}


@blp.route(f"/webhooks/{WEBHOOK_ID}")
class WebhookById(MethodView):
    @login_required
    @blp.arguments(ScopeArgsSchema, location="query")
    @blp.response(200, WebhookSchema)
    @documents_errors(blp, 401, 404)
    def get(self, args: dict[str, Any], webhook_id: int) -> Webhook:
        """Show a webhook (without its secret)."""
        return webhook_service.get_webhook(webhook_id, owner_scope(args["all"]))

    @login_required
    @blp.arguments(WebhookUpdateSchema)
    @blp.arguments(ScopeArgsSchema, location="query")
    @blp.response(200, WebhookSchema)
    @documents_errors(blp, 400, 401, 404, 413, 415)
    def patch(self, changes: dict[str, Any], args: dict[str, Any], webhook_id: int) -> Webhook:
        """Change a webhook: send only the fields to change (active: false pauses it)."""
        return webhook_service.update_webhook(webhook_id, owner_scope(args["all"]), changes)

    @login_required
    @blp.arguments(ScopeArgsSchema, location="query")
    @blp.response(204)
    @documents_errors(blp, 401, 404)
    def delete(self, args: dict[str, Any], webhook_id: int) -> None:
        """Delete a webhook, with its events not yet delivered and its attempts."""
        webhook_service.delete_webhook(webhook_id, owner_scope(args["all"]))


@blp.route(f"/webhooks/{WEBHOOK_ID}/deliveries")
@login_required
@blp.arguments(ScopeArgsSchema, location="query")
@blp.response(200, WebhookDeliverySchema(many=True))
@blp.paginate()
@documents_errors(blp, 401, 404)
def list_deliveries(
    args: dict[str, Any], webhook_id: int, pagination_parameters: PaginationParameters
) -> Sequence[Any]:
    """List a webhook's delivery attempts, newest first: status code, duration, error."""
    rows, total = webhook_service.list_deliveries(
        webhook_id,
        owner_scope(args["all"]),
        page=pagination_parameters.page,
        page_size=pagination_parameters.page_size,
    )
    pagination_parameters.item_count = total
    return rows


@blp.route(f"/webhooks/{WEBHOOK_ID}/test", methods=["POST"])
@login_required
@blp.arguments(ScopeArgsSchema, location="query")
@blp.response(202, WebhookEventSchema)
@documents_errors(blp, 401, 404)
def test_webhook(args: dict[str, Any], webhook_id: int) -> WebhookEvent:
    """Send the webhook a ping event, signed like any other, within a scheduler tick."""
    return webhook_service.send_test_event(webhook_id, owner_scope(args["all"]))

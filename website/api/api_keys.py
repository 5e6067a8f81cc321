"""The caller's API keys: create one (shown once), list them without secrets, delete one."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from flask.views import MethodView

from website.api.blueprint import Blueprint
from website.api.responses import documents_errors, id_segment
from website.auth import current_user, login_required
from website.models import ApiKey
from website.schemas.api_keys import ApiKeyCreateSchema, ApiKeySchema, CreatedApiKeySchema
from website.services import api_keys

__all__ = ["blp"]

blp = Blueprint(
    "api-keys",
    __name__,
    description="Your API keys: long-lived bearer credentials for scripts, revocable one by one.",
)

KEY_ID = id_segment("key_id")


@blp.route("/users/me/api-keys")
class ApiKeys(MethodView):
    @login_required
    @blp.response(200, ApiKeySchema(many=True))
    def get(self) -> Sequence[ApiKey]:
        """List your API keys (never the keys themselves: only their first characters)."""
        return api_keys.list_api_keys(current_user.id)

    @login_required
    @blp.arguments(ApiKeyCreateSchema)
    @blp.response(201, CreatedApiKeySchema)
    @documents_errors(blp, 400, 413, 415)
    def post(self, new_key: dict[str, Any]) -> dict[str, Any]:
        """Create an API key; the answer is the only time the key is shown.

        Send it as `Authorization: Bearer <key>` wherever an access token works. It lasts until
        it is deleted or expires_at passes, and stops working when its account is deactivated.
        Only a SHA-256 hash of it is stored.
        """
        created = api_keys.create_api_key(current_user.id, new_key["name"], new_key["expires_at"])
        api_key = created.api_key
        return {
            "id": api_key.id,
            "name": api_key.name,
            "prefix": api_key.prefix,
            "created_at": api_key.created_at,
            "expires_at": api_key.expires_at,
            "key": created.key,
        }


@blp.route(f"/users/me/api-keys/{KEY_ID}")
class ApiKeyById(MethodView):
    @login_required
    @blp.response(204)
    @documents_errors(blp, 404)
    def delete(self, key_id: int) -> None:
        """Delete one of your API keys: it stops working at once."""
        api_keys.delete_api_key(current_user.id, key_id)

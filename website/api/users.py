"""User accounts: the caller's own, and every account for admins."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from flask import current_app
from flask.views import MethodView
from flask_smorest.pagination import PaginationParameters

from website.api.blueprint import Blueprint
from website.api.responses import documents_errors, id_segment
from website.auth import admin_required, current_user, login_required
from website.extensions import limiter
from website.models import User
from website.schemas.auth import TokenPairSchema
from website.schemas.users import (
    PasswordChangeSchema,
    PasswordResetSchema,
    UserSchema,
    UserUpdateSchema,
)
from website.services import tokens, users

__all__ = ["blp"]

blp = Blueprint("users", __name__, description="User accounts (all but /users/me...: admins only)")
USER_ID = id_segment("user_id")


def _auth_limit() -> str:
    limit: str = current_app.config["RATELIMIT_AUTH"]
    return limit


@blp.route("/users/me")
@login_required
@blp.response(200, UserSchema)
def me() -> User:
    """The logged-in user."""
    return users.get_user(current_user.id)


@blp.route("/users/me/password", methods=["POST"])
@login_required
@limiter.limit(_auth_limit)  # every attempt, per client address: it checks a password
@blp.arguments(PasswordChangeSchema)
@blp.response(200, TokenPairSchema)
@documents_errors(blp, 400, 413, 415)
@blp.alt_response(429, schema="Error", description="Too many attempts")
def change_password(change: dict[str, Any]) -> tokens.TokenPair:
    """Change your password (with the current one): every other session of yours ends.

    Every access and refresh token issued to you so far stops working, on every device; the
    answer carries a new pair for this session. Your API keys keep working (delete them under
    /users/me/api-keys). A wrong current password is a 422 naming current_password.
    """
    user = users.change_password(
        current_user.id, change["current_password"], change["new_password"]
    )
    return tokens.issue_token_pair(user)


@blp.route(f"/users/{USER_ID}/password", methods=["POST"])
@admin_required
@blp.arguments(PasswordResetSchema)
@blp.response(204)
@documents_errors(blp, 400, 413, 415)
@blp.alt_response(403, schema="Error", description="Admins only")
@blp.alt_response(404, schema="Error", description="No such user")
def reset_password(reset: dict[str, Any], user_id: int) -> None:
    """Set a user's password (admin): every session of that user ends; API keys stay."""
    users.set_password(user_id, reset["password"])


@blp.route("/users")
@admin_required
@blp.response(200, UserSchema(many=True))
@blp.paginate()
@blp.alt_response(403, schema="Error", description="Admins only")
def list_users(pagination_parameters: PaginationParameters) -> Sequence[User]:
    """List every user (admin)."""
    page, total = users.list_users(pagination_parameters.page, pagination_parameters.page_size)
    pagination_parameters.item_count = total
    return page


@blp.route("/users/<int:user_id>")
class UserById(MethodView):
    @admin_required
    @blp.response(200, UserSchema)
    @blp.alt_response(403, schema="Error", description="Admins only")
    @blp.alt_response(404, schema="Error", description="No such user")
    def get(self, user_id: int) -> User:
        """Show a user (admin)."""
        return users.get_user(user_id)

    @admin_required
    @blp.arguments(UserUpdateSchema)
    @blp.response(200, UserSchema)
    @blp.alt_response(403, schema="Error", description="Admins only")
    @blp.alt_response(404, schema="Error", description="No such user")
    @blp.alt_response(409, schema="Error", description="It would leave no active admin")
    def patch(self, changes: dict[str, Any], user_id: int) -> User:
        """Change a user's role or active flag (admin); a deactivated user's tokens stop working."""
        return users.update_user(
            user_id, role=changes.get("role"), is_active=changes.get("is_active")
        )

    @admin_required
    @blp.response(204)
    @blp.alt_response(403, schema="Error", description="Admins only")
    @blp.alt_response(404, schema="Error", description="No such user")
    @blp.alt_response(409, schema="Error", description="It would leave no active admin")
    def delete(self, user_id: int) -> None:
        """Delete a user and, with them, their tasks, jobs and data (admin)."""
        users.delete_user(user_id)

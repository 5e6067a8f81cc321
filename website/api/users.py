"""User accounts: the caller's own, and every account for admins."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from flask.views import MethodView
from flask_smorest.pagination import PaginationParameters

from website.api.blueprint import Blueprint
from website.auth import admin_required, current_user, login_required
from website.models import User
from website.schemas.users import UserSchema, UserUpdateSchema
from website.services import users

__all__ = ["blp"]

blp = Blueprint("users", __name__, description="User accounts (all but /users/me: admins only)")


@blp.route("/users/me")
@login_required
@blp.response(200, UserSchema)
def me() -> User:
    """The logged-in user."""
    return users.get_user(current_user.id)


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

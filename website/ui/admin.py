"""Admins only: the users, and deactivating (or reactivating) one."""

from __future__ import annotations

from flask import flash, redirect, render_template, request, url_for
from werkzeug.wrappers import Response

from website.errors import Conflict, InvalidInput
from website.services import users as user_service
from website.ui.blueprint import bp
from website.ui.session import admin_page

__all__: list[str] = []

USERS_PER_PAGE = 50


@bp.route("/users")
@admin_page
def users() -> str:
    """Every account, with its role and whether it is active."""
    text = request.args.get("page", "1")
    page = max(int(text), 1) if text.isdigit() else 1
    found, total = user_service.list_users(page, USERS_PER_PAGE)
    return render_template(
        "users.html",
        users=found,
        total=total,
        page=page,
        pages=max((total + USERS_PER_PAGE - 1) // USERS_PER_PAGE, 1),
    )


@bp.route("/users/<int:user_id>/active", methods=["POST"])
@admin_page
def set_user_active(user_id: int) -> Response:
    """Deactivate an account (its tokens stop working at once) or activate it again."""
    active = request.form.get("active") == "1"
    try:
        user = user_service.update_user(user_id, is_active=active)
    except (Conflict, InvalidInput) as error:
        flash(error.message, "bad")
    else:
        flash(f"{user.username} {'activated' if active else 'deactivated'}.", "ok")
    return redirect(url_for("ui.users"))

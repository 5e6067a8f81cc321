"""Logging in and out of the dashboard: the JWTs of /login, kept in HttpOnly SameSite cookies.

Pages read the access token from its cookie only (never a header, never an API key); every
state-changing request must also carry the token's CSRF value in its form (double submit).
An expired access token is renewed on the next page load from the refresh cookie.
"""

from __future__ import annotations

import contextlib
import functools
import secrets
from collections.abc import Callable
from typing import Any, ParamSpec, TypeVar, cast
from urllib.parse import urlsplit

import marshmallow as ma
from flask import (
    Response,
    current_app,
    g,
    make_response,
    redirect,
    render_template,
    request,
    url_for,
)
from flask_jwt_extended import (
    decode_token,
    get_jwt,
    set_access_cookies,
    set_refresh_cookies,
    unset_jwt_cookies,
    verify_jwt_in_request,
)
from flask_jwt_extended.exceptions import CSRFError, JWTExtendedException
from jwt.exceptions import ExpiredSignatureError, PyJWTError
from werkzeug.exceptions import TooManyRequests

from website.auth import current_user
from website.errors import Forbidden, Unauthorized
from website.extensions import limiter
from website.schemas.auth import LoginSchema
from website.services import tokens
from website.services.users import find_user
from website.ui.blueprint import bp, error_page

__all__ = ["admin_page", "login_page"]

P = ParamSpec("P")
R = TypeVar("R")

COOKIES = ["cookies"]
REFRESH_COOKIE = "refresh_token_cookie"  # flask-jwt-extended's default name
LOGIN_NONCE_COOKIE = "ui_login_nonce"
LOGIN_NONCE_BYTES = 32
_login_schema = LoginSchema()


def _auth_limit() -> str:
    limit: str = current_app.config["RATELIMIT_AUTH"]
    return limit


def _redirect(location: str) -> Response:
    return make_response(redirect(location))


def _to_login() -> Response:
    target = request.full_path if request.method == "GET" else url_for("ui.overview")
    response = _redirect(url_for("ui.login", next=target.rstrip("?")))
    unset_jwt_cookies(response)
    return response


def _renewed() -> Response | None:
    """On a page load with an expired access token: a new one from the refresh cookie, and the
    same page again; None when the refresh token is missing or no longer valid."""
    if request.method != "GET":
        return None
    try:
        verify_jwt_in_request(refresh=True, locations=COOKIES)
    except (JWTExtendedException, PyJWTError):
        return None
    response = _redirect(request.full_path.rstrip("?"))
    set_access_cookies(response, tokens.issue_access_token(current_user))
    return response


def login_page(view: Callable[P, R]) -> Callable[P, R]:
    """A page for a logged-in, active user; anyone else is sent to the login page."""

    @functools.wraps(view)
    def guarded(*args: P.args, **kwargs: P.kwargs) -> R:
        try:
            verify_jwt_in_request(locations=COOKIES)
        except CSRFError:
            return cast(
                R,
                error_page(
                    400,
                    "Refused",
                    "This request did not carry the page's CSRF token: reload the page and "
                    "try again.",
                ),
            )
        except ExpiredSignatureError:
            return cast(R, _renewed() or _to_login())
        except (JWTExtendedException, PyJWTError):
            return cast(R, _to_login())
        g.ui_csrf = get_jwt().get("csrf", "")
        g.ui_viewer = find_user(current_user.id)
        return view(*args, **kwargs)

    return guarded


def admin_page(view: Callable[P, R]) -> Callable[P, R]:
    """A page for admins only (by the database's word, as the API's ``admin_required``)."""

    @functools.wraps(view)
    def guarded(*args: P.args, **kwargs: P.kwargs) -> R:
        if not current_user.is_admin:
            raise Forbidden("This page needs the admin role")
        return view(*args, **kwargs)

    return login_page(guarded)


def _safe_next(target: str | None) -> str:
    """Where to go after logging in: a path of the dashboard, never another site."""
    parts = urlsplit(target or "")
    if parts.scheme or parts.netloc or not parts.path.startswith("/ui/"):
        return url_for("ui.overview")
    return target or url_for("ui.overview")


@bp.route("/login", methods=["GET", "POST"])
@limiter.limit(_auth_limit, methods=["POST"])
def login() -> Any:
    """The login form; a right username and password set the session cookies."""
    errors: dict[str, Any] = {}
    message = None
    username = request.form.get("username", "")
    if request.method == "POST":
        if not _login_nonce_matches():
            return error_page(
                400,
                "Refused",
                "This login did not come from the login page: reload it and try again.",
            )
        try:
            credentials = _login_schema.load(
                {"username": username, "password": request.form.get("password", "")}
            )
            pair = tokens.log_in(credentials["username"], credentials["password"])
        except ma.ValidationError as error:
            errors = error.normalized_messages()
        except Unauthorized as error:
            message = error.message
        else:
            response = _redirect(_safe_next(request.args.get("next")))
            set_access_cookies(response, pair.access_token)
            set_refresh_cookies(response, pair.refresh_token)
            return response
    status = 401 if message else 422 if errors else 200
    return _login_form(username, errors, message, status)


def _login_form(username: str, errors: dict[str, Any], message: str | None, status: int) -> Any:
    """The login page with a fresh nonce in its form and in a cookie (double submit): a login
    posted from another site carries no nonce, so nobody can log a visitor into their account."""
    nonce = secrets.token_urlsafe(LOGIN_NONCE_BYTES)
    page = render_template(
        "login.html", username=username, errors=errors, message=message, csrf_token=nonce
    )
    response = make_response(page, status)
    response.set_cookie(
        LOGIN_NONCE_COOKIE,
        nonce,
        httponly=True,
        samesite="Strict",
        secure=current_app.config["JWT_COOKIE_SECURE"],
        path=url_for("ui.login"),
    )
    return response


def _login_nonce_matches() -> bool:
    sent = request.form.get("csrf_token", "")
    kept = request.cookies.get(LOGIN_NONCE_COOKIE, "")
    return bool(sent) and secrets.compare_digest(sent.encode(), kept.encode())


@bp.errorhandler(TooManyRequests)
def _too_many(error: TooManyRequests) -> tuple[str, int]:
    return error_page(429, "Too many attempts", "Too many attempts: wait a minute and try again.")


@bp.route("/logout", methods=["POST"])
@login_page
def logout() -> Response:
    """Revoke the session's tokens (as POST /logout does) and forget the cookies."""
    tokens.log_out(get_jwt())
    refresh = request.cookies.get(REFRESH_COOKIE)
    if refresh:
        # An expired or forged refresh token has nothing left to revoke.
        with contextlib.suppress(JWTExtendedException, PyJWTError):
            tokens.revoke_token(decode_token(refresh))
    response = _redirect(url_for("ui.login"))
    unset_jwt_cookies(response)
    return response

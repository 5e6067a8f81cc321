"""Swagger UI in a headless Chromium: offline, Authorize with a token from /login, Try it out."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from pathlib import Path

import httpx
import pytest
from flask import Flask

from tests.ship.browser import (
    APP_HOST,
    HOST_RESOLVER_RULES,
    RECORD_POLICY_VIOLATIONS,
    Browser,
    find_browser,
    serve_app,
)
from website.models import Task, User

BROWSER = find_browser()
pytestmark = [
    pytest.mark.browser,
    pytest.mark.skipif(BROWSER is None, reason="no Chromium installed (apt-get install chromium)"),
]

UI_TIMEOUT_SECONDS = 60.0
PASSWORD = "correct horse battery"

# Swagger UI 4's markup: the operation block of GET /tasks, and the parts of the Authorize dialog.
GET_TASKS_BLOCK = """[...document.querySelectorAll('.opblock.opblock-get')].find(
    block => block.querySelector('.opblock-summary-path')?.dataset.path === '/tasks')"""
LIVE_RESPONSE = ".live-responses-table tr.response"


@pytest.fixture
def live_server(app: Flask) -> Iterator[str]:
    """The app served over real HTTP on 127.0.0.1, as the browser sees it."""
    with serve_app(app) as url:
        yield url


@pytest.fixture
def browser(tmp_path: Path) -> Iterator[Browser]:
    assert BROWSER is not None
    started = Browser(BROWSER, tmp_path / "profile", HOST_RESOLVER_RULES)
    yield started
    started.close()


def click(browser: Browser, selector_expression: str, what: str) -> None:
    """Wait for the element ``selector_expression`` evaluates to, then click it."""
    browser.wait_for(f"!!({selector_expression})", UI_TIMEOUT_SECONDS, what)
    browser.evaluate(f"({selector_expression}).click()")


@pytest.mark.slow
def test_swagger_ui_works_offline_and_tries_get_tasks_with_a_token_from_login(
    live_server: str,
    browser: Browser,
    make_user: Callable[..., User],
    make_task: Callable[..., Task],
) -> None:
    owner = make_user("ann", password=PASSWORD)
    make_task(owner=owner, name="seen through swagger")
    login = httpx.post(
        f"{live_server.replace(APP_HOST, '127.0.0.1')}/login",
        json={"username": "ann", "password": PASSWORD},
        timeout=30,
    )
    assert login.status_code == 200
    token = login.json()["access_token"]

    browser.send(
        "Page.addScriptToEvaluateOnNewDocument",
        {"source": RECORD_POLICY_VIOLATIONS},
        session=browser.session,
    )
    browser.navigate(f"{live_server}/swagger-ui")
    browser.wait_for(f"!!({GET_TASKS_BLOCK})", UI_TIMEOUT_SECONDS, "Swagger UI to render the spec")

    # Authorize: paste the access token into the bearer field of the dialog.
    click(browser, "document.querySelector('.auth-wrapper .authorize')", "the Authorize button")
    browser.wait_for("!!document.querySelector('.modal-ux input')", UI_TIMEOUT_SECONDS, "dialog")
    browser.evaluate("document.querySelector('.modal-ux input').focus()")
    browser.type_text(token)
    click(browser, "document.querySelector('.modal-ux .auth-btn-wrapper .authorize')", "Authorize")
    browser.wait_for(
        "[...document.querySelectorAll('.modal-ux button')].some(b => b.textContent === 'Logout')",
        UI_TIMEOUT_SECONDS,
        "the dialog to show the token as authorized",
    )
    click(browser, "document.querySelector('.modal-ux .btn-done')", "Close")

    # Try it out on GET /tasks, then Execute.
    click(browser, f"({GET_TASKS_BLOCK}).querySelector('.opblock-summary-control')", "GET /tasks")
    click(browser, f"({GET_TASKS_BLOCK}).querySelector('.try-out__btn')", "Try it out")
    click(browser, f"({GET_TASKS_BLOCK}).querySelector('.execute')", "Execute")
    status = browser.wait_for(
        f"({GET_TASKS_BLOCK}).querySelector('{LIVE_RESPONSE} .response-col_status')"
        "?.textContent.trim()",
        UI_TIMEOUT_SECONDS,
        "the response of GET /tasks",
    )
    shown = browser.evaluate(
        f"({GET_TASKS_BLOCK}).querySelector('{LIVE_RESPONSE} .response-col_description')"
        ".textContent"
    )

    assert status == "200"
    assert "seen through swagger" in shown
    # All of it under the page's policy (only the app's scripts), which refused nothing it needs.
    page = httpx.get(f"{live_server.replace(APP_HOST, '127.0.0.1')}/swagger-ui", timeout=30)
    assert "script-src 'self' 'sha256-" in page.headers["Content-Security-Policy"]
    assert browser.evaluate("window.policyViolations") == []
    foreign = [
        url
        for url in browser.requested_urls
        if not url.startswith((live_server, "data:", "blob:", "about:"))
    ]
    assert not foreign, f"Swagger UI reached beyond the app: {json.dumps(foreign)}"
    assets = f"{live_server}/swagger-ui/assets/"
    assert any(url.startswith(assets) for url in browser.requested_urls)


def operation_block(method: str, path: str) -> str:
    """The JavaScript expression of an operation's block in Swagger UI 4's markup."""
    return f"""[...document.querySelectorAll('.opblock.opblock-{method}')].find(
    block => block.querySelector('.opblock-summary-path')?.dataset.path === '{path}')"""


def try_it_out(browser: Browser, block: str, what: str) -> tuple[str, str]:
    """Open the operation, "Try it out", "Execute" as pre-filled: its status and response body."""
    click(browser, f"({block}).querySelector('.opblock-summary-control')", what)
    click(browser, f"({block}).querySelector('.try-out__btn')", f"Try it out of {what}")
    click(browser, f"({block}).querySelector('.execute')", f"Execute of {what}")
    status = browser.wait_for(
        f"({block}).querySelector('{LIVE_RESPONSE} .response-col_status')?.textContent.trim()",
        UI_TIMEOUT_SECONDS,
        f"the response of {what}",
    )
    shown = browser.evaluate(
        f"({block}).querySelector('{LIVE_RESPONSE} .response-col_description').textContent"
    )
    return status, shown


@pytest.mark.slow
def test_authorize_with_a_password_then_the_pre_filled_task_is_created_and_listed(
    live_server: str, browser: Browser, make_user: Callable[..., User]
) -> None:
    make_user("ann", password=PASSWORD)
    browser.navigate(f"{live_server}/swagger-ui")
    post_tasks, get_tasks = operation_block("post", "/tasks"), operation_block("get", "/tasks")
    browser.wait_for(f"!!({post_tasks})", UI_TIMEOUT_SECONDS, "Swagger UI to render the spec")

    # Authorize with a username and password: Swagger UI trades them at POST /token.
    click(browser, "document.querySelector('.auth-wrapper .authorize')", "the Authorize button")
    for field, value in (("oauth_username", "ann"), ("oauth_password", PASSWORD)):
        browser.wait_for(f"!!document.getElementById('{field}')", UI_TIMEOUT_SECONDS, field)
        browser.evaluate(f"document.getElementById('{field}').focus()")
        browser.type_text(value)
    password_form = """[...document.querySelectorAll('.modal-ux .auth-container')].find(
        container => container.textContent.includes('passwordLogin'))"""
    click(browser, f"({password_form}).querySelector('.authorize')", "Authorize (password)")
    browser.wait_for(
        f"[...({password_form}).querySelectorAll('button')].some(b => b.textContent === 'Logout')",
        UI_TIMEOUT_SECONDS,
        "the dialog to show the password login as authorized",
    )
    click(browser, "document.querySelector('.modal-ux .btn-done')", "Close")

    # POST /tasks with the example Swagger UI pre-fills, untouched.
    status, shown = try_it_out(browser, post_tasks, "POST /tasks")
    assert status == "201", shown
    created = json.loads(shown[shown.index("{") : shown.rindex("}") + 1])
    assert created["url"].endswith("/demo/events/amazingexpo2020.json")
    assert created["task_interval"] == 10
    assert created["state"] == "active"

    # GET /tasks with the same login lists it.
    status, shown = try_it_out(browser, get_tasks, "GET /tasks")
    assert status == "200"
    assert created["name"] in shown
    assert f'"id": {created["id"]}' in shown
    assert any(url.endswith("/token") for url in browser.requested_urls)

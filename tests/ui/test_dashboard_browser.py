"""The dashboard in a headless Chromium, on a served app with a real worker and beat.

Logs in as the demo user, sees the demo tasks, creates a task through the form (refused first
for a bad URL), watches its first run arrive, pauses it, opens its chart, and logs out. The
screenshots of the overview and of the task page go to a temporary folder, or to
docs/screenshots/ (the README's pictures) with UPDATE_SCREENSHOTS=1, so that a test run leaves
the committed files alone.
"""

from __future__ import annotations

import base64
import itertools
import json
import os
from collections.abc import Callable, Iterator
from pathlib import Path

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
from tests.support.http_server import LocalHTTPServer, Reply, Request
from tests.support.processes import CeleryProcesses
from website.extensions import db
from website.models import Task
from website.services.seed import DEMO_TASKS, seed_demo
from website.services.tasks import create_task
from website.services.users import create_user

BROWSER = find_browser()
pytestmark = [
    pytest.mark.browser,
    pytest.mark.slow,
    pytest.mark.skipif(BROWSER is None, reason="no Chromium installed (apt-get install chromium)"),
]

TIMEOUT_SECONDS = 60.0  # a limit on each wait, not an expectation
RUN_TIMEOUT_SECONDS = 120.0
DEMO_PASSWORD = "demo-password"
DESKTOP = (1280, 800)
PHONE = (390, 844)
FAILING_EVERY = 4  # of the feed's answers, so that the charts show a failed run too
RUNS_PICTURED = 6  # runs of the new task before its page is photographed


def growing_feed() -> Callable[[Request], Reply]:
    """A feed that grows by a talk and changes a title on each fetch, and fails now and then."""
    fetches = itertools.count()

    def answer(_request: Request) -> Reply:
        number = next(fetches)
        if number % FAILING_EVERY == FAILING_EVERY - 1:
            return Reply(503, b'{"error": "busy"}', {"Content-Type": "application/json"})
        talks = [{"id": talk, "title": f"Talk {talk}"} for talk in range(8 + number)]
        talks[number % len(talks)]["title"] += f" (moved, update {number})"
        return Reply(200, json.dumps(talks).encode(), {"Content-Type": "application/json"})

    return answer


@pytest.fixture
def live_server(app: Flask) -> Iterator[str]:
    """The app served over real HTTP on 127.0.0.1, as the browser sees it."""
    with serve_app(app) as url:
        yield url


@pytest.fixture
def browser(tmp_path: Path) -> Iterator[Browser]:
    assert BROWSER is not None
    started = Browser(BROWSER, tmp_path / "profile", HOST_RESOLVER_RULES)
    started.send(
        "Page.addScriptToEvaluateOnNewDocument",
        {"source": RECORD_POLICY_VIOLATIONS},
        session=started.session,
    )
    yield started
    started.close()


def resize(browser: Browser, size: tuple[int, int]) -> None:
    width, height = size
    browser.send(
        "Emulation.setDeviceMetricsOverride",
        {"width": width, "height": height, "deviceScaleFactor": 1, "mobile": width < 600},
        session=browser.session,
    )


def open_page(browser: Browser, url: str, path: str) -> None:
    """Go to ``url`` and wait until the page at ``path`` has loaded."""
    browser.navigate(url)
    loaded(browser, path)


def loaded(browser: Browser, path: str) -> None:
    browser.wait_for(
        f"document.readyState === 'complete' && location.pathname === {path!r}",
        TIMEOUT_SECONDS,
        f"the page {path}",
    )


def fill(browser: Browser, selector: str, text: str) -> None:
    """Focus a field, clear it, and type ``text`` as a keyboard would."""
    browser.evaluate(f"document.querySelector({selector!r}).value = ''")
    browser.evaluate(f"document.querySelector({selector!r}).focus()")
    browser.type_text(text)


def submit(browser: Browser, selector: str) -> None:
    browser.evaluate(f"document.querySelector({selector!r}).click()")


def press_tab(browser: Browser) -> str:
    """Press Tab as a keyboard would; the text of the element that has the focus then."""
    for kind in ("keyDown", "keyUp"):
        browser.send(
            "Input.dispatchKeyEvent",
            {"type": kind, "key": "Tab", "code": "Tab", "windowsVirtualKeyCode": 9},
            session=browser.session,
        )
    focused: str = browser.evaluate("document.activeElement.textContent.trim()")
    return focused


def page_text(browser: Browser) -> str:
    text: str = browser.evaluate("document.body.innerText")
    return text


def screenshot(browser: Browser, path: Path, size: tuple[int, int]) -> None:
    """A PNG of the whole page at ``size``'s width."""
    width, _height = size
    height = browser.evaluate("document.documentElement.scrollHeight")
    resize(browser, (width, int(height)))
    shot = browser.send("Page.captureScreenshot", {"format": "png"}, session=browser.session)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(base64.b64decode(shot["data"]))
    assert path.read_bytes().startswith(b"\x89PNG")
    resize(browser, size)


def test_a_user_logs_in_creates_a_task_watches_it_run_pauses_it_and_logs_out(
    app: Flask,
    live_server: str,
    browser: Browser,
    celery_processes: CeleryProcesses,
    http_server: LocalHTTPServer,
    project_root: Path,
    tmp_path: Path,
) -> None:
    shots = (
        project_root / "docs" / "screenshots" if os.environ.get("UPDATE_SCREENSHOTS") else tmp_path
    )
    http_server.route("/talks", growing_feed())
    seed_demo(password=DEMO_PASSWORD, base_url=live_server.replace(APP_HOST, "127.0.0.1"))
    bob = create_user("bob", "correct horse battery")
    bobs_task = create_task(bob.id, {"name": "bob's", "url": http_server.url("/talks")}).id
    celery_processes.worker()
    celery_processes.beat()
    resize(browser, DESKTOP)

    # Log in: the login page, then the overview.
    open_page(browser, f"{live_server}/ui/tasks", "/ui/login")
    fill(browser, "#username", "demo")
    fill(browser, "#password", DEMO_PASSWORD)
    submit(browser, "form button[type=submit]")
    loaded(browser, "/ui/tasks")  # back to the page asked for

    # The demo tasks are listed with their states.
    text = page_text(browser)
    for demo_task in DEMO_TASKS:
        assert demo_task.name in text
    assert "bob's" not in text

    # The form refuses a bad URL with the API's message beside the field.
    open_page(browser, f"{live_server}/ui/tasks/new", "/ui/tasks/new")
    fill(browser, "#name", "conference talks")
    fill(browser, "#url", "not a url")
    fill(browser, "#task_interval", "2")
    submit(browser, ".task-form button[type=submit]")
    error = browser.wait_for(
        "document.querySelector('#url-error')?.textContent", TIMEOUT_SECONDS, "the URL's error"
    )
    assert error.strip() == "Must be an http(s) URL with a host."
    assert browser.evaluate("document.querySelector('#url').getAttribute('aria-invalid')")

    # ... and creates the task once the URL is right; its page opens.
    fill(browser, "#url", http_server.url("/talks"))
    submit(browser, ".task-form button[type=submit]")
    browser.wait_for(
        "/^\\/ui\\/tasks\\/\\d+$/.test(location.pathname)", TIMEOUT_SECONDS, "the task's page"
    )
    task_path = browser.evaluate("location.pathname")
    assert "Task 'conference talks' created." in page_text(browser)

    # The worker runs it: its first run shows up in the tasks table, which refreshes in place
    # (no reload), then more runs fill its strip.
    open_page(browser, f"{live_server}/ui/tasks?q=conference", "/ui/tasks")
    browser.evaluate("window.stillThisPage = true")
    browser.wait_for(
        "document.querySelector('tr[data-task-id] .last-run')?.textContent.includes('succeeded')",
        RUN_TIMEOUT_SECONDS,
        "the first run in the tasks table",
    )
    browser.wait_for(
        "document.querySelectorAll('tr[data-task-id] .tick:not(.other)').length >= "
        f"{RUNS_PICTURED}",
        RUN_TIMEOUT_SECONDS,
        f"{RUNS_PICTURED} runs in the task's strip",
    )
    assert browser.evaluate("window.stillThisPage") is True  # refreshed in place, not reloaded
    screenshot(browser, shots / "tasks-phone.png", PHONE)
    # At a phone's width nothing is wider than the screen (no sideways scrolling).
    assert browser.evaluate("document.documentElement.scrollWidth") <= PHONE[0]
    resize(browser, DESKTOP)

    # Pause it from its page; the badge says so.
    open_page(browser, f"{live_server}{task_path}", task_path)
    submit(browser, "form[action$='/pause'] button")
    browser.wait_for(
        "document.querySelector('h1 .badge')?.textContent === 'paused'",
        TIMEOUT_SECONDS,
        "the paused badge",
    )
    assert "Task paused." in page_text(browser)

    # Its chart shows the runs, with their records, and the records themselves.
    assert browser.evaluate("document.querySelectorAll('svg.chart-svg circle.dot').length") >= 1
    assert browser.evaluate("document.querySelectorAll('svg.chart-svg rect.bar.added').length") >= 1
    assert '"title": "Talk 1' in page_text(browser)
    assert browser.evaluate("document.querySelectorAll('svg.chart-svg circle.dot.bad').length") >= 1
    screenshot(browser, shots / "task.png", DESKTOP)

    # A state-changing request without the page's CSRF token is refused.
    status = browser.evaluate(
        f"fetch('{task_path}/resume', {{method: 'POST'}}).then(response => response.status)"
    )
    assert status == 400

    # Another user's task id in the URL is not found.
    open_page(browser, f"{live_server}/ui/tasks/{bobs_task}", f"/ui/tasks/{bobs_task}")
    assert "404" in page_text(browser)
    assert "bob's" not in page_text(browser)

    # Every task of the demo user, with their strips of runs.
    open_page(browser, f"{live_server}/ui/tasks", "/ui/tasks")
    screenshot(browser, shots / "tasks.png", DESKTOP)

    # The overview, refreshed in place by its script.
    open_page(browser, f"{live_server}/ui/", "/ui/")
    browser.wait_for(
        "!!document.querySelector('#numbers').dataset.refreshedAt",
        TIMEOUT_SECONDS,
        "the overview's numbers to refresh",
    )
    screenshot(browser, shots / "overview.png", DESKTOP)

    # Keyboard: the first Tab reaches "Skip to content", the next ones the navigation's links.
    browser.evaluate("document.activeElement && document.activeElement.blur()")
    focused = [press_tab(browser) for _ in range(3)]
    assert focused == ["Skip to content", "challenge", "Overview"]

    # Log out: back to the login page, and the pages are closed again.
    submit(browser, "form.logout button")
    loaded(browser, "/ui/login")
    open_page(browser, f"{live_server}/ui/tasks", "/ui/login")

    assert browser.evaluate("window.policyViolations") == []
    foreign = [
        url
        for url in browser.requested_urls
        if not url.startswith((live_server, "data:", "about:"))
    ]
    assert not foreign, f"the dashboard reached beyond the app: {foreign}"
    db.session.expire_all()
    stored = db.session.get(Task, int(task_path.rsplit("/", 1)[1]))
    assert stored is not None
    assert not stored.enabled

"""The overview, failures, import and users pages."""

from __future__ import annotations

import html
import io
import json
from collections.abc import Callable

from tests.conftest import headers_for
from tests.support.job_rows import add_job
from tests.ui.conftest import Session
from website.extensions import db
from website.models import Role, Task, User


def test_the_overview_shows_the_numbers_of_stats(
    ui: Session, user: User, make_task: Callable[..., Task], make_user: Callable[..., User]
) -> None:
    task = make_task()
    make_task(name="paused", enabled=False)
    for status in ("succeeded", "succeeded", "succeeded", "failed"):
        add_job(task, status)
    add_job(make_task(owner=make_user("bob")), "failed")
    stats = ui.client.get("/stats", headers=headers_for(user)).json

    page = ui.get("/ui/").text
    numbers = ui.get("/ui/overview/numbers").text

    assert stats["jobs"]["success_rate"] == 0.75
    for text in (page, numbers):
        assert '<strong class="count" data-state="active">1</strong>' in text
        assert '<strong class="count" data-state="paused">1</strong>' in text
        assert '<td class="rate-hour">75%</td>' in text
        assert '<td class="rate-day">75%</td>' in text
    assert 'data-refresh-url="/ui/overview/numbers"' in page
    assert "<html" not in numbers  # a fragment for the refresh script


def test_the_failures_page_lists_dead_letters_and_retries_exhausted_tasks(
    ui: Session, make_task: Callable[..., Task], make_user: Callable[..., User]
) -> None:
    task = make_task(name="flaky", max_attempt=1)
    failed = add_job(task, "failed", error="HTTP 500")
    timed_out = add_job(task, "timed_out")
    fine = add_job(task, "succeeded")
    add_job(make_task(owner=make_user("bob"), name="bob's"), "failed", error="bob's error")
    stored = db.session.get(Task, task.id)
    assert stored is not None
    stored.attempt = 1
    db.session.commit()

    page = html.unescape(ui.get("/ui/failures").text)

    assert "HTTP 500" in page
    assert "bob's error" not in page
    assert 'Exhausted tasks <span class="muted">(1)</span>' in page
    assert f"<td>{failed.id}</td>" in page
    assert f"<td>{timed_out.id}</td>" in page
    assert f"<td>{fine.id}</td>" not in page

    retried = ui.post("/ui/failures/retry", follow_redirects=True)

    assert "1 exhausted task(s) will run again soon." in retried.text
    db.session.expire_all()
    assert db.session.get(Task, task.id).attempt == 0  # type: ignore[union-attr]


def upload(ui: Session, text: str, mode: str = "all") -> str:
    response = ui.post(
        "/ui/import",
        {"mode": mode, "file": (io.BytesIO(text.encode()), "tasks.jsonl")},
        content_type="multipart/form-data",
    )
    return html.unescape(response.text)


GOOD = {"name": "imported", "url": "http://127.0.0.1:9/feed", "task_interval": 60}
BAD = {"name": "broken", "url": "not a url"}


def test_import_reports_each_line_and_keeps_the_valid_ones_in_partial_mode(ui: Session) -> None:
    text = "\n".join([json.dumps(GOOD), json.dumps(BAD), "{oops"])

    page = upload(ui, text, mode="partial")

    assert "Report: 1 imported, 2 refused" in page
    assert "line 2" in page
    assert "url: Must be an http(s) URL with a host." in page
    assert "line 3" in page
    assert "Malformed JSON" in page
    assert [task.name for task in db.session.query(Task)] == ["imported"]


def test_import_stores_nothing_in_all_mode_when_a_line_is_bad(ui: Session) -> None:
    page = upload(ui, "\n".join([json.dumps(GOOD), json.dumps(BAD)]))

    assert "Nothing imported: 1 of 2 tasks are invalid." in page
    assert "line 2" in page
    assert db.session.query(Task).count() == 0


def test_import_takes_a_json_array_too(ui: Session) -> None:
    page = upload(ui, json.dumps([GOOD, {**GOOD, "name": "second"}]))

    assert "Report: 2 imported, 0 refused" in page
    assert "item 1" in page


def test_only_admins_see_the_users_page(
    ui: Session, ui_for: Callable[[User], Session], make_user: Callable[..., User]
) -> None:
    assert ui.get("/ui/users").status_code == 403
    assert 'href="/ui/users"' not in ui.get("/ui/").text

    admin = ui_for(make_user("root", role=Role.ADMIN))
    page = admin.get("/ui/users").text

    assert "alice" in page
    assert "root" in page
    assert 'href="/ui/users"' in admin.get("/ui/").text


def test_an_admin_deactivates_and_reactivates_a_user(
    ui_for: Callable[[User], Session], make_user: Callable[..., User], user: User
) -> None:
    admin = ui_for(make_user("root", role=Role.ADMIN))

    done = admin.post(f"/ui/users/{user.id}/active", {"active": "0"}, follow_redirects=True)
    assert "alice deactivated." in done.text
    db.session.expire_all()
    assert not db.session.get(User, user.id).is_active  # type: ignore[union-attr]

    admin.post(f"/ui/users/{user.id}/active", {"active": "1"})
    db.session.expire_all()
    assert db.session.get(User, user.id).is_active  # type: ignore[union-attr]


def test_the_last_admin_cannot_be_deactivated(
    ui_for: Callable[[User], Session], make_user: Callable[..., User]
) -> None:
    root = make_user("root", role=Role.ADMIN)
    admin = ui_for(root)

    refused = admin.post(f"/ui/users/{root.id}/active", {"active": "0"}, follow_redirects=True)

    assert "last active admin" in refused.text

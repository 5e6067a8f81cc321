"""The tasks pages: the list, one task, the form and the controls, scoped to their owner."""

from __future__ import annotations

import html
from collections.abc import Callable
from typing import Any

import pytest
from flask.testing import FlaskClient

from tests.conftest import headers_for
from tests.support.job_rows import add_job
from tests.ui.conftest import Session
from website.extensions import db
from website.models import Job, Task, User


def text_of(response: Any) -> str:
    return html.unescape(response.text)


def test_the_tasks_page_shows_each_task_with_its_state_schedule_and_last_runs(
    ui: Session, make_task: Callable[..., Task], make_user: Callable[..., User]
) -> None:
    healthy = make_task(name="healthy feed", task_interval=30)
    make_task(name="paused feed", enabled=False, task_interval=None)
    for status in ("succeeded", "failed", "succeeded", "succeeded"):
        add_job(healthy, status)
    make_task(owner=make_user("bob"), name="bob's feed")

    page = text_of(ui.get("/ui/tasks"))

    assert "healthy feed" in page
    assert "paused feed" in page
    assert "bob's feed" not in page
    assert '<span class="badge state-active">active</span>' in page
    assert '<span class="badge state-paused">paused</span>' in page
    assert "every 30 s" in page
    assert "once" in page
    assert "75%" in page  # 3 of the 4 runs succeeded
    assert "Last 4 runs: 3 succeeded, 1 failed" in page
    assert page.count('class="tick ') == 4


@pytest.mark.parametrize(
    ("query", "shown", "hidden"),
    [
        ("?q=alpha", ["alpha one"], ["beta two"]),
        ("?state=paused", ["beta two"], ["alpha one"]),
        ("?sort=-name", ["beta two", "alpha one"], []),
    ],
)
def test_the_tasks_page_filters_searches_and_sorts(
    ui: Session,
    make_task: Callable[..., Task],
    query: str,
    shown: list[str],
    hidden: list[str],
) -> None:
    make_task(name="alpha one")
    make_task(name="beta two", enabled=False)

    page = text_of(ui.get(f"/ui/tasks{query}"))

    positions = [page.index(name) for name in shown]
    assert positions == sorted(positions)
    for name in hidden:
        assert name not in page


def test_the_tasks_table_refreshes_alone_with_the_pages_filters(
    ui: Session, make_task: Callable[..., Task]
) -> None:
    make_task(name="alpha one")
    make_task(name="beta two")

    page = ui.get("/ui/tasks?q=alpha").text
    table = ui.get("/ui/tasks/table?q=alpha").text

    assert 'data-refresh-url="/ui/tasks/table?q=alpha"' in page
    assert "alpha one" in table
    assert "beta two" not in table
    assert "<html" not in table


def test_the_tasks_page_paginates(ui: Session, make_task: Callable[..., Task]) -> None:
    for number in range(27):
        make_task(name=f"task {number:02d}")

    first, second = ui.get("/ui/tasks"), ui.get("/ui/tasks?page=2")

    assert "task 24" in first.text
    assert "task 25" not in first.text
    assert "Page 1 of 2" in first.text
    assert "task 26" in second.text
    assert "task 00" not in second.text


def test_a_bad_filter_is_answered_with_the_apis_message(ui: Session, user: User) -> None:
    page = ui.get("/ui/tasks?state=sleeping")
    api = ui.client.get("/tasks?state=sleeping", headers=headers_for(user))

    assert page.status_code == 422
    assert api.json["errors"]["state"][0] in text_of(page)


def test_the_task_page_shows_settings_charts_jobs_and_records(
    ui: Session, make_task: Callable[..., Task]
) -> None:
    task = make_task(name="events", url="http://127.0.0.1:9/events")
    add_job(task, "failed", error="Connection refused", http_status=None)
    add_job(task, "succeeded", [{"id": 1, "title": "Keynote"}], http_status=200, records_added=1)

    page = text_of(ui.get(f"/ui/tasks/{task.id}"))

    assert "http://127.0.0.1:9/events" in page
    assert page.count('<circle class="dot ') == 2
    assert '<circle class="dot ok"' in page
    assert '<circle class="dot bad"' in page
    assert '<rect class="bar added"' in page
    assert "Connection refused" in page
    assert '"title": "Keynote"' in page  # the current records, pretty printed
    assert "50%" in page


def test_the_jobs_table_is_paginated(ui: Session, make_task: Callable[..., Task]) -> None:
    task = make_task()
    jobs = [add_job(task, "succeeded") for _ in range(22)]

    first = ui.get(f"/ui/tasks/{task.id}").text
    second = ui.get(f"/ui/tasks/{task.id}?jobs_page=2").text

    assert f'data-job-id="{jobs[-1].id}"' in first
    assert f'data-job-id="{jobs[0].id}"' not in first
    assert f'data-job-id="{jobs[0].id}"' in second


@pytest.mark.parametrize("path", ["/ui/tasks/{id}", "/ui/tasks/{id}/edit", "/ui/tasks/{id}/delete"])
def test_another_users_task_is_not_found(
    ui: Session, make_task: Callable[..., Task], make_user: Callable[..., User], path: str
) -> None:
    theirs = make_task(owner=make_user("bob"), name="bob's secret")

    response = ui.get(path.format(id=theirs.id))

    assert response.status_code == 404
    assert "bob's secret" not in text_of(response)
    assert "Task not found" in response.text


@pytest.mark.parametrize("action", ["run", "pause", "resume", "reset-attempt", "cancel", "delete"])
def test_no_control_reaches_another_users_task(
    ui: Session, make_task: Callable[..., Task], make_user: Callable[..., User], action: str
) -> None:
    theirs = make_task(owner=make_user("bob"))

    response = ui.post(f"/ui/tasks/{theirs.id}/{action}")

    assert response.status_code == 404
    db.session.expire_all()
    stored = db.session.get(Task, theirs.id)
    assert stored is not None
    assert stored.enabled
    assert db.session.query(Job).count() == 0


def test_pause_resume_reset_run_and_cancel_from_the_task_page(
    ui: Session, make_task: Callable[..., Task]
) -> None:
    task = make_task(max_attempt=2)
    page = f"/ui/tasks/{task.id}"

    ui.post(f"{page}/pause")
    assert ">Resume<" in ui.get(page).text
    assert "paused" in ui.get(page).text
    ui.post(f"{page}/resume")
    assert ">Pause<" in ui.get(page).text

    add_job(task, "failed")
    add_job(task, "failed")
    db.session.get(Task, task.id).attempt = 2  # type: ignore[union-attr]
    db.session.commit()
    assert "state-exhausted" in ui.get(page).text
    ui.post(f"{page}/reset-attempt")
    assert "state-exhausted" not in ui.get(page).text

    ran = ui.post(f"{page}/run", follow_redirects=True)
    assert "Run queued." in ran.text
    again = ui.post(f"{page}/run", follow_redirects=True)
    assert "flash-bad" in again.text  # one run at a time: the API's 409, said on the page
    cancelled = ui.post(f"{page}/cancel", follow_redirects=True)
    assert "Run cancelled." in cancelled.text
    statuses = [job.status for job in db.session.query(Job).order_by(Job.id)]
    assert statuses[-1] == "cancelled"


def test_delete_asks_first_then_deletes(ui: Session, make_task: Callable[..., Task]) -> None:
    task = make_task(name="doomed")

    confirmation = ui.get(f"/ui/tasks/{task.id}/delete")
    assert "Delete doomed?" in confirmation.text
    assert db.session.get(Task, task.id) is not None

    response = ui.post(f"/ui/tasks/{task.id}/delete", follow_redirects=True)

    assert "deleted" in response.text
    db.session.expire_all()
    assert db.session.get(Task, task.id) is None


FORM = {
    "name": "new feed",
    "url": "http://127.0.0.1:9/feed",
    "task_interval": "60",
    "priority": "7",
    "max_attempt": "4",
    "retry_backoff": "2.5",
    "enabled": "on",
}


def test_the_form_creates_a_task(ui: Session) -> None:
    response = ui.post("/ui/tasks/new", FORM)

    assert response.status_code == 302
    task = db.session.query(Task).one()
    assert (task.name, task.task_interval, task.priority, task.max_attempt, task.retry_backoff) == (
        "new feed",
        60,
        7,
        4,
        2.5,
    )
    assert response.headers["Location"] == f"/ui/tasks/{task.id}"


def test_an_empty_interval_makes_a_one_off_task(ui: Session) -> None:
    ui.post("/ui/tasks/new", {**FORM, "task_interval": ""})

    assert db.session.query(Task).one().task_interval is None


@pytest.mark.parametrize(
    ("field", "form_value", "api_value"),
    [
        ("url", "not a url", "not a url"),
        ("url", "ftp://example.com/feed", "ftp://example.com/feed"),
        ("task_interval", "every minute", "every minute"),
        ("task_interval", "0", 0),
        ("priority", "12", 12),
        ("max_attempt", "0", 0),
        ("retry_backoff", "-1", -1.0),
        ("name", "", ""),
        ("parameters", "{not json", "{not json"),
        ("end_time", "1999-01-01T00:00:00", "1999-01-01T00:00:00"),
    ],
)
def test_the_form_shows_the_apis_message_beside_the_field(
    ui: Session, user: User, field: str, form_value: str, api_value: object
) -> None:
    body = {
        "name": FORM["name"],
        "url": FORM["url"],
        "task_interval": 60,
        "priority": 7,
        "max_attempt": 4,
        "retry_backoff": 2.5,
        field: api_value,
    }
    api = ui.client.post("/tasks", json=body, headers=headers_for(user))

    page = ui.post("/ui/tasks/new", {**FORM, field: form_value})

    assert api.status_code == 422
    assert page.status_code == 422
    text = text_of(page)
    for message in api.json["errors"][field]:
        assert f'<p class="field-error" id="{field}-error">{message}' in text
    assert 'aria-invalid="true"' in text
    assert db.session.query(Task).count() == 0


def test_the_edit_form_changes_settings_and_refuses_bad_ones_as_patch_does(
    ui: Session, user: User, make_task: Callable[..., Task]
) -> None:
    task = make_task(name="old name", task_interval=60)
    form = ui.get(f"/ui/tasks/{task.id}/edit").text
    assert 'value="old name"' in form
    assert 'value="60"' in form

    saved = ui.post(f"/ui/tasks/{task.id}/edit", {**FORM, "name": "new name"})
    assert saved.status_code == 302
    db.session.expire_all()
    assert db.session.get(Task, task.id).name == "new name"  # type: ignore[union-attr]

    refused = ui.post(f"/ui/tasks/{task.id}/edit", {**FORM, "max_attempt": "0"})
    api = ui.client.patch(f"/tasks/{task.id}", json={"max_attempt": 0}, headers=headers_for(user))
    assert refused.status_code == 422
    assert api.json["errors"]["max_attempt"][0] in text_of(refused)


def test_a_service_rule_refusal_shows_beside_its_field(
    ui: Session, user: User, client: FlaskClient
) -> None:
    body = {**FORM, "start_time": "2030-01-02T00:00:00", "end_time": "2030-01-01T00:00:00"}
    api = client.post(
        "/tasks",
        json={
            "name": "x",
            "url": FORM["url"],
            "start_time": body["start_time"],
            "end_time": body["end_time"],
        },
        headers=headers_for(user),
    )

    page = ui.post("/ui/tasks/new", body)

    assert page.status_code == 422
    assert api.json["errors"]["end_time"][0] in text_of(page)

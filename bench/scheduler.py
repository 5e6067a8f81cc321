"""Scheduler benchmark: 100,000 tasks, 1,000 due at once; lag, dispatch rate and an idle tick.

Baseline, measured in the same run against the same Redis: a plain loop of ``send_task`` calls
publishing the same number of no-op Celery messages. Reported:

- p50/p99 lag from a job's due time to its publication, when a tick starts at the due time
  (beat adds up to one ``SCHEDULER_TICK_SECONDS`` period on top: ticks are periodic);
- the dispatch rate (claim + insert + move next runs + commit + publish, jobs/s) beside the plain
  publish rate, and their ratio;
- the duration of a tick with nothing due, with every one of the 100,000 tasks in the table.

Run: ``python bench/scheduler.py`` (SQLite), or with ``DATABASE_URL=postgresql+psycopg://...``.
Targets: p99 <= 0.5 s; dispatch >= 0.8x plain publish; an idle tick <= 5 ms.
"""

from __future__ import annotations

import argparse
import random
import statistics
import sys
import time
from pathlib import Path

if __package__ in (None, ""):  # run as a script: make the project importable
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench._engine_stack import engine_stack, insert_tasks, percentile

TOTAL_TASKS = 100_000
DUE_TASKS = 1_000
ROUNDS = 5  # rounds of "1,000 due at once"; every lag of every round counts for the p99
IDLE_TICKS = 300
NOOP_TASK = "bench.noop"  # never consumed here: only the publishing is measured
TARGET_P99_SECONDS = 0.5
TARGET_DISPATCH_RATIO = 0.8
TARGET_IDLE_TICK_MS = 5.0


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tasks", type=int, default=TOTAL_TASKS)
    parser.add_argument("--due", type=int, default=DUE_TASKS)
    parser.add_argument("--rounds", type=int, default=ROUNDS)
    options = parser.parse_args(argv)

    with engine_stack() as stack:
        from website.extensions import db

        print(f"database: {db.engine.dialect.name}; filling {options.tasks:,} tasks ...")
        task_ids = insert_tasks(options.tasks, "http://127.0.0.1:9/feed")
        if db.engine.dialect.name == "postgresql":
            with db.engine.begin() as connection:  # committed: statistics as autovacuum keeps
                connection.exec_driver_sql("ANALYZE")
        print(f"claim query plan: {claim_plan()}")

        idle_ms = [tick_milliseconds() for _ in range(IDLE_TICKS)]
        plain_rates, dispatch_rates, lags = [], [], []
        for _ in range(options.rounds):
            plain_rates.append(plain_publish_rate(options.due))
            stack.app.extensions["redis"].flushdb()
            rate, round_lags = dispatch_round(random.sample(task_ids, options.due))
            dispatch_rates.append(rate)
            lags.extend(round_lags)
            stack.app.extensions["redis"].flushdb()

        plain, dispatch = statistics.median(plain_rates), statistics.median(dispatch_rates)
        ratio = dispatch / plain
        p50, p99 = percentile(lags, 0.50), percentile(lags, 0.99)
        idle_p50, idle_p99 = percentile(idle_ms, 0.50), percentile(idle_ms, 0.99)
        print(f"tasks in the table          {options.tasks:>10,}")
        print(f"due at once                 {options.due:>10,}   ({options.rounds} rounds)")
        print(f"plain send_task loop        {plain:>10,.0f} messages/s (median)")
        print(f"scheduler dispatch          {dispatch:>10,.0f} jobs/s (median)")
        print(f"dispatch / plain            {ratio:>10.2f}x   target >= {TARGET_DISPATCH_RATIO}x")
        print(f"lag due -> published p50    {p50 * 1000:>10.1f} ms")
        print(f"lag due -> published p99    {p99 * 1000:>10.1f} ms   target <= 500 ms")
        print(f"idle tick p50 / p99         {idle_p50:>6.2f} / {idle_p99:.2f} ms   target <= 5 ms")
        verdict = (
            p99 <= TARGET_P99_SECONDS
            and ratio >= TARGET_DISPATCH_RATIO
            and idle_p50 <= TARGET_IDLE_TICK_MS
        )
        print("targets met" if verdict else "TARGETS MISSED")
    if not verdict:
        raise SystemExit(1)


def tick_milliseconds() -> float:
    from website.services.scheduler import tick

    started = time.perf_counter()
    report = tick()
    elapsed = (time.perf_counter() - started) * 1000
    assert not report.dispatched, "a task was due during the idle measurement"
    return elapsed


def plain_publish_rate(count: int) -> float:
    """Messages/s of the simplest publisher: one send_task call after another."""
    from flask import current_app

    celery = current_app.extensions["celery"]
    started = time.perf_counter()
    for number in range(count):
        celery.send_task(NOOP_TASK, args=[number])
    return count / (time.perf_counter() - started)


def dispatch_round(task_ids: list[int]) -> tuple[float, list[float]]:
    """Make ``task_ids`` due now, tick at once; the rate and each job's due -> published lag."""
    from sqlalchemy import select, update

    from website.database import utcnow
    from website.extensions import db
    from website.models import Job, JobStatus, Task
    from website.services.scheduler import tick

    due_at = utcnow()
    db.session.execute(
        update(Task).where(Task.id.in_(task_ids)).values(next_run_at=due_at, attempt=0)
    )
    db.session.commit()
    started = time.perf_counter()
    report = tick()
    elapsed = time.perf_counter() - started
    assert len(report.published) == len(task_ids), "not every due task was published"
    published = db.session.execute(
        select(Job.published_at, Job.scheduled_for).where(Job.id.in_(report.published))
    ).all()
    lags = [(at - due).total_seconds() for at, due in published if at is not None]
    # Finish the jobs so that the tasks can be due again in a later round.
    db.session.execute(
        update(Job).where(Job.status == JobStatus.QUEUED).values(status=JobStatus.SUCCEEDED)
    )
    db.session.commit()
    return len(task_ids) / elapsed, lags


def claim_plan() -> str:
    """How the database answers the tick's due query (it must use the due index)."""
    from sqlalchemy import literal_column, select, true

    from website.database import utcnow
    from website.extensions import db
    from website.models import Task

    now = literal_column(f"'{utcnow():%Y-%m-%d %H:%M:%S}'")
    query = (
        select(Task.id)
        .where(Task.enabled == true(), Task.next_run_at <= now)
        .order_by(Task.next_run_at)
        .limit(500)
    )
    compiled = query.compile(db.engine, compile_kwargs={"literal_binds": True})
    prefix = "EXPLAIN QUERY PLAN " if db.engine.dialect.name == "sqlite" else "EXPLAIN "
    with db.engine.connect() as connection:
        rows = connection.exec_driver_sql(prefix + str(compiled)).all()
    return " | ".join(str(row[-1]).strip() for row in rows)


if __name__ == "__main__":
    main()

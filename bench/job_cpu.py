"""CPU per job: a worker's CPU per stored 250-record job, split by phase (issue 16, target 1).

Two measurements of the same jobs (a local feed of 250 records at /large; each task runs once
before, so every measured job diffs its records against a previous run of 250):

1. In process: the benchmark makes tasks due, ticks, and calls ``executor.run_job`` itself, the
   product's code path minus Celery. CPU per job (``time.process_time``) of a plain pass, then a
   pass under cProfile (a CPU clock) whose cumulative times per function give the phases:
   fetch (HTTP), parse and records, claim, diff, store, transactions (checkout, BEGIN, COMMIT,
   both of a job's transactions) and the rest. The profiler slows everything down, so each phase
   is shown as its share of the profiled pass applied to the plain pass's CPU per job.
2. A real worker (prefork, 8 children, as deployed): CPU per job of all its processes for the
   same jobs, beside its CPU per no-op Celery task (the baseline: what Celery's delivery of one
   message costs, the "delivery" phase).

On PostgreSQL it also times one job's records stored by the previous method (an
``INSERT ... SELECT FROM unnest(...)`` with text arrays, kept here only to compare) beside
``JobStore.insert_records``.

Run: ``python -m bench job_cpu`` (SQLite), ``DATABASE_URL=postgresql+psycopg://... python -m
bench job_cpu`` (PostgreSQL). Target: worker CPU per job <= 6 ms; exits 1 when missed.
"""

from __future__ import annotations

import argparse
import cProfile
import pstats
import sys
import time
from dataclasses import dataclass
from pathlib import Path

if __package__ in (None, ""):  # run as a script: make the project importable
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench._engine_stack import FeedServer, engine_stack, insert_tasks
from bench._feed_server import LARGE_FEED_RECORDS
from bench.end_to_end import WORKER_APP, WorkerCpu, run_jobs, run_noops
from tests.support.processes import CeleryProcesses

TASKS = 200  # jobs per pass: each task once
PLAIN_PASSES = 3
CONCURRENCY = 8  # the worker's prefork children, as WORKER_CONCURRENCY's default
NOOPS = 2000
INSERT_REPEATS = 50
TARGET_CPU_MS = 6.0
DEADLINE_SECONDS = 10.0

# Phases: (label, [(path suffix, function name)]) summed by cumulative CPU time.
PHASES = [
    ("fetch (HTTP)", [("website/services/fetch/client.py", "fetch")]),
    (
        "parse and records",
        [
            ("website/services/fetch/payload.py", "parse_json"),
            ("website/services/fetch/records.py", "extract_records"),
        ],
    ),
    ("claim", [("website/services/job_store.py", "claim")]),
    (
        "diff",
        [
            ("website/services/job_store.py", "previous_hashes"),
            ("website/services/fetch/records.py", "diff_records"),
        ],
    ),
    (
        "store",
        [
            ("website/services/job_store.py", "lock_task"),
            ("website/services/job_store.py", "finish"),
            ("website/services/job_store.py", "insert_records"),
            ("website/services/job_store.py", "record_run"),
        ],
    ),
    # The generator's own frames only: checkout, BEGIN, COMMIT and check-in, not the block.
    ("transactions (checkout, BEGIN, COMMIT)", [("website/services/job_store.py", "transaction")]),
]
PARSE_INSIDE_FETCH = ("website/services/fetch/payload.py", "parse_json")
PREVIOUS_INSERT = (
    "INSERT INTO data (job_id, task_id, record_key, payload, content_hash) "
    "SELECT * FROM unnest(%s::integer[], %s::integer[], %s::varchar[], %s::json[], %s::varchar[])"
)


@dataclass
class Result:
    database: str
    in_process_ms: float  # CPU per job, run_job called in process
    phases: dict[str, float]  # ms per job, scaled to in_process_ms
    noop_ms: float  # worker CPU per no-op Celery task
    worker_ms: float  # worker CPU per job
    worker_rate: float  # jobs/s through the worker
    insert_ms: float  # JobStore.insert_records, 250 records
    previous_insert_ms: float | None  # the unnest method, PostgreSQL only


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tasks", type=int, default=TASKS)
    parser.add_argument("--no-worker", action="store_true", help="only the in-process split")
    options = parser.parse_args(argv)

    with engine_stack() as stack, FeedServer() as server:
        from website.extensions import db

        database = db.engine.dialect.name
        print(
            f"database: {database}; {options.tasks} jobs per pass, "
            f"{len(LARGE_FEED_RECORDS)} records each",
            flush=True,
        )
        tasks = insert_tasks(options.tasks, server.url("/large"))
        run_in_process(tasks)  # the first run of each task: stores, nothing to diff against
        run_in_process(tasks)  # warm-up
        plain = [run_in_process(tasks) for _ in range(PLAIN_PASSES)]
        in_process_ms = sorted(plain)[len(plain) // 2]
        phases = profiled_phases(tasks, in_process_ms)
        insert_ms, previous_ms = insert_costs(tasks[0])
        noop_ms = worker_ms = worker_rate = float("nan")
        if not options.no_worker:
            drop_queued_messages()  # the in-process passes' messages: run already
            with CeleryProcesses(stack.directory, **stack.environment) as processes:
                worker = processes.worker(
                    concurrency=CONCURRENCY, pool="prefork", app=WORKER_APP, LOG_LEVEL="WARNING"
                )
                run_noops(stack, NOOPS // 10)
                run_jobs(tasks)  # warm-up: every child connects, imports, fills its caches
                cpu = WorkerCpu(worker.pid)
                run_noops(stack, NOOPS)
                noop_ms = cpu.milliseconds_per(NOOPS)
                worker_rate = run_jobs(tasks)
                worker_ms = cpu.milliseconds_per(len(tasks))
    result = Result(
        database,
        in_process_ms,
        phases,
        noop_ms,
        worker_ms,
        worker_rate,
        insert_ms,
        previous_ms,
    )
    report(result)
    if not result.worker_ms <= TARGET_CPU_MS:
        raise SystemExit(1)


def report(result: Result) -> None:
    print(f"--- {result.database}: CPU per stored {len(LARGE_FEED_RECORDS)}-record job")
    print(f"{'phase':<44}{'ms/job':>8}")
    print(f"{'delivery (worker CPU per no-op Celery task)':<44}{result.noop_ms:>8.2f}")
    for label, milliseconds in result.phases.items():
        print(f"{label:<44}{milliseconds:>8.2f}")
    print(f"{'run_job in process (all but delivery)':<44}{result.in_process_ms:>8.2f}")
    print(
        f"{'worker, all processes (jobs/s ' + format(result.worker_rate, '.0f') + ')':<44}"
        f"{result.worker_ms:>8.2f}   target <= {TARGET_CPU_MS:g} ms"
    )
    print(
        f"{'delivery + run_job in process':<44}{result.noop_ms + result.in_process_ms:>8.2f}"
        "   (the worker's figure, predicted)"
    )
    print(f"store the 250 records: insert_records {result.insert_ms:.2f} ms", end="")
    if result.previous_insert_ms is not None:
        print(f", previous unnest(text arrays) {result.previous_insert_ms:.2f} ms")
    else:
        print()
    print("target met" if result.worker_ms <= TARGET_CPU_MS else "TARGET MISSED")


def make_due_and_tick(task_ids: list[int]) -> list[tuple[int, float]]:
    """Queue one job per task through a real tick; ``(job_id, deadline)`` of each."""
    from sqlalchemy import update

    from website.database import utcnow
    from website.extensions import db
    from website.models import Task
    from website.services.scheduler import tick

    db.session.execute(
        update(Task).where(Task.id.in_(task_ids)).values(next_run_at=utcnow(), attempt=0)
    )
    db.session.commit()
    report = tick()
    assert len(report.published) == len(task_ids), "not every job was published"
    return [(message.job_id, message.deadline) for message in report.dispatched]


def run_in_process(
    task_ids: list[int], profiler: cProfile.Profile | None = None
) -> float:
    """Run one job per task with ``executor.run_job`` here; CPU ms per job."""
    from website.services.executor import run_job

    jobs = make_due_and_tick(task_ids)
    used = 0.0
    for job_id, deadline in jobs:
        if profiler is not None:
            profiler.enable()
        started = time.process_time()
        status = run_job(job_id, deadline)
        used += time.process_time() - started
        if profiler is not None:
            profiler.disable()
        assert status == "succeeded", f"job {job_id}: {status}"
    return used * 1000 / len(jobs)


def profiled_phases(task_ids: list[int], plain_ms: float) -> dict[str, float]:
    """Each phase's share of a profiled pass, applied to ``plain_ms``."""
    profiler = cProfile.Profile(time.process_time)
    profiled_ms = run_in_process(task_ids, profiler)
    stats = pstats.Stats(profiler).stats  # type: ignore[attr-defined]

    def cumulative(path: str, name: str) -> float:
        return sum(
            entry[3]
            for (filename, _line, function), entry in stats.items()
            if function == name and filename.endswith(path)
        )

    scale = plain_ms / profiled_ms
    per_job = 1000 / len(task_ids)
    phases = {}
    for label, functions in PHASES:
        seconds = sum(cumulative(path, name) for path, name in functions)
        if label.startswith("fetch"):
            seconds -= cumulative(*PARSE_INSIDE_FETCH)
        phases[label] = seconds * per_job * scale
    phases["the rest (run_job's own code, logging, metrics)"] = plain_ms - sum(phases.values())
    return phases


def insert_costs(task_id: int) -> tuple[float, float | None]:
    """CPU ms to store one job's 250 records: ``insert_records``, and on PostgreSQL the previous
    method; each in a transaction rolled back."""
    from sqlalchemy import func, select

    from website.extensions import db
    from website.models import Job
    from website.services.fetch import extract_records
    from website.services.job_store import JobStore

    records = extract_records(LARGE_FEED_RECORDS, {})
    job_id = db.session.scalar(select(func.max(Job.id)).where(Job.task_id == task_id))
    db.session.rollback()
    assert job_id is not None

    def measure(store_records: object) -> float:
        assert callable(store_records)
        used = 0.0
        with db.engine.connect() as connection:
            for _ in range(INSERT_REPEATS):
                connection.begin()
                started = time.process_time()
                store_records(connection)
                used += time.process_time() - started
                connection.rollback()
        return used * 1000 / INSERT_REPEATS

    def current(connection: object) -> None:
        JobStore(connection).insert_records(job_id, task_id, records)  # type: ignore[arg-type]

    def previous(connection: object) -> None:
        rows = [(job_id, task_id, r.key, r.document, r.content_hash) for r in records]
        columns = tuple(list(column) for column in zip(*rows, strict=True))
        connection.exec_driver_sql(PREVIOUS_INSERT, columns)  # type: ignore[attr-defined]

    measure(current)  # warm-up
    current_ms = measure(current)
    if db.engine.dialect.name != "postgresql":
        return current_ms, None
    measure(previous)
    return current_ms, measure(previous)


def drop_queued_messages() -> None:
    """Empty the job queue in Redis: the jobs the in-process passes ran were published too."""
    from flask import current_app

    from celery_app.queue import queue_lists

    client = current_app.extensions["redis"]
    for name in queue_lists():
        client.delete(name)


if __name__ == "__main__":
    main()

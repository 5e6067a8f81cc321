"""CPU per job: a worker's CPU per stored 250-record job, split by phase (issue 16, target 1).

Two measurements of the same jobs (a local feed of 250 records at /large; each task runs once
before, so every measured job diffs its records against a previous run of 250):

1. In process: the benchmark makes tasks due, ticks, and calls ``executor.run_job`` itself, the
   product's code path minus Celery: CPU per job (``time.process_time``), median of 3 passes.
   Then a pass that takes a job through the same steps one service call at a time, each timed
   (claim, fetch, parse, records, diff, checkout and BEGIN, store, COMMIT): the phases.
   "The rest" is the run_job figure minus the phases (run_job's own code, logging, metrics).
2. A real worker (the default threads pool, 200 threads, or ``--worker prefork:8``): CPU per job
   of all its processes for the same jobs, beside its CPU per no-op Celery task (the baseline:
   what Celery's delivery of one message costs, the "delivery" phase).

On PostgreSQL it also times one job's records stored by the previous method (an
``INSERT ... SELECT FROM unnest(...)`` with text arrays, kept here only to compare) beside
``JobStore.insert_records``.

Run: ``python -m bench job_cpu`` (SQLite), ``DATABASE_URL=postgresql+psycopg://... python -m
bench job_cpu`` (PostgreSQL). Target: worker CPU per job <= 6 ms; exits 1 when missed.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from collections import defaultdict
from collections.abc import Iterator
from contextlib import contextmanager
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
NOOPS = 2000
INSERT_REPEATS = 50
TARGET_CPU_MS = 6.0
DEADLINE_SECONDS = 10.0

PREVIOUS_INSERT = (
    "INSERT INTO data (job_id, task_id, record_key, payload, content_hash) "
    "SELECT * FROM unnest(%s::integer[], %s::integer[], %s::varchar[], %s::json[], %s::varchar[])"
)


@dataclass
class Result:
    database: str
    worker: str  # the worker's pool:concurrency
    in_process_ms: float  # CPU per job, run_job called in process
    phases: dict[str, float]  # ms per job, scaled to in_process_ms
    noop_ms: float  # worker CPU per no-op Celery task
    worker_ms: float  # worker CPU per job
    worker_rate: float  # jobs/s through the worker
    write_ms: float  # wall ms of the result's write transaction
    insert_ms: float  # JobStore.insert_records, 250 records
    previous_insert_ms: float | None  # the unnest method, PostgreSQL only


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tasks", type=int, default=TASKS)
    parser.add_argument("--no-worker", action="store_true", help="only the in-process figures")
    parser.add_argument(
        "--worker", help="the worker's pool:concurrency (default: the configured, threads:200)"
    )
    parser.add_argument(
        "--totals-only", action="store_true", help="no phase split (e.g. to measure older code)"
    )
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
        phases, write_ms = {}, float("nan")
        if not options.totals_only:
            phases, write_ms = stepwise_phases(tasks, in_process_ms)
        insert_ms, previous_ms = insert_costs(tasks[0])
        noop_ms = worker_ms = worker_rate = float("nan")
        worker_name = "no worker"
        if not options.no_worker:
            drop_queued_messages()  # the in-process passes' messages: run already
            config = stack.app.config
            pool, _, concurrency = (
                options.worker or f"{config['WORKER_POOL']}:{config['WORKER_CONCURRENCY']}"
            ).partition(":")
            worker_name = f"{pool}:{concurrency}"
            with CeleryProcesses(stack.directory, **stack.environment) as processes:
                # INFO: the worker logs "ready" at that level, which the stack waits for.
                worker = processes.worker(
                    concurrency=int(concurrency), pool=pool, app=WORKER_APP, LOG_LEVEL="INFO"
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
        worker_name,
        in_process_ms,
        phases,
        noop_ms,
        worker_ms,
        worker_rate,
        write_ms,
        insert_ms,
        previous_ms,
    )
    report(result)
    if not result.worker_ms <= TARGET_CPU_MS:
        raise SystemExit(1)


def report(result: Result) -> None:
    print(f"--- {result.database}: CPU per stored {len(LARGE_FEED_RECORDS)}-record job")
    print(f"{'phase':<50}{'ms/job':>8}")
    delivery = f"delivery ({result.worker} worker CPU per no-op task)"
    print(f"{delivery:<50}{result.noop_ms:>8.2f}")
    for label, milliseconds in result.phases.items():
        print(f"{label:<50}{milliseconds:>8.2f}")
    print(f"{'run_job in process (all but delivery)':<50}{result.in_process_ms:>8.2f}")
    print(
        f"{result.worker + ' worker (jobs/s ' + format(result.worker_rate, '.0f') + ')':<50}"
        f"{result.worker_ms:>8.2f}   target <= {TARGET_CPU_MS:g} ms"
    )
    print(
        f"{'delivery + run_job in process':<50}{result.noop_ms + result.in_process_ms:>8.2f}"
        "   (the worker's figure, predicted)"
    )
    print(
        f"the result's write transaction: {result.write_ms:.2f} ms wall (SQLite: write lock held)"
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


def run_in_process(task_ids: list[int]) -> float:
    """Run one job per task with ``executor.run_job`` here; CPU ms per job."""
    from website.services.executor import run_job

    jobs = make_due_and_tick(task_ids)
    used = 0.0
    for job_id, deadline in jobs:
        started = time.process_time()
        status = run_job(job_id, deadline)
        used += time.process_time() - started
        assert status == "succeeded", f"job {job_id}: {status}"
    return used * 1000 / len(jobs)


class PhaseClock:
    """CPU time per named phase, summed over jobs."""

    def __init__(self) -> None:
        self.seconds: dict[str, float] = defaultdict(float)
        self.write_seconds = 0.0  # wall time from the write transaction's checkout to its end

    @contextmanager
    def phase(self, name: str) -> Iterator[None]:
        started = time.process_time()
        try:
            yield
        finally:
            self.seconds[name] += time.process_time() - started


def stepwise_phases(task_ids: list[int], run_job_ms: float) -> tuple[dict[str, float], float]:
    """ms per job of each step of a successful run, one service call at a time (the steps of
    ``executor.run_job`` for a job that stores its records); the rest is ``run_job_ms`` minus
    them. Also the wall ms per job of the write transaction (on SQLite, the write lock held)."""
    from website.database import utcnow
    from website.models import JobStatus
    from website.services import job_store
    from website.services.executor import claim_job
    from website.services.fetch import FetchRequest, diff_records, extract_records, fetch
    from website.services.fetch.payload import parse_json
    from website.services.job_store import JobOutcome
    from website.services.schedule import succeeded_run

    body = json.dumps(LARGE_FEED_RECORDS).encode()
    clock = PhaseClock()
    for job_id, deadline in make_due_and_tick(task_ids):
        with clock.phase("claim (its own transaction)"):
            claimed = claim_job(job_id, deadline)
        assert claimed is not None
        request = FetchRequest(
            url=claimed.url,
            parameters=claimed.parameters,
            timeout=claimed.deadline,
            etag=claimed.etag,
            last_modified=claimed.last_modified,
        )
        with clock.phase("fetch (HTTP)"):
            result = fetch(request)
        with clock.phase("parse"):  # already done inside fetch: taken off its figure below
            parse_json(body)
        with clock.phase("records (canonical JSON, hash, key)"):
            records = extract_records(result.payload, claimed.parameters)
        assert claimed.last_data_job_id is not None
        with clock.phase("diff (previous hashes, compare)"):
            previous = job_store.previous_hashes(claimed.last_data_job_id)
            changes = diff_records(previous, records)
        transaction = job_store.transaction()
        write_started = time.perf_counter()
        with clock.phase("checkout and BEGIN"):
            store = transaction.__enter__()
        with clock.phase("store (lock, finish, insert, record run)"):
            task = store.lock_task(claimed.task_id)
        assert task is not None
        assert task.last_data_job_id == claimed.last_data_job_id
        with clock.phase("store (lock, finish, insert, record run)"):
            now = utcnow()
            outcome = JobOutcome(
                JobStatus.SUCCEEDED,
                now,
                0.001,
                http_status=result.status_code,
                records_count=len(records),
                records_added=changes.added,
                records_changed=changes.changed,
                records_removed=changes.removed,
            )
            assert store.finish(claimed.job_id, claimed.task_id, claimed.started_at, outcome)
            store.insert_records(claimed.job_id, claimed.task_id, records)
            run = succeeded_run(
                task,
                job_id=claimed.job_id,
                started_at=claimed.started_at,
                duration=0.001,
                not_modified=False,
                etag=result.etag,
                last_modified=result.last_modified,
                now=now,
            )
            store.record_run(claimed.task_id, run)
        with clock.phase("COMMIT and check-in"):
            transaction.__exit__(None, None, None)
        clock.write_seconds += time.perf_counter() - write_started
    clock.seconds["fetch (HTTP)"] -= clock.seconds["parse"]
    phases = {name: seconds * 1000 / len(task_ids) for name, seconds in clock.seconds.items()}
    phases["the rest (run_job's own code, logging, metrics)"] = run_job_ms - sum(phases.values())
    return phases, clock.write_seconds * 1000 / len(task_ids)


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

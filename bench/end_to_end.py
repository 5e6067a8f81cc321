"""End to end: tick -> fetch 50 records from a local server -> stored, per worker process.

One ``celery worker`` process (pool and concurrency as given) runs, in the same run:

1. the baseline: no-op Celery tasks, published as fast as possible (executions/s);
2. engine jobs: N tasks made due at once, one tick dispatches them, the worker fetches 50 records
   from a local server and stores them (executions/s, from the tick to the last stored job);
3. the same against a server answering after 50 ms, beside the concurrency ceiling
   (concurrency / 0.05 s).

Run: ``python bench/end_to_end.py`` (SQLite; ``DATABASE_URL=postgresql+psycopg://...`` for
PostgreSQL), ``--pool threads --pool prefork`` to compare pools. Targets: engine >= 0.5x no-op;
against 50 ms latency >= 0.9x the ceiling.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from dataclasses import dataclass
from pathlib import Path

if __package__ in (None, ""):  # run as a script: make the project importable
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench._engine_stack import FeedServer, Stack, engine_stack, insert_tasks
from tests.support.processes import CeleryProcesses

JOBS = 1500  # engine jobs per measurement (no-ops: NOOP_FACTOR times as many)
NOOP_FACTOR = 2  # no-ops are quicker; more of them keep the measurement long enough
WARMUP_JOBS = 100
CONCURRENCY = 8
POLL_SECONDS = 0.05
RUN_TIMEOUT_SECONDS = 600
TARGET_ENGINE_RATIO = 0.5
TARGET_CEILING_RATIO = 0.9
WORKER_APP = "bench._worker_app"


@dataclass
class PoolResult:
    pool: str
    concurrency: int
    noop_rate: float
    engine_rate: float
    latency_rate: float
    noop_cpu_ms: float  # worker CPU (user + system, all its processes) per execution
    engine_cpu_ms: float

    @property
    def engine_ratio(self) -> float:
        return self.engine_rate / self.noop_rate

    @property
    def met(self) -> bool:
        return (
            self.engine_ratio >= TARGET_ENGINE_RATIO and self.ceiling_ratio >= TARGET_CEILING_RATIO
        )

    @property
    def ceiling(self) -> float:
        return self.concurrency / FeedServer.SLOW_SECONDS

    @property
    def ceiling_ratio(self) -> float:
        return self.latency_rate / self.ceiling


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--pool", action="append", choices=["threads", "prefork"])
    parser.add_argument("--concurrency", type=int, default=CONCURRENCY)
    parser.add_argument("--jobs", type=int, default=JOBS)
    options = parser.parse_args(argv)
    pools = options.pool or ["threads", "prefork"]

    results = []
    with engine_stack() as stack, FeedServer() as server:
        from website.extensions import db

        print(f"database: {db.engine.dialect.name}; {options.jobs} jobs per measurement")
        fast = insert_tasks(options.jobs, server.url("/feed"))
        slow = insert_tasks(options.jobs, server.url("/slow"))
        for pool in pools:
            with CeleryProcesses(stack.directory, **stack.environment) as processes:
                # The pool goes in the environment too: Celery takes a configured WORKER_POOL
                # over "--pool=prefork" (its default), which would otherwise run threads.
                worker = processes.worker(
                    concurrency=options.concurrency,
                    pool=pool,
                    app=WORKER_APP,
                    LOG_LEVEL="INFO",
                    WORKER_POOL=pool,
                )
                run_noops(stack, WARMUP_JOBS)
                run_jobs(fast[:WARMUP_JOBS])
                cpu = WorkerCpu(worker.pid)
                noop_count = options.jobs * NOOP_FACTOR
                noop_rate = run_noops(stack, noop_count)
                noop_cpu = cpu.milliseconds_per(noop_count)
                engine_rate = run_jobs(fast)
                engine_cpu = cpu.milliseconds_per(len(fast))
                latency_rate = run_jobs(slow)
            result = PoolResult(
                pool,
                options.concurrency,
                noop_rate,
                engine_rate,
                latency_rate,
                noop_cpu,
                engine_cpu,
            )
            results.append(result)
            report(result)
    if len(results) > 1:
        best = max(results, key=lambda result: result.engine_rate)
        print(f"fastest pool for engine jobs: {best.pool}")
    if not all(result.met for result in results):
        raise SystemExit(1)


def report(result: PoolResult) -> None:
    print(f"--- pool={result.pool} concurrency={result.concurrency}")
    print(f"no-op tasks                 {result.noop_rate:>8.0f} executions/s")
    print(f"engine jobs (50 records)    {result.engine_rate:>8.0f} executions/s")
    print(
        f"worker CPU per execution    {result.noop_cpu_ms:>8.2f} ms no-op, "
        f"{result.engine_cpu_ms:.2f} ms engine job"
    )
    print(
        f"engine / no-op              {result.engine_ratio:>8.2f}x   "
        f"target >= {TARGET_ENGINE_RATIO}x"
    )
    print(
        f"50 ms server                {result.latency_rate:>8.0f} executions/s   "
        f"ceiling {result.ceiling:.0f}/s"
    )
    print(
        f"50 ms server / ceiling      {result.ceiling_ratio:>8.2f}x   "
        f"target >= {TARGET_CEILING_RATIO}x"
    )
    print("targets met" if result.met else "TARGETS MISSED")


class WorkerCpu:
    """CPU time the worker (the process and its pool children) used since the last reading."""

    def __init__(self, pid: int) -> None:
        self.pid = pid
        self.last = self._total()

    def milliseconds_per(self, count: int) -> float:
        now = self._total()
        used, self.last = now - self.last, now
        return used * 1000 / count

    def _total(self) -> float:
        ticks = os.sysconf("SC_CLK_TCK")
        total = 0
        for pid in [self.pid, *self._children(self.pid)]:
            try:
                fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
            except OSError:
                continue
            total += int(fields[11]) + int(fields[12])  # utime, stime
        return total / ticks

    def _children(self, pid: int) -> list[int]:
        children = []
        for task in Path(f"/proc/{pid}/task").glob("*"):
            try:
                children += [int(c) for c in (task / "children").read_text().split()]
            except OSError:
                continue
        return children + [grandchild for c in children for grandchild in self._children(c)]


def run_noops(stack: Stack, count: int) -> float:
    """Publish ``count`` no-op tasks; executions/s until the worker acknowledged the last."""
    from celery_app.queue import queue_lists

    celery = stack.app.extensions["celery"]
    client = stack.app.extensions["redis"]
    started = time.perf_counter()
    with celery.producer_or_acquire() as producer, producer.batch():
        for number in range(count):
            celery.send_task("bench.noop", args=[number], producer=producer)

    lists = queue_lists()

    def pending() -> int:
        queued = sum(int(client.llen(name)) for name in lists)
        return queued + int(client.hlen("unacked"))

    _wait(lambda: pending() == 0)
    return count / (time.perf_counter() - started)


def run_jobs(task_ids: list[int]) -> float:
    """Make the tasks due, tick once; executions/s until the last job is stored."""
    from sqlalchemy import func, select, update

    from website.database import read_only_transactions, utcnow
    from website.extensions import db
    from website.models import FINAL_JOB_STATUSES, Job, Task
    from website.services.scheduler import tick

    final = [status.value for status in FINAL_JOB_STATUSES]
    first_new_id = (db.session.scalar(select(func.max(Job.id))) or 0) + 1
    db.session.execute(
        update(Task).where(Task.id.in_(task_ids)).values(next_run_at=utcnow(), attempt=0)
    )
    db.session.commit()
    started_at = utcnow()
    started = time.perf_counter()
    report = tick()
    assert len(report.published) == len(task_ids), "not every job was published"

    def finished() -> int:
        with read_only_transactions():  # a snapshot: the worker's writes never wait for it
            count = db.session.scalar(
                select(func.count()).where(Job.id >= first_new_id, Job.status.in_(final))
            )
            db.session.rollback()
        return int(count or 0)

    _wait(lambda: finished() >= len(task_ids))
    elapsed = time.perf_counter() - started
    last = db.session.scalar(select(func.max(Job.finished_at)).where(Job.id >= first_new_id))
    failed = db.session.scalar(
        select(func.count()).where(Job.id >= first_new_id, Job.status != "succeeded")
    )
    db.session.rollback()
    assert not failed, f"{failed} jobs did not succeed"
    if last is not None:  # the database's own clock, not the polling interval
        elapsed = min(elapsed, (last - started_at).total_seconds())
    return len(task_ids) / elapsed


def _wait(condition: object) -> None:
    assert callable(condition)
    deadline = time.monotonic() + RUN_TIMEOUT_SECONDS
    while not condition():
        if time.monotonic() > deadline:
            raise RuntimeError("the worker did not finish in time")
        time.sleep(POLL_SECONDS)


if __name__ == "__main__":
    main()

"""Slow upstreams: 1,000 tasks due at once against a server answering after 1 s, per worker pool.

One ``celery worker`` process per configuration (``pool:concurrency``; the default configuration
first, as ``make run`` and compose start it), in the same run and against the same server:

1. the floor: one job alone, from the tick to its stored result (about the server's 1 s);
2. N tasks (1,000) made due at once, ticked until every job is published (as beat would, once a
   second): seconds until the last job is stored, beside the floor;
3. the worker's resident memory (the process and its pool children), idle after the floor and at
   its peak during 2; the growth divided by the most fetches seen in flight at once (messages
   reserved and not yet acknowledged: one per running job, with a prefetch multiplier of 1) is
   the memory per in-flight fetch.

Run: ``python bench/slow_upstreams.py`` (SQLite; ``DATABASE_URL=postgresql+psycopg://...`` for
PostgreSQL), ``--config threads:500 --config prefork:8`` to choose. Target: every job stored
within 15 s with the default configuration.
"""

from __future__ import annotations

import argparse
import sys
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

if __package__ in (None, ""):  # run as a script: make the project importable
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench._engine_stack import FeedServer, Stack, engine_stack, insert_tasks
from tests.support.processes import CeleryProcesses

UPSTREAM_SECONDS = 1.0
JOBS = 1000
TARGET_SECONDS = 15.0
SAMPLE_SECONDS = 0.05
TICK_SECONDS = 1.0  # beat's period: a tick publishes at most SCHEDULER_BATCH jobs
RUN_TIMEOUT_SECONDS = 900
MIB = 1024 * 1024


@dataclass
class Peak:
    """The worker's resident memory and in-flight fetches, sampled while a run goes on."""

    rss: int = 0
    in_flight: int = 0
    samples: list[tuple[float, int, int]] = field(default_factory=list)


@dataclass
class Result:
    name: str
    floor: float
    seconds: float
    idle_rss: int
    peak: Peak
    failed: int

    @property
    def per_fetch(self) -> float:
        return (self.peak.rss - self.idle_rss) / max(1, self.peak.in_flight)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--config", action="append", help="pool:concurrency (repeatable)")
    parser.add_argument("--jobs", type=int, default=JOBS)
    options = parser.parse_args(argv)

    results = []
    with engine_stack() as stack, FeedServer(slow_seconds=UPSTREAM_SECONDS) as server:
        from website.extensions import db

        configs = options.config or [
            f"{stack.app.config['WORKER_POOL']}:{stack.app.config['WORKER_CONCURRENCY']}",
            "threads:500",
        ]
        print(
            f"database: {db.engine.dialect.name}; {options.jobs} jobs against a server answering "
            f"after {UPSTREAM_SECONDS:g} s; first configuration: the default"
        )
        tasks = insert_tasks(options.jobs + 1, server.url("/slow"))
        for config in configs:
            pool, _, concurrency = config.partition(":")
            with CeleryProcesses(stack.directory, **stack.environment) as processes:
                worker = processes.worker(concurrency=int(concurrency), pool=pool, LOG_LEVEL="INFO")
                floor, _ = run_jobs(stack, tasks[:1])
                idle = worker_rss(worker.pid)
                peak = Peak()
                stop = threading.Event()
                sampler = threading.Thread(
                    target=sample, args=(stack, worker.pid, peak, stop), daemon=True
                )
                sampler.start()
                seconds, failed = run_jobs(stack, tasks[1:])
                stop.set()
                sampler.join()
            result = Result(config, floor, seconds, idle, peak, failed)
            results.append(result)
            report(result, options.jobs)


def report(result: Result, jobs: int) -> None:
    print(f"--- {result.name}")
    print(f"one job alone (the floor)      {result.floor:>8.2f} s")
    print(
        f"{jobs} jobs due at once          {result.seconds:>8.2f} s   "
        f"{result.seconds / result.floor:.1f}x the floor; target <= {TARGET_SECONDS:g} s"
        + (f"; {result.failed} did not succeed" if result.failed else "")
    )
    print(f"fetches in flight, at most     {result.peak.in_flight:>8d}")
    print(
        f"worker RSS idle / peak         {result.idle_rss / MIB:>8.0f} / "
        f"{result.peak.rss / MIB:.0f} MiB"
    )
    print(f"memory per in-flight fetch     {result.per_fetch / 1024:>8.0f} KiB")
    met = result.seconds <= TARGET_SECONDS and not result.failed
    print("target met" if met else "TARGET MISSED")


def run_jobs(stack: Stack, task_ids: list[int]) -> tuple[float, int]:
    """Make the tasks due and tick until all are published; seconds until the last is stored."""
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
    published = 0
    while True:
        published += len(tick().published)
        if published >= len(task_ids):
            break
        time.sleep(TICK_SECONDS)

    def finished() -> int:
        with read_only_transactions():  # a snapshot: the worker's writes never wait for it
            count = db.session.scalar(
                select(func.count()).where(Job.id >= first_new_id, Job.status.in_(final))
            )
            db.session.rollback()
        return int(count or 0)

    deadline = time.monotonic() + RUN_TIMEOUT_SECONDS
    while finished() < len(task_ids):
        if time.monotonic() > deadline:
            raise RuntimeError("the worker did not finish in time")
        time.sleep(SAMPLE_SECONDS * 2)
    elapsed = time.perf_counter() - started
    last = db.session.scalar(select(func.max(Job.finished_at)).where(Job.id >= first_new_id))
    failures = db.session.execute(
        select(Job.status, Job.error, func.count())
        .where(Job.id >= first_new_id, Job.status != "succeeded")
        .group_by(Job.status, Job.error)
    ).all()
    db.session.rollback()
    for status, error, count in failures:
        print(f"  {count} jobs {status}: {error}")
    failed = sum(count for _, _, count in failures)
    if last is not None:  # the database's own clock, not the polling interval
        elapsed = min(elapsed, (last - started_at).total_seconds())
    return elapsed, int(failed or 0)


def sample(stack: Stack, pid: int, peak: Peak, stop: threading.Event) -> None:
    """Until ``stop``: the worker's RSS and its unacknowledged messages, at their highest."""
    import redis

    client = redis.Redis.from_url(stack.redis_url)
    started = time.monotonic()
    while not stop.wait(SAMPLE_SECONDS):
        rss = worker_rss(pid)
        in_flight = int(client.hlen("unacked"))
        peak.rss = max(peak.rss, rss)
        peak.in_flight = max(peak.in_flight, in_flight)
        peak.samples.append((time.monotonic() - started, rss, in_flight))
    client.close()


def worker_rss(pid: int) -> int:
    """Resident memory of the worker process and all its descendants, in bytes."""
    total = 0
    for member in [pid, *descendants(pid)]:
        try:
            for line in Path(f"/proc/{member}/status").read_text().splitlines():
                if line.startswith("VmRSS:"):
                    total += int(line.split()[1]) * 1024
        except OSError:
            continue
    return total


def descendants(pid: int) -> list[int]:
    children = []
    for task in Path(f"/proc/{pid}/task").glob("*"):
        try:
            children += [int(child) for child in (task / "children").read_text().split()]
        except OSError:
            continue
    return children + [grandchild for child in children for grandchild in descendants(child)]


if __name__ == "__main__":
    main()

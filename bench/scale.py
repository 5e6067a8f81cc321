"""Scale benchmark (PostgreSQL): 1,000,000 tasks; an idle tick, 10,000 due at once, two beats.

Each figure is measured twice in the same run, on the same database and Redis: first with
``--baseline-tasks`` (10,000) tasks stored, then after filling the table up to ``--tasks``
(1,000,000). Reported:

- the idle tick (nothing due), median and p99 of ``--idle-ticks`` ticks;
- ``--due`` (10,000) tasks due at once: the time from the tick's start until every job is
  published to Redis (and the messages counted there);
- two ticking processes against one (two beats each starting a tick at the same moment; each
  process ticks until a tick finds nothing left to claim): jobs dispatched per second, their
  ratio, and the duplicates: (task, slot) pairs with more than one job, and job ids with more than
  one message in Redis.

Tasks are loaded with ``INSERT ... SELECT FROM generate_series`` into a fresh database created on
the server of ``DATABASE_URL`` (PostgreSQL; default ``postgresql+psycopg://postgres@127.0.0.1:5432/
postgres``) and dropped afterwards. Redis is a private redis-server on a free port.

Run: ``python bench/scale.py``. Targets: an idle tick <= 5 ms; 10,000 due published <= 5 s; two
beats >= 1.6x one, with zero duplicates.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

if __package__ in (None, ""):  # run as a script: make the project importable
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench._engine_stack import PROJECT_ROOT, Stack, engine_stack, percentile
from tests.support.databases import is_postgres

TOTAL_TASKS = 1_000_000
BASELINE_TASKS = 10_000
DUE_TASKS = 10_000
IDLE_TICKS = 300
BEAT_ROUNDS = 2  # each round: one beat, then two beats, on a fresh set of due tasks
DEFAULT_DATABASE_URL = "postgresql+psycopg://postgres@127.0.0.1:5432/postgres"
FEED_URL = "http://127.0.0.1:9/feed"  # never fetched: no worker runs here
TARGET_IDLE_TICK_MS = 5.0
TARGET_BURST_SECONDS = 5.0
TARGET_BEATS_RATIO = 1.6


@dataclass
class BeatsRound:
    rate: float  # jobs/s
    ticker_cpu_ms: float  # CPU of the ticking processes per job
    server_cpu_ms: float  # CPU of PostgreSQL's and Redis's processes per job
    machine_busy: float  # fraction of all cores busy during the round (every process)
    duplicate_slots: int
    duplicate_messages: int


@dataclass
class Figures:
    tasks: int
    idle_p50_ms: float
    idle_p99_ms: float
    burst_seconds: float
    burst_cpu_seconds: float  # the ticking process's own CPU time (not the database's)
    burst_published: int
    one_beat_rate: float
    two_beats_rate: float
    one_beat: BeatsRound  # the median round's CPU figures
    two_beats: BeatsRound
    duplicate_slots: int
    duplicate_messages: int
    claim_plan: str

    @property
    def beats_ratio(self) -> float:
        return self.two_beats_rate / self.one_beat_rate


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tasks", type=int, default=TOTAL_TASKS)
    parser.add_argument("--baseline-tasks", type=int, default=BASELINE_TASKS)
    parser.add_argument("--due", type=int, default=DUE_TASKS)
    parser.add_argument("--idle-ticks", type=int, default=IDLE_TICKS)
    parser.add_argument("--beat-rounds", type=int, default=BEAT_ROUNDS)
    options = parser.parse_args(argv)
    database_url = os.environ.get("DATABASE_URL", "")
    os.environ["DATABASE_URL"] = (
        database_url if database_url and is_postgres(database_url) else DEFAULT_DATABASE_URL
    )

    with engine_stack() as stack:
        owner_id = create_owner()
        results = []
        for count in (options.baseline_tasks, options.tasks):
            started = time.perf_counter()
            fill_tasks(owner_id, count)
            print(f"{count:,} tasks stored ({time.perf_counter() - started:.1f} s to fill)")
            results.append(measure(stack, options))
    baseline, scaled = results
    report(baseline, scaled, options.due)
    if not met(scaled):
        raise SystemExit(1)


def create_owner() -> int:
    from website.extensions import db
    from website.models import User

    owner = User(username=f"scale{os.getpid()}", password_hash="-")
    db.session.add(owner)
    db.session.commit()
    return owner.id


def fill_tasks(owner_id: int, count: int) -> None:
    """Add tasks up to ``count`` in one statement; none is due (next run within the next day).

    Next runs are spread over a day, as tasks created at different times are; each task also has
    one finished job, so that the jobs table and its indexes are not empty.
    """
    from sqlalchemy import text

    from website.extensions import db

    stored = db.session.execute(text("SELECT count(*) FROM tasks")).scalar_one()
    last_id = db.session.execute(text("SELECT coalesce(max(id), 0) FROM tasks")).scalar_one()
    db.session.execute(
        text(
            """
            INSERT INTO tasks (owner_id, name, url, parameters, start_time, task_interval,
                               retry_backoff, max_execution_time, max_attempt, attempt, enabled,
                               priority, next_run_at, created_at, updated_at)
            SELECT :owner, 'scale ' || n, :url, '{}', now() - interval '1 day', 86400,
                   1, 10, 3, 0, true, n % 10,
                   now() + interval '1 hour' + (n % 82800) * interval '1 second', now(), now()
            FROM generate_series(CAST(:first AS integer), CAST(:last AS integer)) AS n
            """
        ),
        {"owner": owner_id, "url": FEED_URL, "first": stored + 1, "last": count},
    )
    db.session.execute(
        text(
            """
            INSERT INTO jobs (task_id, scheduled_for, attempt, trigger, status, queued_at,
                              published_at, started_at, finished_at, duration, not_modified)
            SELECT id, start_time, 0, 'schedule', 'succeeded', start_time, start_time,
                   start_time, start_time + interval '1 second', 1, false
            FROM tasks WHERE id > :last_id
            """
        ),
        {"last_id": last_id},
    )
    db.session.commit()
    with db.engine.connect().execution_options(isolation_level="AUTOCOMMIT") as connection:
        connection.exec_driver_sql("VACUUM ANALYZE tasks")
        connection.exec_driver_sql("VACUUM ANALYZE jobs")


def measure(stack: Stack, options: argparse.Namespace) -> Figures:
    from bench.scheduler import claim_plan

    plan = claim_plan()
    idle = idle_ticks(options.idle_ticks)
    burst_seconds, burst_cpu_seconds, burst_published = burst(stack, options.due)
    one: list[BeatsRound] = []
    two: list[BeatsRound] = []
    for _ in range(options.beat_rounds):
        for beats, rounds in ((1, one), (2, two)):
            rounds.append(beats_round(stack, options.due, beats))
    return Figures(
        tasks=task_count(),
        idle_p50_ms=percentile(idle, 0.50),
        idle_p99_ms=percentile(idle, 0.99),
        burst_seconds=burst_seconds,
        burst_cpu_seconds=burst_cpu_seconds,
        burst_published=burst_published,
        one_beat_rate=statistics.median(round_.rate for round_ in one),
        two_beats_rate=statistics.median(round_.rate for round_ in two),
        one_beat=median_round(one),
        two_beats=median_round(two),
        duplicate_slots=sum(round_.duplicate_slots for round_ in one + two),
        duplicate_messages=sum(round_.duplicate_messages for round_ in one + two),
        claim_plan=plan,
    )


def median_round(rounds: list[BeatsRound]) -> BeatsRound:
    return sorted(rounds, key=lambda round_: round_.rate)[(len(rounds) - 1) // 2]


def machine_cpu() -> tuple[int, int]:
    """Busy and total clock ticks of all cores since boot (``/proc/stat``)."""
    fields = [int(value) for value in Path("/proc/stat").read_text().split("\n")[0].split()[1:]]
    idle = fields[3] + fields[4]  # idle, iowait
    return sum(fields) - idle, sum(fields)


def server_cpu_seconds(names: tuple[str, ...] = ("postgres", "redis-server")) -> float:
    """CPU seconds used so far by every process of this machine whose name starts with one of
    ``names`` (default: every PostgreSQL and Redis process)."""
    total = 0
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            text = stat.read_text()
        except OSError:  # the process ended meanwhile
            continue
        name, rest = text[text.index("(") + 1 : text.rindex(")")], text[text.rindex(")") + 2 :]
        if name.startswith(names):
            fields = rest.split()
            total += int(fields[11]) + int(fields[12])  # utime, stime
    return total / os.sysconf("SC_CLK_TCK")


def task_count() -> int:
    from sqlalchemy import text

    from website.extensions import db

    count: int = db.session.execute(text("SELECT count(*) FROM tasks")).scalar_one()
    db.session.rollback()
    return count


def idle_ticks(count: int) -> list[float]:
    from website.services.scheduler import tick

    milliseconds = []
    for _ in range(count):
        started = time.perf_counter()
        report = tick()
        milliseconds.append((time.perf_counter() - started) * 1000)
        assert not report.dispatched, "a task was due during the idle measurement"
    return milliseconds


def make_due(count: int) -> None:
    """Make ``count`` tasks spread over the table due now (tasks not due since the last round)."""
    from sqlalchemy import text

    from website.extensions import db

    db.session.execute(
        text(
            """
            UPDATE tasks SET next_run_at = now(), attempt = 0
            WHERE id IN (SELECT id FROM tasks WHERE next_run_at > now() + interval '30 minutes'
                         ORDER BY random() LIMIT :count)
            """
        ),
        {"count": count},
    )
    db.session.commit()


def finish_queued_jobs(stack: Stack) -> None:
    """Mark this round's jobs finished and empty Redis, so that the next round starts clean."""
    from sqlalchemy import text

    from website.extensions import db

    db.session.execute(
        text("UPDATE jobs SET status = 'succeeded', finished_at = now() WHERE status = 'queued'")
    )
    db.session.commit()
    stack.app.extensions["redis"].flushdb()


def burst(stack: Stack, count: int) -> tuple[float, float, int]:
    """``count`` tasks due at once, one tick: seconds until all are published, the tick's CPU
    seconds, messages in Redis."""
    from website.services.scheduler import tick

    make_due(count)
    started, cpu_started = time.perf_counter(), time.process_time()
    report = tick()
    elapsed, cpu = time.perf_counter() - started, time.process_time() - cpu_started
    assert len(report.published) == count, f"{len(report.published)} of {count} published"
    messages = len(redis_job_ids(stack))
    finish_queued_jobs(stack)
    return elapsed, cpu, messages


def redis_job_ids(stack: Stack) -> list[str]:
    """The Celery task id of every job message waiting in Redis (``job-<job id>``)."""
    from celery_app.queue import queue_lists

    redis = stack.app.extensions["redis"]
    ids = []
    for name in queue_lists():
        for payload in redis.lrange(name, 0, -1):
            ids.append(json.loads(payload)["headers"]["id"])
    return ids


def beats_round(stack: Stack, count: int, beats: int) -> BeatsRound:
    """``count`` tasks due, ``beats`` processes ticking at once: the rate, the CPU it took, and
    the duplicates."""
    from sqlalchemy import text

    from website.extensions import db

    processes = [
        subprocess.Popen(
            [sys.executable, "-m", "bench._scale_ticker"],
            cwd=PROJECT_ROOT,
            env=stack.environment,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
        )
        for _ in range(beats)
    ]
    try:
        for process in processes:  # each has its app, connections and a first idle tick ready
            assert process.stdout is not None
            assert process.stdout.readline().strip() == "ready"
        make_due(count)
        machine_before, server_before = machine_cpu(), server_cpu_seconds()
        for process in processes:
            assert process.stdin is not None
            process.stdin.write("go\n")
            process.stdin.flush()
        outcomes = []
        for process in processes:
            assert process.stdout is not None
            outcomes.append(json.loads(process.stdout.readline()))
        machine_after, server_after = machine_cpu(), server_cpu_seconds()
        for process in processes:
            process.wait(timeout=60)
    finally:
        for process in processes:
            if process.poll() is None:
                process.kill()
                process.wait()
    dispatched = sum(outcome["dispatched"] for outcome in outcomes)
    elapsed = max(o["ended"] for o in outcomes) - min(o["started"] for o in outcomes)
    assert dispatched == count, f"{dispatched} of {count} dispatched by {beats} beats"
    duplicate_slots = db.session.execute(
        text(
            "SELECT count(*) FROM (SELECT task_id, scheduled_for FROM jobs"
            " GROUP BY task_id, scheduled_for HAVING count(*) > 1) AS duplicates"
        )
    ).scalar_one()
    db.session.rollback()
    ids = redis_job_ids(stack)
    duplicate_messages = len(ids) - len(set(ids))
    assert len(set(ids)) == count, f"{len(set(ids))} distinct messages for {count} jobs"
    finish_queued_jobs(stack)
    busy = (machine_after[0] - machine_before[0]) / max(1, machine_after[1] - machine_before[1])
    return BeatsRound(
        rate=count / elapsed,
        ticker_cpu_ms=sum(outcome["cpu"] for outcome in outcomes) * 1000 / count,
        server_cpu_ms=(server_after - server_before) * 1000 / count,
        machine_busy=busy,
        duplicate_slots=duplicate_slots,
        duplicate_messages=duplicate_messages,
    )


def met(figures: Figures) -> bool:
    return (
        figures.idle_p50_ms <= TARGET_IDLE_TICK_MS
        and figures.burst_seconds <= TARGET_BURST_SECONDS
        and figures.beats_ratio >= TARGET_BEATS_RATIO
        and figures.duplicate_slots == 0
        and figures.duplicate_messages == 0
    )


def report(baseline: Figures, scaled: Figures, due: int) -> None:
    def row(label: str, value: str, base: str, target: str) -> None:
        print(f"{label:<40}{value:>15}{base:>15}   {target}")

    print(f"claim plan, {scaled.tasks:,} tasks: {scaled.claim_plan}")
    row("tasks stored", f"{scaled.tasks:,}", f"{baseline.tasks:,}", "(baseline)")
    row(
        "idle tick p50 / p99, ms",
        f"{scaled.idle_p50_ms:.2f} / {scaled.idle_p99_ms:.2f}",
        f"{baseline.idle_p50_ms:.2f} / {baseline.idle_p99_ms:.2f}",
        f"target p50 <= {TARGET_IDLE_TICK_MS} ms",
    )
    row(
        f"{due:,} due: all published, s",
        f"{scaled.burst_seconds:.2f}",
        f"{baseline.burst_seconds:.2f}",
        f"target <= {TARGET_BURST_SECONDS} s",
    )
    row(
        "  CPU of the ticking process, s",
        f"{scaled.burst_cpu_seconds:.2f}",
        f"{baseline.burst_cpu_seconds:.2f}",
        "",
    )
    row(
        "  messages in Redis",
        f"{scaled.burst_published:,}",
        f"{baseline.burst_published:,}",
        f"expected {due:,}",
    )
    row("one beat, jobs/s", f"{scaled.one_beat_rate:,.0f}", f"{baseline.one_beat_rate:,.0f}", "")
    row("two beats, jobs/s", f"{scaled.two_beats_rate:,.0f}", f"{baseline.two_beats_rate:,.0f}", "")
    row(
        "two beats / one beat",
        f"{scaled.beats_ratio:.2f}x",
        f"{baseline.beats_ratio:.2f}x",
        f"target >= {TARGET_BEATS_RATIO}x",
    )
    for label, attribute in (("one beat", "one_beat"), ("two beats", "two_beats")):
        now, base = getattr(scaled, attribute), getattr(baseline, attribute)
        row(
            f"  {label}: tick / db+redis CPU ms/job",
            f"{now.ticker_cpu_ms:.3f} / {now.server_cpu_ms:.3f}",
            f"{base.ticker_cpu_ms:.3f} / {base.server_cpu_ms:.3f}",
            "",
        )
        row(
            f"  {label}: all cores busy",
            f"{now.machine_busy:.0%}",
            f"{base.machine_busy:.0%}",
            "(every process of the machine)",
        )
    cores = os.cpu_count() or 1
    cpu_per_job = scaled.two_beats.ticker_cpu_ms + scaled.two_beats.server_cpu_ms
    ceiling = cores * 1000 / cpu_per_job
    row(
        f"  ceiling on {cores} idle cores, jobs/s",
        f"{ceiling:,.0f}",
        "",
        f"= {ceiling / scaled.one_beat_rate:.2f}x one beat",
    )
    row(
        "duplicate slots / messages",
        f"{scaled.duplicate_slots} / {scaled.duplicate_messages}",
        f"{baseline.duplicate_slots} / {baseline.duplicate_messages}",
        "target 0 / 0",
    )
    print("targets met" if met(scaled) else "TARGETS MISSED")


if __name__ == "__main__":
    main()

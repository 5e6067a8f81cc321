"""Batch create: 500 tasks by one POST /tasks/batch against 500 single POST /tasks, under gunicorn.

Both go to the same gunicorn server (production's worker class and threads, bench/_gunicorn.py)
over one keep-alive connection, as a client script would send them: the singles one after the
other, the batch as one request. Every task body is the same realistic body (parameters for the
request and the records, a window, limits), with a distinct name and URL. Rounds alternate the
two, so that drift hits both alike; each round creates 1,000 tasks (the per-user cap is raised
for the benchmark).

Reported: seconds for 500 tasks each way (median over rounds), tasks/s, and the ratio
singles / batch. Target: the batch >= 10x faster.

Run: ``python -m bench batch_create`` (SQLite in a temporary directory), or with
``DATABASE_URL=postgresql+psycopg://...`` for a fresh database on that server. Exits 1 when the
target is missed.
"""

from __future__ import annotations

import argparse
import http.client
import json
import os
import statistics
import sys
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

PROJECT_ROOT = Path(__file__).resolve().parent.parent
if str(PROJECT_ROOT) not in sys.path:  # run as a script: make the project importable
    sys.path.insert(0, str(PROJECT_ROOT))

from bench.api_throughput import WEB_THREADS, WEB_WORKERS, api_server  # noqa: E402

TASKS = 500  # per measurement, each way (the default MAX_BATCH)
ROUNDS = 5  # the batch takes half a second: medians of a few rounds steady it
TARGET_RATIO = 10.0
TASK_CAP = 1_000_000  # MAX_TASKS_PER_USER for the benchmark: every round's tasks stay


def task_body(number: int) -> dict[str, Any]:
    """A realistic task: a feed with query, headers and a records expression, in a window."""
    start = datetime.now(UTC) + timedelta(minutes=number % 60)
    return {
        "name": f"event feed {number}",
        # An address, not a name: a DNS lookup per task would cost both ways alike.
        "url": f"http://127.0.0.1:9/events/{number}/attendees.json",
        "parameters": {
            "query": {"page": 1, "per_page": 100},
            "headers": {"Accept": "application/json"},
            "records": "data.attendees",
            "record_key": "attendee_id",
        },
        "start_time": start.isoformat(),
        "end_time": (start + timedelta(days=30)).isoformat(),
        "task_interval": 300,
        "max_execution_time": 30,
        "max_attempt": 5,
        "priority": 5,
    }


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tasks", type=int, default=TASKS)
    parser.add_argument("--rounds", type=int, default=ROUNDS)
    options = parser.parse_args(argv)

    saved = {name: os.environ.get(name) for name in ("MAX_TASKS_PER_USER", "MAX_BATCH")}
    os.environ["MAX_TASKS_PER_USER"] = str(TASK_CAP)
    os.environ["MAX_BATCH"] = str(max(options.tasks, 1))
    try:
        singles, batches, database = measure(options.tasks, options.rounds)
    finally:  # `python -m bench` runs the other benchmarks in this process next
        for name, value in saved.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value
    report(options, singles, batches, database)


def measure(tasks: int, rounds: int) -> tuple[list[float], list[float], str]:
    """Seconds per round each way (singles, batches), and the database's kind."""
    with api_server(WEB_WORKERS, WEB_THREADS) as (port, token, _task_id, database, _pid):
        headers = {"Authorization": f"Bearer {token}", "Content-Type": "application/json"}
        singles: list[float] = []
        batches: list[float] = []
        numbers = iter(range(10**9))
        for _ in range(rounds):
            bodies = [task_body(next(numbers)) for _ in range(tasks)]
            singles.append(create_one_by_one(port, headers, bodies))
            bodies = [task_body(next(numbers)) for _ in range(tasks)]
            batches.append(create_in_one_batch(port, headers, bodies))
    return singles, batches, database


def create_one_by_one(port: int, headers: dict[str, str], bodies: list[dict[str, Any]]) -> float:
    """Seconds to create ``bodies`` with one POST /tasks each, one after the other."""
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
    started = time.perf_counter()
    for body in bodies:
        connection.request("POST", "/tasks", body=json.dumps(body), headers=headers)
        response = connection.getresponse()
        answer = response.read()
        if response.status != 201:
            raise RuntimeError(f"POST /tasks answered {response.status}: {answer[:500]!r}")
    elapsed = time.perf_counter() - started
    connection.close()
    return elapsed


def create_in_one_batch(port: int, headers: dict[str, str], bodies: list[dict[str, Any]]) -> float:
    """Seconds to create ``bodies`` with one POST /tasks/batch."""
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
    payload = json.dumps({"tasks": bodies})
    started = time.perf_counter()
    connection.request("POST", "/tasks/batch", body=payload, headers=headers)
    response = connection.getresponse()
    answer = response.read()
    elapsed = time.perf_counter() - started
    connection.close()
    if response.status != 200 or json.loads(answer)["created"] != len(bodies):
        raise RuntimeError(f"POST /tasks/batch answered {response.status}: {answer[:500]!r}")
    return elapsed


def report(
    options: argparse.Namespace, singles: list[float], batches: list[float], database: str
) -> None:
    single, batch = statistics.median(singles), statistics.median(batches)
    ratio = single / batch
    print(
        f"gunicorn {WEB_WORKERS} workers x {WEB_THREADS} threads, {database}, "
        f"{options.tasks} tasks each way, median of {options.rounds} rounds, "
        f"{os.cpu_count()} CPUs"
    )
    print(f"{'way':<34}{'seconds':>9}{'tasks/s':>10}")
    for name, seconds in (
        (f"{options.tasks} x POST /tasks (baseline)", single),
        (f"1 x POST /tasks/batch ({options.tasks})", batch),
    ):
        print(f"{name:<34}{seconds:>9.3f}{options.tasks / seconds:>10,.0f}")
    print(f"rounds (s): singles {_list(singles)}; batch {_list(batches)}")
    print(f"batch / singles   {ratio:.1f}x faster   target >= {TARGET_RATIO:g}x")
    met = ratio >= TARGET_RATIO
    print("target met" if met else "TARGET MISSED")
    if not met:
        raise SystemExit(1)


def _list(values: list[float]) -> str:
    return ", ".join(f"{value:.3f}" for value in values)


if __name__ == "__main__":
    main()

"""API throughput: authenticated GET /tasks/<id>/status and GET /tasks (50 items) under gunicorn.

Baseline, in the same run on the same gunicorn server: /bench/hello, a bare Flask app answering
a small JSON object (no extensions, hooks, auth or database); for reference also
/bench/raw-hello, a plain WSGI callable (bench/_api_server.py). The API endpoints go through
everything a real request does: the app's hooks, JWT verification, the Redis token blocklist,
the user lookup, the queries and the serialization. Each endpoint is measured in rounds,
alternating with the others, by N keep-alive connections (threads in a few client processes) for
a fixed time after a warm-up.

Reported: requests/s of each endpoint (median over rounds), the ratios to the baseline, and the
latencies (all rounds pooled). Targets: status >= 0.30x the baseline's requests/s, the list
>= 0.15x, p99 <= 20 ms at 8 connections.

Run: ``python -m bench api_throughput`` (SQLite in a temporary directory), or with
``DATABASE_URL=postgresql+psycopg://...`` for a fresh database on that server. Exits 1 when a
target is missed.

``--compare-databases`` serves the same seeded data from SQLite and from PostgreSQL (a fresh
database on DATABASE_URL's server, else on the local one) by two gunicorn servers at once, and
measures the two authenticated endpoints on each in alternating rounds: it prints PostgreSQL's
requests/s over SQLite's (target: >= 0.8x for both endpoints, issue 16).
"""

from __future__ import annotations

import argparse
import http.client
import json
import multiprocessing
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

PROJECT_ROOT = Path(__file__).resolve().parent.parent
if str(PROJECT_ROOT) not in sys.path:  # run as a script: make the project importable
    sys.path.insert(0, str(PROJECT_ROOT))

from bench.end_to_end import WorkerCpu  # noqa: E402
from bench.scale import server_cpu_seconds  # noqa: E402

CONNECTIONS = 8  # concurrent keep-alive connections (the p99 target is stated at 8)
CLIENT_PROCESSES = 2  # the load generator's processes: one Python process alone tops out early
WEB_WORKERS = 2  # gunicorn worker processes (gthread, as in production)
WEB_THREADS = 4  # threads per worker process, as in production
SECONDS_PER_MEASUREMENT = 5.0
WARMUP_SECONDS = 1.0
ROUNDS = 3  # each round measures every endpoint once, so that drift hits them all alike
MAX_REQUESTS_PER_CONNECTION = 100_000  # a bound besides the time limit
LISTED_TASKS = 50  # GET /tasks?page_size=50 answers this many
STATUS_RECORDS = 50  # records of the last successful job, shown by the status endpoint
SERVER_START_TIMEOUT = 60.0  # seconds for gunicorn to answer /healthz
TARGET_STATUS_RATIO = 0.30
TARGET_LIST_RATIO = 0.15
TARGET_P99_MS = 20.0
TARGET_POSTGRESQL_RATIO = 0.8  # PostgreSQL's requests/s over SQLite's, --compare-databases
LOCAL_POSTGRESQL_URL = "postgresql+psycopg://postgres@127.0.0.1:5432/postgres"
BENCH_SECRET = "bench-only-secret-" + "x" * 32  # both the server and the token minter use it


@dataclass
class Measurement:
    requests: int
    seconds: float
    latencies: list[float]  # seconds, of the requests counted
    errors: int
    total_requests: int = 0  # every request sent, the warm-up's and the last's too

    @property
    def rate(self) -> float:
        return self.requests / self.seconds


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--connections", type=int, default=CONNECTIONS)
    parser.add_argument("--workers", type=int, default=WEB_WORKERS, help="gunicorn workers")
    parser.add_argument("--threads", type=int, default=WEB_THREADS, help="threads per worker")
    parser.add_argument("--seconds", type=float, default=SECONDS_PER_MEASUREMENT)
    parser.add_argument("--rounds", type=int, default=ROUNDS)
    parser.add_argument(
        "--compare-databases",
        action="store_true",
        help="SQLite and PostgreSQL in one run: PostgreSQL's requests/s over SQLite's",
    )
    options = parser.parse_args(argv)
    if options.compare_databases:
        compare_databases(options)
        return

    database_url = os.environ.get("DATABASE_URL")
    with api_server(options.workers, options.threads, database_url) as (
        port,
        token,
        task_id,
        database,
        _pid,
    ):
        headers = {"Authorization": f"Bearer {token}"}
        endpoints = {
            "Flask hello (baseline)": ("/bench/hello", {}),
            "raw WSGI hello": ("/bench/raw-hello", {}),
            "GET /tasks/<id>/status": (f"/tasks/{task_id}/status", headers),
            f"GET /tasks ({LISTED_TASKS} items)": (f"/tasks?page_size={LISTED_TASKS}", headers),
        }
        check_answers(port, endpoints)
        print(f"measuring {len(endpoints)} endpoints x {options.rounds} rounds ...", flush=True)
        results: dict[str, list[Measurement]] = {name: [] for name in endpoints}
        for _ in range(options.rounds):
            for name, (path, request_headers) in endpoints.items():
                results[name].append(
                    measure(port, path, request_headers, options.connections, options.seconds)
                )
        report(results, options, database)


def report(
    results: dict[str, list[Measurement]], options: argparse.Namespace, database: str
) -> None:
    names = list(results)
    rates = {name: statistics.median(m.rate for m in results[name]) for name in names}
    p99s = {
        name: percentile([lat for m in results[name] for lat in m.latencies], 0.99) * 1000
        for name in names
    }
    errors = {name: sum(m.errors for m in results[name]) for name in names}
    baseline, _raw, status, listing = names
    print(
        f"gunicorn {options.workers} workers x {options.threads} threads, "
        f"{options.connections} connections, "
        f"{options.rounds} rounds of {options.seconds:g} s, {database}, {os.cpu_count()} CPUs"
    )
    print(f"{'endpoint':<28}{'requests/s':>12}{'ratio':>8}{'p50 ms':>9}{'p99 ms':>9}{'errors':>8}")
    for name in names:
        p50 = percentile([lat for m in results[name] for lat in m.latencies], 0.50) * 1000
        ratio = rates[name] / rates[baseline]
        print(
            f"{name:<28}{rates[name]:>12,.0f}{ratio:>7.2f}x{p50:>9.2f}{p99s[name]:>9.2f}"
            f"{errors[name]:>8}"
        )
    print("ratios: requests/s over the Flask hello's (the raw WSGI hello is for reference)")
    status_ratio, list_ratio = rates[status] / rates[baseline], rates[listing] / rates[baseline]
    print(f"status / Flask hello   {status_ratio:.2f}x   target >= {TARGET_STATUS_RATIO}x")
    print(f"list / Flask hello     {list_ratio:.2f}x   target >= {TARGET_LIST_RATIO}x")
    print(
        f"p99 status / list   {p99s[status]:.1f} / {p99s[listing]:.1f} ms   "
        f"target <= {TARGET_P99_MS:g} ms at {CONNECTIONS} connections"
    )
    met = (
        status_ratio >= TARGET_STATUS_RATIO
        and list_ratio >= TARGET_LIST_RATIO
        and max(p99s[status], p99s[listing]) <= TARGET_P99_MS
        and not any(errors.values())
    )
    print("targets met" if met else "TARGETS MISSED")
    if not met:
        raise SystemExit(1)


def compare_databases(options: argparse.Namespace) -> None:
    """The authenticated endpoints on SQLite and on PostgreSQL, measured in alternating rounds."""
    environment_url = os.environ.get("DATABASE_URL") or ""
    postgresql_url = environment_url if "postgresql" in environment_url else LOCAL_POSTGRESQL_URL
    endpoints: dict[str, tuple[int, str, dict[str, str]]] = {}
    server_pids: dict[str, int] = {}  # the gunicorn server serving each endpoint
    with ExitStack() as stack:
        for database_url in (None, postgresql_url):
            port, token, task_id, database, pid = stack.enter_context(
                api_server(options.workers, options.threads, database_url)
            )
            headers = {"Authorization": f"Bearer {token}"}
            served = {
                f"{database} status": (f"/tasks/{task_id}/status", headers),
                f"{database} list": (f"/tasks?page_size={LISTED_TASKS}", headers),
            }
            check_answers(port, served)
            endpoints |= {name: (port, path, head) for name, (path, head) in served.items()}
            server_pids |= dict.fromkeys(served, pid)
        print(f"measuring {len(endpoints)} endpoints x {options.rounds} rounds ...", flush=True)
        results: dict[str, list[Measurement]] = {name: [] for name in endpoints}
        cpu: dict[str, list[tuple[float, float]]] = {name: [] for name in endpoints}
        for _ in range(options.rounds):
            for name, (port, path, headers) in endpoints.items():
                app_cpu = WorkerCpu(server_pids[name])  # its processes' CPU from now
                database_before = server_cpu_seconds(("postgres",))
                measurement = measure(port, path, headers, options.connections, options.seconds)
                requests = max(measurement.total_requests, 1)
                database_ms = (server_cpu_seconds(("postgres",)) - database_before) * 1000
                cpu[name].append((app_cpu.milliseconds_per(requests), database_ms / requests))
                results[name].append(measurement)
    rates = {name: statistics.median(m.rate for m in results[name]) for name in results}
    print(
        f"gunicorn {options.workers} workers x {options.threads} threads per database, "
        f"{options.connections} connections, {options.rounds} rounds of {options.seconds:g} s, "
        f"{os.cpu_count()} CPUs"
    )
    print(f"{'endpoint':<28}{'requests/s':>12}{'p50 ms':>9}{'p99 ms':>9}{'errors':>8}")
    for name, measurements in results.items():
        latencies = [latency for m in measurements for latency in m.latencies]
        print(
            f"{name:<28}{rates[name]:>12,.0f}{percentile(latencies, 0.5) * 1000:>9.2f}"
            f"{percentile(latencies, 0.99) * 1000:>9.2f}{sum(m.errors for m in measurements):>8}"
        )
    print(
        "CPU per request (medians; every request of a round, warm-up included): the API's "
        "gunicorn processes / the PostgreSQL server"
    )
    app_ms = {name: statistics.median(app for app, _ in cpu[name]) for name in cpu}
    for name in cpu:
        database_ms = statistics.median(database for _, database in cpu[name])
        print(f"  {name:<26}{app_ms[name]:>7.2f} ms / {database_ms:.2f} ms")
    met = not any(m.errors for measurements in results.values() for m in measurements)
    for endpoint in ("status", "list"):
        ratio = rates[f"postgresql {endpoint}"] / rates[f"sqlite {endpoint}"]
        met = met and ratio >= TARGET_POSTGRESQL_RATIO
        print(
            f"{endpoint}: PostgreSQL / SQLite   {ratio:.2f}x   target >= {TARGET_POSTGRESQL_RATIO}x"
        )
    print("targets met" if met else "TARGETS MISSED")
    if not met:
        raise SystemExit(1)


# --- the server --------------------------------------------------------------------------------


@contextmanager
def api_server(
    workers: int, threads: int = WEB_THREADS, base_database_url: str | None = None
) -> Iterator[tuple[int, str, int, str, int]]:
    """A seeded database (SQLite, or a fresh one on ``base_database_url``'s PostgreSQL server),
    a private Redis and gunicorn serving the API; yields the port, a token, the id of the task
    whose status is measured, the database's kind and gunicorn's process id."""
    from cli.embedded_redis import EmbeddedRedis
    from tests.support.databases import fresh_database_url

    with ExitStack() as stack:
        directory = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="bench-api-")))
        redis_server = stack.enter_context(EmbeddedRedis(free_port(), directory / "redis"))
        database_url = stack.enter_context(fresh_database_url(base_database_url, directory))
        port = free_port()
        environment = {
            "APP_ENV": "development",
            "INSTANCE_PATH": str(directory / "instance"),
            "DATABASE_URL": database_url,
            "REDIS_URL": redis_server.url,
            "SECRET_KEY": BENCH_SECRET,
            "JWT_SECRET_KEY": BENCH_SECRET,
            "JWT_ACCESS_TOKEN_EXPIRES": "86400",
            "FETCH_ALLOW_PRIVATE": "1",
            "DEMO_FEED": "0",
            "LOG_LEVEL": "WARNING",
            "HOST": "127.0.0.1",
            "PORT": str(port),
            "WEB_CONCURRENCY": str(workers),
            "WEB_THREADS": str(threads),
            "PYTHONPATH": str(PROJECT_ROOT),
        }
        os.environ.update(environment)
        token, task_id = seed_database()
        server = subprocess.Popen(
            [sys.executable, "-m", "gunicorn", "-c", "python:bench._gunicorn"],
            cwd=PROJECT_ROOT,
            env={**os.environ, **environment},
        )
        stack.callback(stop, server)
        wait_until_serving(port, server)
        yield port, token, task_id, database_url.split(":", 1)[0].split("+", 1)[0], server.pid


def seed_database() -> tuple[str, int]:
    """A user with LISTED_TASKS tasks; the first has a succeeded job with STATUS_RECORDS records."""
    from flask_jwt_extended import create_access_token

    from tests.support.job_rows import add_job
    from website import create_app
    from website.extensions import db
    from website.services import database_admin
    from website.services.tasks import create_task
    from website.services.users import create_user

    app = create_app()
    with app.app_context():
        database_admin.migrate_to_head()
        user = create_user("bench", "bench-password")
        start = datetime.now(UTC) - timedelta(hours=1)
        tasks = [
            create_task(
                user.id,
                {
                    "name": f"event feed {number}",
                    "url": f"https://example.com/events/{number}.json",
                    "parameters": {"query": {"page": 1}, "headers": {"Accept": "application/json"}},
                    "start_time": start,
                    "end_time": start + timedelta(days=30),
                    "task_interval": 60,
                    "max_execution_time": 10,
                    "max_attempt": 5,
                },
            )
            for number in range(LISTED_TASKS)
        ]
        add_job(
            tasks[0],
            records=[
                {"id": number, "name_first": "Ada", "name_last": f"Attendee {number}"}
                for number in range(STATUS_RECORDS)
            ],
            http_status=200,
            records_added=STATUS_RECORDS,
            records_changed=0,
            records_removed=0,
        )
        token, task_id = create_access_token(identity=str(user.id)), tasks[0].id
        db.session.remove()
        db.engine.dispose()
        return token, task_id


def wait_until_serving(port: int, server: subprocess.Popen[bytes]) -> None:
    deadline = time.monotonic() + SERVER_START_TIMEOUT
    while time.monotonic() < deadline:
        if server.poll() is not None:
            raise RuntimeError(f"gunicorn exited with {server.returncode}")
        try:
            connection = http.client.HTTPConnection("127.0.0.1", port, timeout=2)
            connection.request("GET", "/healthz")
            if connection.getresponse().status == 200:
                connection.close()
                return
        except OSError:
            pass
        time.sleep(0.2)
    raise RuntimeError("gunicorn did not answer /healthz in time")


def stop(server: subprocess.Popen[bytes]) -> None:
    server.terminate()
    try:
        server.wait(timeout=15)
    except subprocess.TimeoutExpired:
        server.kill()
        server.wait()


def check_answers(port: int, endpoints: dict[str, tuple[str, dict[str, str]]]) -> None:
    """Each endpoint answers 200 with what the benchmark claims to measure."""
    for name, (path, headers) in endpoints.items():
        connection = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
        connection.request("GET", path, headers=headers)
        response = connection.getresponse()
        body = json.loads(response.read())
        connection.close()
        if response.status != 200:
            raise RuntimeError(f"{name} answered {response.status}: {body}")
        if path.startswith("/tasks?") and len(body) != LISTED_TASKS:
            raise RuntimeError(f"{name} listed {len(body)} tasks, not {LISTED_TASKS}")
        if path.endswith("/status") and body["last_execution_data"]["total"] != STATUS_RECORDS:
            raise RuntimeError(f"{name} does not carry the {STATUS_RECORDS} records")


# --- the load generator -----------------------------------------------------------------------


def measure(
    port: int, path: str, headers: dict[str, str], connections: int, seconds: float
) -> Measurement:
    """Requests/s and latencies of ``path`` over ``connections`` keep-alive connections."""
    processes = max(1, min(CLIENT_PROCESSES, connections))
    shares = [connections // processes + (i < connections % processes) for i in range(processes)]
    context = multiprocessing.get_context("spawn")
    with context.Pool(processes) as pool:
        parts = pool.starmap(
            load_process, [(port, path, headers, share, seconds) for share in shares]
        )
    return Measurement(
        requests=sum(part.requests for part in parts),
        seconds=seconds,
        latencies=[latency for part in parts for latency in part.latencies],
        errors=sum(part.errors for part in parts),
        total_requests=sum(part.total_requests for part in parts),
    )


def load_process(
    port: int, path: str, headers: dict[str, str], connections: int, seconds: float
) -> Measurement:
    """One client process: ``connections`` threads, each a keep-alive connection in a loop."""
    started = time.perf_counter() + 0.2  # let every thread connect first
    measure_from, measure_until = started + WARMUP_SECONDS, started + WARMUP_SECONDS + seconds
    results: list[Measurement] = []
    lock = threading.Lock()

    def run_connection() -> None:
        latencies: list[float] = []
        errors = sent_count = 0
        connection = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
        while time.perf_counter() < started:
            time.sleep(0.001)
        for _ in range(MAX_REQUESTS_PER_CONNECTION):
            sent = time.perf_counter()
            if sent >= measure_until:
                break
            connection.request("GET", path, headers=headers)
            response = connection.getresponse()
            response.read()
            sent_count += 1
            answered = time.perf_counter()
            if measure_from <= sent and answered <= measure_until:
                latencies.append(answered - sent)
                errors += response.status != 200
        connection.close()
        with lock:
            results.append(Measurement(len(latencies), seconds, latencies, errors, sent_count))

    threads = [threading.Thread(target=run_connection) for _ in range(connections)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return Measurement(
        requests=sum(result.requests for result in results),
        seconds=seconds,
        latencies=[latency for result in results for latency in result.latencies],
        errors=sum(result.errors for result in results),
        total_requests=sum(result.total_requests for result in results),
    )


def percentile(values: list[float], fraction: float) -> float:
    """The nearest-rank percentile (``fraction`` in 0..1) of ``values``."""
    ordered = sorted(values)
    if not ordered:
        return float("nan")
    return ordered[min(len(ordered) - 1, max(0, round(fraction * len(ordered)) - 1))]


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


if __name__ == "__main__":
    main()

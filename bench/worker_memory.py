"""Worker memory: resident memory of one worker (process and pool children) beside its job count.

One ``celery worker`` per configuration (``pool:concurrency``; the default configuration first,
as ``make run`` and compose start it) runs rounds of N tasks (1,000) made due at once against a
local feed (50 records, no delay), 10 rounds. After each round it prints the jobs run so far,
the RSS of the worker and its children summed (what ``ps`` and the issue count; a page shared
by the pool's children counts once per child) and their PSS (each shared page divided among the
processes sharing it: what the machine really spends), and at the end the growth per job from
the first round to the last.

Run: ``python bench/worker_memory.py`` (SQLite; ``DATABASE_URL=postgresql+psycopg://...`` for
PostgreSQL), ``--config threads:50`` to choose. Target: RSS after 1,000 jobs at most 742 MiB
(the original project's, parent + 8 children), and no growth per job.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

if __package__ in (None, ""):  # run as a script: make the project importable
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench._engine_stack import FeedServer, engine_stack, insert_tasks
from bench.slow_upstreams import descendants, run_jobs, worker_rss
from tests.support.processes import CeleryProcesses

JOBS = 1000  # per round
ROUNDS = 10
TARGET_RSS = 742 * 1024 * 1024
MIB = 1024 * 1024


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--config", action="append", help="pool:concurrency (repeatable)")
    parser.add_argument("--jobs", type=int, default=JOBS, help="jobs per round")
    parser.add_argument("--rounds", type=int, default=ROUNDS)
    options = parser.parse_args(argv)

    missed = False
    with engine_stack() as stack, FeedServer() as server:
        from website.extensions import db

        configs = options.config or [
            f"{stack.app.config['WORKER_POOL']}:{stack.app.config['WORKER_CONCURRENCY']}"
        ]
        print(f"database: {db.engine.dialect.name}; first configuration: the default")
        tasks = insert_tasks(options.jobs, server.url("/feed"))
        for config in configs:
            pool, _, concurrency = config.partition(":")
            print(f"--- {config}")
            print(f"{'jobs':>8} {'processes':>10} {'RSS MiB':>9} {'PSS MiB':>9} {'s/round':>8}")
            with CeleryProcesses(stack.directory, **stack.environment) as processes:
                worker = processes.worker(concurrency=int(concurrency), pool=pool, LOG_LEVEL="INFO")
                first = 0
                for round_number in range(1, options.rounds + 1):
                    seconds, failed = run_jobs(stack, tasks)
                    rss = worker_rss(worker.pid)
                    members = [worker.pid, *descendants(worker.pid)]
                    print(
                        f"{round_number * options.jobs:>8} {len(members):>10} {rss / MIB:>9.0f} "
                        f"{worker_pss(worker.pid) / MIB:>9.0f} {seconds:>8.1f}"
                        + (f"   {failed} did not succeed" if failed else "")
                    )
                    if round_number == 1:
                        first = rss
                        missed |= rss > TARGET_RSS
            growth = (rss - first) / max(1, (options.rounds - 1) * options.jobs)
            print(
                f"RSS after {options.jobs} jobs {first / MIB:.0f} MiB (target <= "
                f"{TARGET_RSS / MIB:.0f}); growth from then on {growth / 1024:+.2f} KiB per job"
            )
    print("TARGET MISSED" if missed else "target met")


def worker_pss(pid: int) -> int:
    """Proportional set size of the worker and all its descendants, in bytes."""
    total = 0
    for member in [pid, *descendants(pid)]:
        try:
            for line in Path(f"/proc/{member}/smaps_rollup").read_text().splitlines():
                if line.startswith("Pss:"):
                    total += int(line.split()[1]) * 1024
        except OSError:
            continue
    return total


if __name__ == "__main__":
    main()

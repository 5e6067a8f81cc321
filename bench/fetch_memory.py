"""Fetcher memory: peak RSS growth for responses over the cap, large bodies and hostile jobs.

1. ``fetch()`` alone, each in a fresh Python process (peak RSS only ever grows): a tiny fetch
   first (the baseline: imports, client and pool warm), then the case. The growth is the peak
   RSS minus the baseline RSS. Cases: 200 MiB refused at a 10 MiB cap (chunked, gzip bomb,
   Content-Length), beside a plain ``httpx.get`` of the same; and two bodies under the cap whose
   parse alone is measured (5,000,000 tiny records; 3,300,000 empty objects).
2. A real prefork worker child running one job (``bench/_worker_child.py``): the 5,000,000-record
   body, and hostile records expressions on a 1 KB feed, with the default limits.

Run: ``python bench/fetch_memory.py`` or ``python -m bench fetch_memory``. Targets: growth under
40 MiB for the refused responses; a worker child's growth under 12x ``FETCH_MAX_BYTES`` for the
hostile jobs (the object-heavy body, whose parse alone costs ~25x, is reported, not targeted).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

if __package__ in (None, ""):  # run as a script: make the project importable
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench._memory_server import (
    EMPTY_OBJECTS,
    RESPONSE_BYTES,
    TINY_RECORDS,
    MemoryBenchServer,
)
from bench._worker_child import WorkerCase, measure_worker_children, process_memory

MIB = 1024 * 1024
CAP_BYTES = 10 * MIB  # FETCH_MAX_BYTES in the measuring process
TARGET_GROWTH = 40 * MIB  # the acceptance limit for peak RSS growth refusing 200 MiB
TARGET_WORKER_GROWTH = 12 * CAP_BYTES  # a hostile job's peak growth in a worker child


def measure_fetcher(base_url: str, path: str) -> dict[str, Any]:
    """In this (fresh) process: baseline after a tiny fetch, then the big one."""
    from website import create_app
    from website.services.fetch import FetchError, FetchRequest, fetch

    app = create_app({"TESTING": True, "FETCH_MAX_BYTES": CAP_BYTES, "FETCH_ALLOW_PRIVATE": True})
    with app.app_context():
        fetch(FetchRequest(base_url + "/tiny", timeout=60))
        # Not the earlier peak: memory freed since then could hide growth.
        baseline = process_memory("VmRSS")
        started = time.monotonic()
        try:
            result = fetch(FetchRequest(base_url + path, timeout=120))
            outcome = f"accepted {result.size} bytes"
        except FetchError as error:
            outcome = error.message
        elapsed = time.monotonic() - started
    return {
        "baseline": baseline,
        "peak": process_memory("VmHWM"),
        "outcome": outcome,
        "seconds": elapsed,
    }


def measure_plain_httpx(base_url: str, path: str) -> dict[str, Any]:
    """The same download with a plain ``httpx.get``: no cap, the whole body in memory."""
    import httpx

    httpx.get(base_url + "/tiny", timeout=60)
    baseline = process_memory("VmRSS")
    started = time.monotonic()
    response = httpx.get(base_url + path, timeout=120)
    elapsed = time.monotonic() - started
    return {
        "baseline": baseline,
        "peak": process_memory("VmHWM"),
        "outcome": f"read {len(response.content)} bytes",
        "seconds": elapsed,
    }


def _run_child(kind: str, base_url: str, path: str, environment: dict[str, str]) -> dict[str, Any]:
    completed = subprocess.run(
        [sys.executable, __file__, "--child", kind, base_url, path],
        env=environment,
        capture_output=True,
        text=True,
        timeout=600,
        check=True,
    )
    result: dict[str, Any] = json.loads(completed.stdout.strip().splitlines()[-1])
    return result


DOUBLING = "|".join(["[@,@]"] * 16)  # 95 characters, doubling the output at each step
WORKER_CASES = [
    WorkerCase(f"{TINY_RECORDS:,} tiny records (9.5 MiB)", "/records", {}),
    WorkerCase(f"{EMPTY_OBJECTS:,} empty objects (9.4 MiB)", "/objects", {}),
    WorkerCase("[@,@] x16 (95 chars) on 1 KB", "/feed", {"records": DOUBLING}),
    WorkerCase("[@,@] x15: 2 x 18 MB stored", "/feed", {"records": DOUBLING[:89]}),
    WorkerCase("[@,@][] x16: a list that doubles", "/feed", {"records": "[@,@][]|" * 16 + "@"}),
    WorkerCase("map(&[@,@], @)[] x20", "/feed", {"records": "map(&[@,@], @)[]|" * 20 + "@"}),
]
UNTARGETED = {"/objects"}  # json.loads alone costs ~25x its body here: reported, not targeted


def main(argv: list[str] | None = None) -> None:
    """Measure and print two tables; exit with status 1 when a case misses its target.

    ``argv`` (``--child KIND URL PATH``) is how this script runs its own measuring processes.
    """
    arguments = list(sys.argv[1:] if argv is None else argv)
    if len(arguments) == 4 and arguments[0] == "--child":
        _, kind, url, path = arguments
        measure = measure_fetcher if kind == "fetcher" else measure_plain_httpx
        print(json.dumps(measure(url, path)))
        return
    with MemoryBenchServer() as base_url:
        ok = _fetcher_table(base_url)
        ok = _worker_table(base_url) and ok
    print("PASS" if ok else "FAIL", "(growth under the target in every targeted case)")
    if not ok:
        raise SystemExit(1)


def _fetcher_table(base_url: str) -> bool:
    cases = [
        ("fetcher", "/chunked", "200 MiB chunked, no length"),
        ("fetcher", "/gzip", "200 MiB gzip bomb (~200 KiB sent)"),
        ("fetcher", "/sized", "200 MiB with Content-Length"),
        ("httpx", "/chunked", "plain httpx.get, same 200 MiB"),
        ("fetcher", "/records", f"parse {TINY_RECORDS:,} tiny records"),
        ("fetcher", "/objects", f"parse {EMPTY_OBJECTS:,} empty objects"),
    ]
    ok = True
    with tempfile.TemporaryDirectory() as instance:
        environment = {
            **os.environ,
            "APP_ENV": "development",
            "INSTANCE_PATH": instance,
            "DATABASE_URL": f"sqlite:///{instance}/bench.db",
            "LOG_LEVEL": "WARNING",
        }
        print(
            f"Fetcher memory: {RESPONSE_BYTES // MIB} MiB response, "
            f"FETCH_MAX_BYTES={CAP_BYTES // MIB} MiB, target growth < {TARGET_GROWTH // MIB} MiB"
        )
        print(f"{'case':<36} {'baseline':>10} {'growth':>10} {'x cap':>6} {'time':>7}  outcome")
        for kind, path, label in cases:
            result = _run_child(kind, base_url, path, environment)
            growth = result["peak"] - result["baseline"]
            if kind == "fetcher" and path.startswith(("/chunked", "/gzip", "/sized")):
                ok = ok and growth < TARGET_GROWTH
            print(
                f"{label:<36} {result['baseline'] / MIB:>7.1f} MiB {growth / MIB:>6.1f} MiB"
                f" {growth / CAP_BYTES:>5.2f}x {result['seconds']:>6.2f}s  {result['outcome']}"
            )
    return ok


def _worker_table(base_url: str) -> bool:
    print(
        f"\nWorker child, one job each: FETCH_MAX_BYTES={CAP_BYTES // MIB} MiB, other limits "
        f"default; target growth < {TARGET_WORKER_GROWTH / CAP_BYTES:g}x cap"
    )
    print(f"{'case':<38} {'baseline':>10} {'growth':>10} {'x cap':>6} {'kept':>9}  outcome")
    ok = True
    for result in measure_worker_children(base_url, WORKER_CASES, CAP_BYTES):
        if result.case.path not in UNTARGETED:
            ok = ok and result.growth < TARGET_WORKER_GROWTH
        print(
            f"{result.case.label:<38} {result.baseline / MIB:>7.1f} MiB"
            f" {result.growth / MIB:>6.1f} MiB {result.growth / CAP_BYTES:>5.2f}x"
            f" {result.kept / MIB:>5.1f} MiB  {result.outcome}"
        )
    return ok


if __name__ == "__main__":
    main()

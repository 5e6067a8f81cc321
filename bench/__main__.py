"""Run every benchmark: each ``bench/*.py`` script's ``main()``, in name order (``make bench``).

``python -m bench api_throughput scheduler`` runs only the named ones. Modules whose names start
with an underscore are helpers, not benchmarks.
"""

from __future__ import annotations

import importlib
import sys
import time
from pathlib import Path

BENCH_DIRECTORY = Path(__file__).resolve().parent


def benchmark_names() -> list[str]:
    """The benchmark modules of this package, by name."""
    return sorted(
        path.stem for path in BENCH_DIRECTORY.glob("*.py") if not path.stem.startswith("_")
    )


def main(argv: list[str] | None = None) -> int:
    names = list(argv if argv is not None else sys.argv[1:]) or benchmark_names()
    unknown = sorted(set(names) - set(benchmark_names()))
    if unknown:
        print(
            f"no such benchmark: {', '.join(unknown)}; choose from {', '.join(benchmark_names())}"
        )
        return 2
    failed = []
    for name in names:
        print(f"\n=== bench/{name}.py ===", flush=True)
        started = time.monotonic()
        try:
            # Each benchmark parses its own options: give it none of ours.
            importlib.import_module(f"bench.{name}").main([])
        except SystemExit as exit_:
            if exit_.code not in (None, 0):
                failed.append(name)
        except Exception as error:  # one broken benchmark must not hide the others' numbers
            print(f"bench/{name}.py failed: {type(error).__name__}: {error}")
            failed.append(name)
        print(f"=== bench/{name}.py: {time.monotonic() - started:.0f} s ===", flush=True)
    if failed:
        print(f"\nmissed their targets or failed: {', '.join(failed)}")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())

"""One beat for ``bench/scale.py``: a process that ticks when told to, as beat makes a worker do.

It builds the app from the environment, ticks once (connections open, nothing due), prints
``ready``, waits for a line on stdin, then ticks until a tick claims nothing, and prints one JSON
line: how many jobs it dispatched, when it started and ended (``time.time()``), and its CPU
seconds meanwhile.
"""

from __future__ import annotations

import json
import sys
import time


def main() -> None:
    from website import create_app
    from website.services.scheduler import tick

    app = create_app()
    with app.app_context():
        tick()
        print("ready", flush=True)
        sys.stdin.readline()
        started, cpu_started = time.time(), time.process_time()
        dispatched = 0
        while True:
            report = tick()
            dispatched += len(report.dispatched)
            if not report.dispatched:
                break
        ended, cpu = time.time(), time.process_time() - cpu_started
    print(
        json.dumps({"dispatched": dispatched, "started": started, "ended": ended, "cpu": cpu}),
        flush=True,
    )


if __name__ == "__main__":
    main()

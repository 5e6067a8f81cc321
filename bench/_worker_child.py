"""A real prefork worker child's memory for one job: its peak growth and what it keeps afterwards.

Used by ``bench/fetch_memory.py`` (not a benchmark itself). Each case gets a fresh worker with
one prefork child (``WORKER_MAX_MEMORY_PER_CHILD=0``, so the child stays to be read). A job on a
1 KB feed warms the child up (imports, app, connection pool); its resident memory then is the
baseline. Then the case's job runs; the child's ``VmHWM`` (peak RSS since it started) minus the
baseline is the growth, an upper bound, and its ``VmRSS`` afterwards is what it keeps.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from bench._engine_stack import engine_stack, insert_tasks
from tests.support.processes import CeleryProcesses

__all__ = ["ChildMemory", "WorkerCase", "measure_worker_children", "process_memory"]

JOB_TIMEOUT_SECONDS = 300
POLL_SECONDS = 0.1


@dataclass(frozen=True)
class WorkerCase:
    label: str
    path: str  # on the benchmark's server
    parameters: dict[str, Any]


@dataclass(frozen=True)
class ChildMemory:
    case: WorkerCase
    baseline: int  # bytes resident after the warm-up job
    peak: int  # bytes, the child's peak RSS
    after: int  # bytes resident once the case's job ended
    outcome: str  # the job's status and error

    @property
    def growth(self) -> int:
        return self.peak - self.baseline

    @property
    def kept(self) -> int:
        return self.after - self.baseline


def measure_worker_children(
    base_url: str, cases: list[WorkerCase], cap_bytes: int
) -> list[ChildMemory]:
    """Run each case in a fresh worker; the app's other settings are the defaults."""
    results = []
    settings = {"FETCH_MAX_BYTES": str(cap_bytes), "WORKER_MAX_MEMORY_PER_CHILD": "0"}
    with engine_stack(**settings) as stack:
        warm_up = insert_tasks(len(cases), base_url + "/feed")
        for number, case in enumerate(cases):
            # One attempt: a failed job is not retried by the next case's tick.
            [task_id] = insert_tasks(
                1, base_url + case.path, parameters=case.parameters, max_attempt=1
            )
            directory = stack.directory / f"case{number}"
            directory.mkdir()
            with CeleryProcesses(directory, **stack.environment) as processes:
                # INFO: the worker logs "ready" at that level, which the stack starts waiting for.
                processes.worker(concurrency=1, pool="prefork", LOG_LEVEL="INFO")
                worker_name, _ = _run(warm_up[number], processes)
                child = int(worker_name.rsplit(":", 1)[1])
                baseline = process_memory("VmRSS", child)
                _, outcome = _run(task_id, processes)
                peak, after = process_memory("VmHWM", child), process_memory("VmRSS", child)
                results.append(ChildMemory(case, baseline, peak, after, outcome))
    return results


def _run(task_id: int, processes: CeleryProcesses) -> tuple[str, str]:
    """Make the task due and tick; the worker (``host:pid``) and outcome of its job."""
    from sqlalchemy import select, update

    from website.database import read_only_transactions, utcnow
    from website.extensions import db
    from website.models import FINAL_JOB_STATUSES, Job, Task
    from website.services.scheduler import tick

    db.session.execute(update(Task).where(Task.id == task_id).values(next_run_at=utcnow()))
    db.session.commit()
    report = tick()
    assert len(report.published) == 1, f"the job was not published: {report}"
    final = {status.value for status in FINAL_JOB_STATUSES}
    deadline = time.monotonic() + JOB_TIMEOUT_SECONDS
    while True:
        with read_only_transactions():  # a snapshot: the worker's writes never wait for it
            status, worker, error = db.session.execute(
                select(Job.status, Job.worker, Job.error).where(Job.task_id == task_id)
            ).one()
            db.session.rollback()
        if status in final:
            return str(worker), f"{status}: {error or 'stored'}"
        if time.monotonic() > deadline:
            raise RuntimeError(f"job of task {task_id} did not finish in time:\n{processes.logs()}")
        time.sleep(POLL_SECONDS)


def process_memory(field: str, pid: int | str = "self") -> int:
    """A ``/proc/<pid>/status`` memory figure in bytes (``VmHWM``: peak RSS, ``VmRSS``: now).

    ``VmHWM``, unlike getrusage's ``ru_maxrss``, does not inherit the peak of the parent process.
    """
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1]) * 1024
    raise RuntimeError(f"no {field} in /proc/{pid}/status (Linux only)")

"""The workers' remote control command that interrupts the run of a cancelled job.

``CeleryJobQueue.abandon`` broadcasts ``abandon_job`` after the job was marked ``cancelled`` in
the database. The worker whose pool runs the job's message (its Celery task id is
``job_task_id``) sends the prefork child running it SIGUSR1, billiard's soft time limit signal:
``SoftTimeLimitExceeded`` is raised into the run wherever it is (the fetch, usually), and
``celery_app.tasks.run_job`` hands it to ``executor.record_timeout``, which finds the job no
longer running and records nothing. The threads pool cannot interrupt a thread: there the run
goes on to its end and the executor discards its result.
"""

from __future__ import annotations

import logging
import signal
from typing import Any

from celery.worker import state as worker_state
from celery.worker.control import control_command

from celery_app.queue import ABANDON_JOB_COMMAND, job_task_id

__all__ = ["abandon_job"]

logger = logging.getLogger(__name__)

# What billiard sends a prefork child at its soft time limit; the child raises
# SoftTimeLimitExceeded (and it is not SIGTERM, which the children ignore: shutdown.py).
INTERRUPT_SIGNAL = signal.SIGUSR1


@control_command(name=ABANDON_JOB_COMMAND, args=[("job_id", int)], signature="<job_id>")
def abandon_job(state: Any, job_id: int) -> dict[str, str]:
    """Interrupt this worker's run of a cancelled job, if it runs one."""
    task_id = job_task_id(job_id)
    # Only runs a child has accepted: the parent knows their child's pid. The pool hands a child
    # its next message only after it read the child's result (fair scheduling, the default), so
    # the pid still runs this job, or has just finished it and waits.
    running = [
        request
        for request in list(worker_state.active_requests)
        if request.id == task_id and request.time_start and request.worker_pid
    ]
    for request in running:
        try:
            state.consumer.pool.terminate_job(request.worker_pid, INTERRUPT_SIGNAL)
        except NotImplementedError:
            logger.info(
                "this pool cannot interrupt a run: the cancelled job's result will be discarded",
                extra={"job_id": job_id},
            )
            return {"ok": "not interrupted"}
        logger.info("interrupting the run of a cancelled job", extra={"job_id": job_id})
    return {"ok": "interrupted" if running else "not running here"}

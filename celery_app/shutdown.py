"""Prefork children leave SIGTERM to the worker's main process, so a group-wide SIGTERM is warm.

systemd (``KillMode=control-group``, its default), ``kill -- -PGID`` and supervisors that stop a
process group signal every process of a worker at once. A pool child dies of SIGTERM by default,
so the job it was running ended ``lost`` although the main process had begun a warm shutdown and
would have waited for it. Each child therefore ignores SIGTERM: the main process closes the pool,
and the child finishes its job and exits when the pool tells it to.

billiard keeps an ignored SIGTERM as it is when it installs its own handlers in a new child (any
other handler it replaces). SIGQUIT still ends a child at once: ``kill -QUIT -- -PGID`` is the
cold shutdown that does not wait for running jobs (they end ``lost`` after their lease).
"""

from __future__ import annotations

import signal
from typing import Any

from celery.signals import worker_process_init

__all__: list[str] = []


@worker_process_init.connect
def _leave_sigterm_to_the_main_process(**_kwargs: Any) -> None:
    signal.signal(signal.SIGTERM, signal.SIG_IGN)

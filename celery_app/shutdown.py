"""Prefork children ignore SIGTERM, so a SIGTERM to the whole process group is a warm shutdown.

systemd (``KillMode=control-group``) and ``kill -- -PGID`` signal every process of a worker at
once; a child that died of it left its job ``lost``. Ignoring it lets the main process close the
pool while the child finishes its job (billiard keeps an ignored SIGTERM in new children).
SIGQUIT to the group is still the cold shutdown (docs/operations.md).
"""

from __future__ import annotations

import signal
from typing import Any

from celery.signals import worker_process_init

__all__: list[str] = []


@worker_process_init.connect
def _leave_sigterm_to_the_main_process(**_kwargs: Any) -> None:
    signal.signal(signal.SIGTERM, signal.SIG_IGN)

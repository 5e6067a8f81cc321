"""Gunicorn settings of the API benchmark: production's, serving ``bench._api_server``."""

from website.gunicorn_config import (  # noqa: F401  (gunicorn reads these module globals)
    bind,
    control_socket_disable,
    graceful_timeout,
    threads,
    timeout,
    worker_class,
    workers,
)

wsgi_app = "bench._api_server:application"
# No access log: one line per request would cost the baseline and the API alike, hiding the
# difference the benchmark is about.
accesslog = None

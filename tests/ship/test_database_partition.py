"""A real gunicorn whose PostgreSQL goes silent: requests end with 503 and /healthz keeps answering.

More requests than gunicorn has threads (2 processes x 4) meet the silent database at once;
without deadlines they would hold every thread for the whole partition, /healthz included.
"""

from __future__ import annotations

import os
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx
import pytest

from tests.conftest import free_port
from tests.ship.processes import gunicorn_command, running, wait_for_http, wait_until
from tests.support.databases import server_address, through_port
from tests.support.tcp_proxy import proxy_to
from website.models import User

pytestmark = [pytest.mark.slow, pytest.mark.postgres]

STARTUP_TIMEOUT_SECONDS = 90.0
HANG_SECONDS = 60.0  # generous: every request should end within a few seconds
CONCURRENT_REQUESTS = 12  # more than the 8 threads of 2 gunicorn processes x 4
HEALTH_CHECKS = 3


def test_requests_to_a_silent_database_end_with_503_while_healthz_keeps_answering(
    user: User, auth_headers: dict[str, str], tmp_path: Path
) -> None:
    database_url = os.environ["DATABASE_URL"]
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    with proxy_to(server_address(database_url)) as proxy:
        environment = {
            "DATABASE_URL": through_port(database_url, proxy.port),
            "DATABASE_CONNECT_TIMEOUT": "2",
            "DATABASE_STATEMENT_TIMEOUT": "2",
        }
        with (
            running(gunicorn_command(port), tmp_path / "web", environment) as web,
            httpx.Client(base_url=base, timeout=HANG_SECONDS) as client,
            ThreadPoolExecutor(CONCURRENT_REQUESTS + 1) as pool,
        ):
            wait_for_http(f"{base}/healthz", web, STARTUP_TIMEOUT_SECONDS)
            for _ in range(4):  # pooled connections in both processes, most likely
                assert client.get("/tasks", headers=auth_headers).status_code == 200

            proxy.black_hole()
            listings = [
                pool.submit(client.get, "/tasks", headers=auth_headers)
                for _ in range(CONCURRENT_REQUESTS)
            ]
            ready = pool.submit(client.get, "/readyz")
            # A new connection per check, as a load balancer's health checker makes: a kept-alive
            # one may be closed by gunicorn just as it is reused, which says nothing of health.
            health = [
                httpx.get(f"{base}/healthz", timeout=HANG_SECONDS) for _ in range(HEALTH_CHECKS)
            ]
            responses = [future.result() for future in listings]

            assert [response.status_code for response in health] == [200] * HEALTH_CHECKS
            for response in responses:
                assert response.status_code == 503
                assert response.json()["message"] == "Database unavailable, try again shortly"
                assert response.headers["Retry-After"]
            assert ready.result().status_code == 503

            proxy.heal()
            wait_until(
                lambda: client.get("/tasks", headers=auth_headers).status_code == 200,
                HANG_SECONDS,
                "/tasks to answer once the database does",
            )
            web.assert_alive()
        assert "Traceback" not in web.output()

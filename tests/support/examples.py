"""The example task body of the original brief, which the API and the Insomnia collection keep."""

from __future__ import annotations

import json
from typing import Any

__all__ = ["ORIGINAL_EXAMPLE_TASK"]

# Exactly as the brief gives it (parameters as a JSON-encoded string, times with a Z suffix).
ORIGINAL_EXAMPLE_TASK: dict[str, Any] = json.loads(
    """{"name": "task1", "url": "https://s3-us-west-2.amazonaws.com/eb-python-challenge/php-architecture/amazingexpo2020.json", "parameters": "{}", "start_time": "2023-01-04T21:41:38.930Z", "end_time": "2023-12-04T21:41:38.930Z", "task_interval": 100, "max_execution_time": 0, "max_attempt": 10}"""  # noqa: E501
)

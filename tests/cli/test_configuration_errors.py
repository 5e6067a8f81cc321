"""A configuration the app refuses is reported by the CLI as one clear line, not a traceback."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path


def test_challenge_reports_a_refused_configuration_without_a_traceback(tmp_path: Path) -> None:
    environment = {
        key: value
        for key, value in os.environ.items()
        if key not in {"SECRET_KEY", "JWT_SECRET_KEY"}
    }
    environment.update(APP_ENV="production", INSTANCE_PATH=str(tmp_path / "instance"))
    result = subprocess.run(
        [sys.executable, "-c", "from cli import main; main()", "db", "init"],
        env=environment,
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 1
    assert "configuration refused: SECRET_KEY must be set in production" in result.stderr
    assert "Traceback" not in result.stderr

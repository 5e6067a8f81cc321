"""Configuration from the environment: defaults per APP_ENV, secrets, and refusals."""

from __future__ import annotations

import importlib
import re
import stat
import subprocess
import sys
from pathlib import Path

import pytest

from website.config import ConfigError, load_config, web_server_settings
from website.database import engine_options

CONFIG_SOURCE = Path(__file__).resolve().parent.parent / "website" / "config.py"
# Every environment variable the configuration reads, found in its source.
SETTING_NAMES = sorted(
    set(re.findall(r"_(?:env\w*|secret)\(\s*\"([A-Z0-9_]+)\"", CONFIG_SOURCE.read_text()))
)
STRONG_SECRET = "s" * 32


@pytest.fixture
def clean_environment(monkeypatch: pytest.MonkeyPatch) -> pytest.MonkeyPatch:
    """No setting in the environment: every test starts from the defaults."""
    for name in SETTING_NAMES:
        monkeypatch.delenv(name, raising=False)
    return monkeypatch


@pytest.fixture
def production(clean_environment: pytest.MonkeyPatch) -> pytest.MonkeyPatch:
    clean_environment.setenv("APP_ENV", "production")
    clean_environment.setenv("SECRET_KEY", STRONG_SECRET)
    clean_environment.setenv("JWT_SECRET_KEY", STRONG_SECRET + "jwt")
    return clean_environment


def test_the_settings_list_is_found_in_the_config_source() -> None:
    assert {"APP_ENV", "DATABASE_URL", "REDIS_URL", "SECRET_KEY", "DEMO_BASE_URL"} <= set(
        SETTING_NAMES
    )


def test_development_defaults_need_no_environment_at_all(
    clean_environment: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    config = load_config(tmp_path)
    assert config["APP_ENV"] == "development"
    assert config["SQLALCHEMY_DATABASE_URI"] == f"sqlite:///{tmp_path / 'challenge.db'}"
    assert config["REDIS_URL"] == "redis://127.0.0.1:6390/0"
    assert config["REDIS_EMBEDDED"] is True
    assert config["FETCH_ALLOW_PRIVATE"] is True
    assert config["DEMO_FEED"] is True
    assert config["DEMO_BASE_URL"] == "http://127.0.0.1:8000"
    assert config["LOG_FORMAT"] == "text"


def test_production_defaults_are_the_safe_ones(
    production: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    config = load_config(tmp_path)
    assert config["FETCH_ALLOW_PRIVATE"] is False
    assert config["DEMO_FEED"] is False
    assert config["LOG_FORMAT"] == "json"
    assert config["SECRET_KEY"] == STRONG_SECRET
    assert not (tmp_path / "secrets.json").exists()


@pytest.mark.parametrize("missing", ["SECRET_KEY", "JWT_SECRET_KEY"])
def test_production_refuses_to_start_without_a_secret(
    production: pytest.MonkeyPatch, tmp_path: Path, missing: str
) -> None:
    production.delenv(missing)
    with pytest.raises(ConfigError, match=f"{missing} must be set in production"):
        load_config(tmp_path)


@pytest.mark.parametrize("app_env", ["development", "production"])
def test_a_short_secret_is_refused(
    production: pytest.MonkeyPatch, tmp_path: Path, app_env: str
) -> None:
    production.setenv("APP_ENV", app_env)
    production.setenv("JWT_SECRET_KEY", "short")
    with pytest.raises(ConfigError, match="JWT_SECRET_KEY must be at least 32 bytes"):
        load_config(tmp_path)


def test_development_secrets_are_generated_once_and_kept_private(
    clean_environment: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    first, second = load_config(tmp_path), load_config(tmp_path)
    assert first["SECRET_KEY"] == second["SECRET_KEY"]
    assert first["JWT_SECRET_KEY"] == second["JWT_SECRET_KEY"]
    assert first["SECRET_KEY"] != first["JWT_SECRET_KEY"]
    assert len(first["JWT_SECRET_KEY"]) >= 32
    assert stat.S_IMODE((tmp_path / "secrets.json").stat().st_mode) == 0o600


def test_development_secrets_differ_between_instance_folders(
    clean_environment: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    one, other = load_config(tmp_path / "one"), load_config(tmp_path / "other")
    assert one["SECRET_KEY"] != other["SECRET_KEY"]


@pytest.mark.parametrize(
    ("name", "value", "message"),
    [
        ("APP_ENV", "staging", "APP_ENV must be one of development, production"),
        ("MAX_TASKS_PER_USER", "many", "MAX_TASKS_PER_USER must be an integer"),
        ("MAX_TASKS_PER_USER", "0", "MAX_TASKS_PER_USER must be at least 1"),
        ("EMBEDDED_REDIS_PORT", "-1", "EMBEDDED_REDIS_PORT must be at least 1"),
        ("SCHEDULER_TICK_SECONDS", "0.001", "SCHEDULER_TICK_SECONDS must be at least 0.05"),
        ("SCHEDULER_TICK_SECONDS", "soon", "SCHEDULER_TICK_SECONDS must be a number"),
        ("RATELIMIT_ENABLED", "maybe", "RATELIMIT_ENABLED must be a boolean"),
        ("LOG_FORMAT", "xml", "LOG_FORMAT must be one of"),
        ("DATABASE_CONNECT_TIMEOUT", "1", "DATABASE_CONNECT_TIMEOUT must be at least 2"),
        ("DATABASE_STATEMENT_TIMEOUT", "-1", "DATABASE_STATEMENT_TIMEOUT must be at least 0"),
    ],
)
def test_a_malformed_setting_is_refused_by_name(
    clean_environment: pytest.MonkeyPatch, tmp_path: Path, name: str, value: str, message: str
) -> None:
    clean_environment.setenv(name, value)
    with pytest.raises(ConfigError, match=message):
        load_config(tmp_path)


@pytest.mark.parametrize(
    ("value", "expected"), [("1", True), ("yes", True), ("ON", True), ("0", False), ("off", False)]
)
def test_booleans_accept_the_usual_spellings(
    clean_environment: pytest.MonkeyPatch, tmp_path: Path, value: str, expected: bool
) -> None:
    clean_environment.setenv("FETCH_ALLOW_PRIVATE", value)
    assert load_config(tmp_path)["FETCH_ALLOW_PRIVATE"] is expected


def test_an_empty_variable_counts_as_unset(
    clean_environment: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    clean_environment.setenv("DATABASE_URL", "")
    clean_environment.setenv("MAX_TASKS_PER_USER", "")
    config = load_config(tmp_path)
    assert config["SQLALCHEMY_DATABASE_URI"].startswith("sqlite:///")
    assert config["MAX_TASKS_PER_USER"] == 1000


def test_setting_redis_url_turns_the_embedded_redis_off(
    clean_environment: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    clean_environment.setenv("REDIS_URL", "redis://redis.internal:6379/2")
    config = load_config(tmp_path)
    assert config["REDIS_URL"] == "redis://redis.internal:6379/2"
    assert config["REDIS_EMBEDDED"] is False


def test_the_embedded_redis_port_moves_the_default_redis_url(
    clean_environment: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    clean_environment.setenv("EMBEDDED_REDIS_PORT", "7001")
    config = load_config(tmp_path)
    assert config["REDIS_URL"] == "redis://127.0.0.1:7001/0"
    assert config["EMBEDDED_REDIS_PORT"] == 7001


def test_the_default_fetch_timeout_never_exceeds_the_execution_cap(
    clean_environment: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    clean_environment.setenv("MAX_EXECUTION_TIME", "20")
    clean_environment.setenv("FETCH_DEFAULT_TIMEOUT", "60")
    assert load_config(tmp_path)["FETCH_DEFAULT_TIMEOUT"] == 20


def test_allowed_hosts_are_a_trimmed_lowercase_list(
    clean_environment: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    clean_environment.setenv("FETCH_ALLOWED_HOSTS", " Feeds.Example.com, ,intranet ")
    assert load_config(tmp_path)["FETCH_ALLOWED_HOSTS"] == ["feeds.example.com", "intranet"]


def test_demo_base_url_loses_its_trailing_slash(
    clean_environment: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    clean_environment.setenv("DEMO_BASE_URL", "http://demo.example:9000/")
    assert load_config(tmp_path)["DEMO_BASE_URL"] == "http://demo.example:9000"


def test_web_server_settings_default_to_loopback_port_8000(
    clean_environment: pytest.MonkeyPatch,
) -> None:
    assert web_server_settings() == {
        "HOST": "127.0.0.1",
        "PORT": 8000,
        "WEB_CONCURRENCY": 2,
        "WEB_THREADS": 4,
    }


def test_web_server_settings_follow_the_environment(
    clean_environment: pytest.MonkeyPatch,
) -> None:
    clean_environment.setenv("HOST", "0.0.0.0")
    clean_environment.setenv("PORT", "9000")
    clean_environment.setenv("WEB_CONCURRENCY", "5")
    clean_environment.setenv("WEB_THREADS", "2")
    assert web_server_settings() == {
        "HOST": "0.0.0.0",
        "PORT": 9000,
        "WEB_CONCURRENCY": 5,
        "WEB_THREADS": 2,
    }


@pytest.mark.parametrize("name", SETTING_NAMES)
def test_every_setting_is_documented(project_root: Path, name: str) -> None:
    documentation = (project_root / "docs" / "configuration.md").read_text()
    assert f"`{name}`" in documentation


def test_a_dotenv_file_configures_the_cli_and_the_environment_wins_over_it(
    tmp_path: Path,
) -> None:
    (tmp_path / ".env").write_text(
        f"DATABASE_URL=sqlite:///{tmp_path / 'from-dotenv.db'}\n"
        f"INSTANCE_PATH={tmp_path / 'wrong'}\n"
    )
    environment = {
        "PATH": "/usr/bin:/bin",
        "INSTANCE_PATH": str(tmp_path / "instance"),
        "REDIS_URL": "redis://127.0.0.1:9/0",  # never contacted by db init
    }
    completed = subprocess.run(
        [str(Path(sys.executable).with_name("challenge")), "db", "init"],
        cwd=tmp_path,
        env=environment,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert completed.returncode == 0, completed.stderr
    assert (tmp_path / "from-dotenv.db").exists()
    assert (tmp_path / "instance" / "secrets.json").exists()
    assert not (tmp_path / "wrong").exists()


def test_the_gunicorn_config_binds_and_sizes_from_the_environment(
    clean_environment: pytest.MonkeyPatch,
) -> None:
    clean_environment.setenv("HOST", "0.0.0.0")
    clean_environment.setenv("PORT", "9100")
    clean_environment.setenv("WEB_CONCURRENCY", "3")
    clean_environment.setenv("WEB_THREADS", "6")
    import website.gunicorn_config as gunicorn_config

    settings = importlib.reload(gunicorn_config)

    assert settings.bind == ["0.0.0.0:9100"]
    assert settings.workers == 3
    assert settings.threads == 6
    assert settings.wsgi_app == "website:create_app()"


def test_the_worker_prefetch_multiplier_reaches_celery(
    clean_environment: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    from celery_app.config import celery_config

    assert celery_config(load_config(tmp_path))["worker_prefetch_multiplier"] == 1
    clean_environment.setenv("WORKER_PREFETCH_MULTIPLIER", "3")
    assert celery_config(load_config(tmp_path))["worker_prefetch_multiplier"] == 3
    clean_environment.setenv("WORKER_PREFETCH_MULTIPLIER", "0")
    with pytest.raises(ConfigError, match="WORKER_PREFETCH_MULTIPLIER"):
        load_config(tmp_path)


def test_postgresql_connections_get_timeouts_that_database_url_parameters_override(
    clean_environment: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    clean_environment.setenv("DATABASE_STATEMENT_TIMEOUT", "2.5")
    clean_environment.setenv(
        "DATABASE_URL", "postgresql+psycopg://app@db.example/app?connect_timeout=20"
    )
    options = engine_options(load_config(tmp_path))

    arguments = options["connect_args"]
    assert "connect_timeout" not in arguments  # the URL's 20 s stands
    assert arguments["options"] == "-c statement_timeout=2500"
    assert arguments["keepalives"] == 1
    assert options["pool_timeout"] == 30.0


def test_sqlite_needs_no_network_timeouts(
    clean_environment: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    options = engine_options(load_config(tmp_path))
    assert "connect_args" not in options
    assert "pool_timeout" not in options


def test_the_demo_tasks_fetch_from_the_port_the_stack_serves_on(
    clean_environment: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    clean_environment.setenv("PORT", "8500")
    assert load_config(tmp_path)["DEMO_BASE_URL"] == "http://127.0.0.1:8500"
    clean_environment.setenv("DEMO_BASE_URL", "http://demo.example:9000")
    assert load_config(tmp_path)["DEMO_BASE_URL"] == "http://demo.example:9000"


@pytest.mark.parametrize("level", ["debug", "INFO", "Warning", "ERROR", "critical"])
def test_log_levels_are_the_five_of_python_logging_in_any_case(
    clean_environment: pytest.MonkeyPatch, tmp_path: Path, level: str
) -> None:
    clean_environment.setenv("LOG_LEVEL", level)
    assert load_config(tmp_path)["LOG_LEVEL"] == level.upper()


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("LOG_LEVEL", "verbose"),
        ("DATABASE_URL", "postgres://user:pw@db/challenge"),
        ("DATABASE_URL", "db.example/challenge"),
        ("REDIS_URL", "localhost:6379"),
    ],
)
def test_settings_no_component_could_use_are_refused(
    clean_environment: pytest.MonkeyPatch, tmp_path: Path, name: str, value: str
) -> None:
    clean_environment.setenv(name, value)
    with pytest.raises(ConfigError, match=name):
        load_config(tmp_path)


def test_the_dashboard_is_on_in_development_and_off_in_production_unless_asked_for(
    clean_environment: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    development = load_config(tmp_path)
    assert (development["UI_ENABLED"], development["JWT_COOKIE_SECURE"]) == (True, False)

    clean_environment.setenv("APP_ENV", "production")
    clean_environment.setenv("SECRET_KEY", STRONG_SECRET)
    clean_environment.setenv("JWT_SECRET_KEY", STRONG_SECRET + "jwt")
    production = load_config(tmp_path)
    assert (production["UI_ENABLED"], production["JWT_COOKIE_SECURE"]) == (False, True)

    clean_environment.setenv("UI_ENABLED", "1")
    assert load_config(tmp_path)["UI_ENABLED"] is True
    # The API reads bearer tokens from headers only, whatever the dashboard's cookies do.
    assert production["JWT_TOKEN_LOCATION"] == ["headers"]

"""The Docker image and the Compose stack, read as Docker reads them (and by `compose config`)."""

from __future__ import annotations

import os
import re
import secrets
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path
from typing import Any

import pytest
import yaml

from celery_app.queue import HARD_LIMIT_MARGIN_SECONDS, SOFT_LIMIT_MARGIN_SECONDS
from tests.ship.docker_files import (
    Stage,
    docker_ignored,
    dockerignore_patterns,
    parse_dockerfile,
    parse_env_file,
)
from website.config import load_config

APP_SERVICES = ("website", "worker", "beat")
SECRETS = ("SECRET_KEY", "JWT_SECRET_KEY", "POSTGRES_PASSWORD", "FLOWER_BASIC_AUTH")
BUILD_TOOLS = re.compile(r"\b(build-essential|gcc|g\+\+|make|cc|clang|python3?-dev|libpq-dev)\b")
COMPOSE_TIMEOUT_SECONDS = 60
# Compose's settings live apart from the .env that local runs read.
COMPOSE_ENV_FILE = ".env.compose"
COMPOSE_ENV_EXAMPLE = ".env.compose.example"


@pytest.fixture(scope="module")
def compose(project_root_path: Path) -> dict[str, Any]:
    loaded: dict[str, Any] = yaml.safe_load((project_root_path / "docker-compose.yml").read_text())
    return loaded


@pytest.fixture(scope="module")
def services(compose: dict[str, Any]) -> dict[str, dict[str, Any]]:
    found: dict[str, dict[str, Any]] = compose["services"]
    return found


@pytest.fixture(scope="module")
def project_root_path() -> Path:
    return Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def stages(project_root_path: Path) -> list[Stage]:
    return parse_dockerfile(project_root_path / "Dockerfile")[1]


@pytest.fixture(scope="module")
def final_stage(stages: list[Stage]) -> Stage:
    return stages[-1]


def command_words(service: dict[str, Any]) -> list[str]:
    command = service.get("command", [])
    return command.split() if isinstance(command, str) else [str(word) for word in command]


# --- docker-compose.yml -------------------------------------------------------------------------


def test_compose_defines_the_stack_with_flower_only_under_a_profile(
    services: dict[str, dict[str, Any]],
) -> None:
    assert set(services) == {"postgres", "redis", "migrate", *APP_SERVICES, "flower"}
    assert services["flower"]["profiles"]
    assert all("profiles" not in services[name] for name in services if name != "flower")


@pytest.mark.parametrize("name", ["postgres", "redis", "website", "worker"])
def test_long_running_services_have_a_healthcheck(
    services: dict[str, dict[str, Any]], name: str
) -> None:
    healthcheck = services[name]["healthcheck"]
    assert not healthcheck.get("disable")
    assert healthcheck["test"]


def test_postgres_and_redis_keep_their_data_in_named_volumes(compose: dict[str, Any]) -> None:
    services = compose["services"]
    for name, path in (("postgres", "/var/lib/postgresql/data"), ("redis", "/data")):
        volume, _, target = services[name]["volumes"][0].partition(":")
        assert target == path
        assert volume in compose["volumes"]


def test_redis_appends_to_its_log_and_never_evicts_messages(
    services: dict[str, dict[str, Any]],
) -> None:
    command = " ".join(command_words(services["redis"]))
    assert "--appendonly yes" in command
    assert "--maxmemory-policy noeviction" in command


def test_migrate_runs_db_init_once(services: dict[str, dict[str, Any]]) -> None:
    migrate = services["migrate"]
    assert command_words(migrate) == ["challenge", "db", "init"]
    assert migrate["restart"] == "no"
    assert migrate["depends_on"]["postgres"]["condition"] == "service_healthy"


@pytest.mark.parametrize("name", APP_SERVICES)
def test_app_services_start_after_healthy_stores_and_a_finished_migration(
    services: dict[str, dict[str, Any]], name: str
) -> None:
    depends_on = services[name]["depends_on"]
    assert depends_on["postgres"]["condition"] == "service_healthy"
    assert depends_on["redis"]["condition"] == "service_healthy"
    assert depends_on["migrate"]["condition"] == "service_completed_successfully"


def test_website_container_is_named_website_and_serves_gunicorn_on_port_8000(
    services: dict[str, dict[str, Any]],
) -> None:
    website = services["website"]
    assert website["container_name"] == "website"
    words = command_words(website)
    assert words[0] == "gunicorn"
    assert words[-1] == "website:create_app()"
    assert words[words.index("--bind") + 1] == "0.0.0.0:8000"
    assert any(str(port).endswith(":8000") for port in website["ports"])
    assert "/healthz" in " ".join(website["healthcheck"]["test"])


@pytest.mark.parametrize("role", ["worker", "beat"])
def test_worker_and_beat_run_celery_on_the_project_app_and_can_be_scaled(
    services: dict[str, dict[str, Any]], role: str
) -> None:
    service = services[role]
    words = command_words(service)
    assert words[0] == "celery"
    assert words[words.index("-A") + 1] == "cli.worker_app"
    assert role in words
    # A fixed container name or host port would stop `--scale worker=N`.
    assert "container_name" not in service
    assert "ports" not in service


def test_a_stopped_worker_container_gets_longer_than_the_longest_job_to_finish(
    services: dict[str, dict[str, Any]], tmp_path: Path
) -> None:
    # Compose sends SIGTERM (a warm shutdown), then SIGKILL after the grace period: a job killed
    # there would end lost instead of finishing.
    longest_job = (
        load_config(tmp_path)["MAX_EXECUTION_TIME"]
        + SOFT_LIMIT_MARGIN_SECONDS
        + HARD_LIMIT_MARGIN_SECONDS
    )
    grace = services["worker"]["stop_grace_period"]
    assert re.fullmatch(r"\d+s", grace), grace
    assert int(grace[:-1]) > longest_job


@pytest.mark.parametrize("name", ["migrate", *APP_SERVICES])
def test_app_services_share_the_image_and_take_secrets_from_the_environment(
    services: dict[str, dict[str, Any]], name: str
) -> None:
    service = services[name]
    assert service["build"] == "."
    assert service["env_file"] == COMPOSE_ENV_FILE
    environment = service["environment"]
    assert environment["APP_ENV"] == "production"
    for secret in ("SECRET_KEY", "JWT_SECRET_KEY"):
        assert re.fullmatch(rf"\$\{{{secret}:\?[^}}]+\}}", environment[secret])
    assert "${POSTGRES_PASSWORD:?" in environment["DATABASE_URL"]


def test_compose_file_holds_no_secret_value(services: dict[str, dict[str, Any]]) -> None:
    for name, service in services.items():
        for key, value in (service.get("environment") or {}).items():
            if key in SECRETS:
                assert str(value).startswith("${"), f"{name}: {key} is written into the file"


def test_env_example_leaves_every_secret_empty_and_names_every_setting_compose_reads(
    project_root_path: Path,
) -> None:
    example = parse_env_file(project_root_path / COMPOSE_ENV_EXAMPLE)
    assert {secret: example[secret] for secret in SECRETS} == dict.fromkeys(SECRETS, "")
    referenced = set(
        re.findall(r"\$\{([A-Z_]+)[:}]", (project_root_path / "docker-compose.yml").read_text())
    )
    assert referenced <= set(example)


def test_env_files_are_kept_out_of_git_and_out_of_the_image(project_root_path: Path) -> None:
    git_ignored = (project_root_path / ".gitignore").read_text().splitlines()
    assert {".env", COMPOSE_ENV_FILE} <= set(git_ignored)
    patterns = dockerignore_patterns(project_root_path / ".dockerignore")
    assert docker_ignored(".env", patterns)
    assert docker_ignored(COMPOSE_ENV_FILE, patterns)


# --- Dockerfile --------------------------------------------------------------------------------


def test_dockerfile_builds_in_stages_on_slim_python_3_11_or_newer(stages: list[Stage]) -> None:
    assert len(stages) >= 2
    for stage in stages:
        match = re.fullmatch(r"python:(\d+)\.(\d+)-slim(-\w+)?", stage.base)
        assert match, stage.base
        assert (int(match.group(1)), int(match.group(2))) >= (3, 11)


def test_final_stage_copies_the_venv_and_installs_no_build_tools(
    stages: list[Stage], final_stage: Stage
) -> None:
    copies = [item.arguments for item in final_stage.all("COPY")]
    assert any(f"--from={stages[0].name}" in copy and "/opt/venv" in copy for copy in copies)
    for run in final_stage.all("RUN"):
        assert not ("install" in run.arguments and BUILD_TOOLS.search(run.arguments))


def test_final_stage_runs_as_a_user_it_created_who_is_not_root(final_stage: Stage) -> None:
    users = final_stage.all("USER")
    assert users
    user = users[-1].arguments.split(":")[0]
    assert user not in {"root", "0"}
    created = " ".join(run.arguments for run in final_stage.all("RUN"))
    assert re.search(rf"useradd .*(--uid {user}\b|\b{user}$)", created)


def test_image_serves_the_app_with_gunicorn_on_port_8000_in_production(
    final_stage: Stage, project_root_path: Path
) -> None:
    command = final_stage.all("CMD")[-1].exec_form()
    assert command[0] == "gunicorn"
    assert command[-1] == "website:create_app()"
    assert command[command.index("--bind") + 1] == "0.0.0.0:8000"
    config = command[command.index("--config") + 1]
    assert config == "python:website.gunicorn_config"
    assert (project_root_path / "website" / "gunicorn_config.py").is_file()
    environment = " ".join(item.arguments for item in final_stage.all("ENV"))
    assert "APP_ENV=production" in environment


def test_image_healthcheck_asks_healthz(final_stage: Stage) -> None:
    healthcheck = final_stage.all("HEALTHCHECK")[-1]
    assert "/healthz" in " ".join(healthcheck.exec_form())


def test_build_context_keeps_what_the_dockerfile_copies_and_drops_the_rest(
    stages: list[Stage], project_root_path: Path
) -> None:
    patterns = dockerignore_patterns(project_root_path / ".dockerignore")
    copied = [
        source
        for stage in stages
        for copy in stage.all("COPY")
        if not copy.arguments.startswith("--from")
        for source in copy.arguments.split()[:-1]
    ]
    assert copied
    for source in copied:
        assert (project_root_path / source).exists(), source
        assert not docker_ignored(source, patterns), f".dockerignore drops {source}"
    for unwanted in (".git/HEAD", ".venv/bin/python", "instance/secrets.json", "tests/conftest.py"):
        assert docker_ignored(unwanted, patterns), unwanted


@pytest.mark.slow
def test_package_built_from_the_docker_context_has_the_migrations_and_the_cli(
    stages: list[Stage], project_root_path: Path, tmp_path: Path
) -> None:
    # The image runs `pip install .` on the build context: build the same wheel from the same files.
    patterns = dockerignore_patterns(project_root_path / ".dockerignore")
    context = tmp_path / "context"
    for stage in stages:
        for copy in stage.all("COPY"):
            if copy.arguments.startswith("--from"):
                continue
            for source in copy.arguments.split()[:-1]:
                for path in [project_root_path / source, *(project_root_path / source).rglob("*")]:
                    relative = path.relative_to(project_root_path).as_posix()
                    if path.is_file() and not docker_ignored(relative, patterns):
                        (context / relative).parent.mkdir(parents=True, exist_ok=True)
                        shutil.copy2(path, context / relative)
    command = [sys.executable, "-m", "pip", "wheel", "--no-deps"]
    subprocess.run(
        [*command, "--quiet", "--wheel-dir", str(tmp_path / "dist"), str(context)],
        check=True,
        timeout=300,
    )
    (wheel,) = (tmp_path / "dist").glob("challenge-*.whl")
    with zipfile.ZipFile(wheel) as archive:
        names = set(archive.namelist())
        entry_points = next(name for name in names if name.endswith("entry_points.txt"))
        assert "challenge = cli:main" in archive.read(entry_points).decode()
    assert "website/migrations/alembic.ini" in names
    assert any(re.fullmatch(r"website/migrations/versions/\w+\.py", name) for name in names)
    assert not any("__pycache__" in name for name in names)
    assert {"website/gunicorn_config.py", "website/log.py", "cli/worker_app.py"} <= names


# --- `docker compose config` -------------------------------------------------------------------


def compose_command() -> list[str] | None:
    """`docker compose` (v2) or `docker-compose` (v1), whichever is installed."""
    if shutil.which("docker"):
        probe = subprocess.run(
            ["docker", "compose", "version"], capture_output=True, check=False, timeout=30
        )
        if probe.returncode == 0:
            return ["docker", "compose"]
    if shutil.which("docker-compose"):
        return ["docker-compose"]
    return None


@pytest.fixture
def compose_project(project_root_path: Path, tmp_path: Path) -> Path:
    """A copy of the compose project with a .env.compose made from the example and random secrets.

    Beside it, a .env for local runs that Compose must not read.
    """
    for name in ("docker-compose.yml", "Dockerfile", COMPOSE_ENV_EXAMPLE):
        shutil.copy2(project_root_path / name, tmp_path / name)
    lines = []
    for line in (project_root_path / COMPOSE_ENV_EXAMPLE).read_text().splitlines():
        name = line.partition("=")[0]
        lines.append(f"{name}={secrets.token_urlsafe(48)}" if name in SECRETS else line)
    (tmp_path / COMPOSE_ENV_FILE).write_text("\n".join(lines) + "\n")
    (tmp_path / ".env").write_text("SECRET_KEY=a-local-development-value-compose-never-sees\n")
    return tmp_path


def run_compose(project: Path, *arguments: str) -> subprocess.CompletedProcess[str]:
    command = compose_command()
    if command is None:
        pytest.skip("no Docker Compose client installed (docker compose / docker-compose)")
    # Only .env.compose may supply values: a variable in the caller's shell would take precedence.
    environment = {name: os.environ[name] for name in ("PATH", "HOME") if name in os.environ}
    return subprocess.run(
        [*command, "--env-file", COMPOSE_ENV_FILE, *arguments],
        cwd=project,
        env=environment,
        capture_output=True,
        text=True,
        check=False,
        timeout=COMPOSE_TIMEOUT_SECONDS,
    )


def test_compose_config_accepts_the_stack_with_secrets_from_its_env_file(
    compose_project: Path,
) -> None:
    result = run_compose(compose_project, "config")
    assert result.returncode == 0, result.stderr
    resolved = yaml.safe_load(result.stdout)
    # (Compose v1 lists services of inactive profiles too.)
    assert {"postgres", "redis", "migrate", *APP_SERVICES} <= set(resolved["services"])
    secret = parse_env_file(compose_project / COMPOSE_ENV_FILE)["SECRET_KEY"]
    assert resolved["services"]["website"]["environment"]["SECRET_KEY"] == secret


def test_compose_config_with_the_monitoring_profile_adds_flower(compose_project: Path) -> None:
    result = run_compose(compose_project, "--profile", "monitoring", "config", "--services")
    assert result.returncode == 0, result.stderr
    assert "flower" in result.stdout.split()


def test_compose_refuses_to_start_without_the_secrets(compose_project: Path) -> None:
    example = (compose_project / COMPOSE_ENV_EXAMPLE).read_text()
    (compose_project / COMPOSE_ENV_FILE).write_text(example)
    result = run_compose(compose_project, "config")
    assert result.returncode != 0
    assert f"set POSTGRES_PASSWORD in {COMPOSE_ENV_FILE}" in result.stderr or (
        "SECRET_KEY" in result.stderr
    )

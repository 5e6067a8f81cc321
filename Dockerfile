# One image for every role: the web server (the default command), the Celery worker and beat, and
# the one-shot migration; docker-compose.yml picks the role with `command:`.

ARG PYTHON_VERSION=3.11

# ---- build: compile what has no wheel for this platform, install the project into a venv ----
FROM python:${PYTHON_VERSION}-slim-bookworm AS build

ENV PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    PYTHONDONTWRITEBYTECODE=1

# Compilers stay in this stage: a dependency without a wheel for the platform (e.g. on arm64)
# builds here, and the final stage receives only the result.
RUN apt-get update \
    && apt-get install -y --no-install-recommends build-essential \
    && rm -rf /var/lib/apt/lists/*

RUN python -m venv /opt/venv
ENV PATH=/opt/venv/bin:$PATH

WORKDIR /src
# Dependencies first, in their own layer, so that a code change does not reinstall them.
COPY pyproject.toml README.md ./
RUN python -c "import tomllib; print('\n'.join(tomllib.load(open('pyproject.toml', 'rb'))['project']['dependencies']))" \
        > /tmp/requirements.txt \
    && pip install --upgrade pip \
    && pip install -r /tmp/requirements.txt

COPY website ./website
COPY celery_app ./celery_app
COPY cli ./cli
RUN pip install --no-deps . \
    && challenge --help > /dev/null

# ---- runtime: the venv on a slim base, no compilers, an unprivileged user ----
FROM python:${PYTHON_VERSION}-slim-bookworm AS runtime

ENV PATH=/opt/venv/bin:$PATH \
    PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    APP_ENV=production \
    INSTANCE_PATH=/var/lib/challenge \
    HOST=0.0.0.0 \
    PORT=8000

RUN groupadd --system --gid 10001 challenge \
    && useradd --system --uid 10001 --gid challenge --home-dir /var/lib/challenge \
        --shell /usr/sbin/nologin challenge \
    && install -d -o challenge -g challenge -m 0750 /var/lib/challenge

COPY --from=build /opt/venv /opt/venv

WORKDIR /var/lib/challenge
USER 10001:10001
EXPOSE 8000

# Liveness of the web server; the worker and beat services replace it in docker-compose.yml.
HEALTHCHECK --interval=15s --timeout=5s --start-period=30s --retries=3 \
    CMD ["python", "-c", "import sys, urllib.request; sys.exit(urllib.request.urlopen('http://127.0.0.1:8000/healthz', timeout=4).status != 200)"]

# Gunicorn on 0.0.0.0:8000 with the project's settings (website/gunicorn_config.py: workers from
# WEB_CONCURRENCY) and JSON lines for its own and its access log.
CMD ["gunicorn", "--config", "python:website.gunicorn_config", "--bind", "0.0.0.0:8000", \
     "--logger-class", "website.log.GunicornLogger", "--worker-tmp-dir", "/dev/shm", \
     "website:create_app()"]

"""Gunicorn settings from the environment: ``gunicorn -c python:website.gunicorn_config``."""

from website.config import web_server_settings

_settings = web_server_settings()

wsgi_app = "website:create_app()"
bind = [f"{_settings['HOST']}:{_settings['PORT']}"]
workers = _settings["WEB_CONCURRENCY"]
# Threaded workers keep idle keep-alive connections from occupying a whole process.
worker_class = "gthread"
threads = _settings["WEB_THREADS"]  # per worker process
timeout = 30  # seconds a request may take before its worker is restarted
graceful_timeout = 10  # seconds in-flight requests get on SIGTERM, like Docker's stop grace period
accesslog = "-"
# JSON lines with the request and user ids when LOG_FORMAT is json; gunicorn's usual text otherwise.
logger_class = "website.log.GunicornLogger"
# Gunicorn 23+ opens a control socket in $HOME by default; several servers on one host collide.
control_socket_disable = True

"""Entry point for ``celery -A celery_app.make_celery worker`` and ``... beat``."""

from celery_app import celery_init_app
from website import create_app

flask_app = create_app()
celery = celery_init_app(flask_app)

"""Entry point for ``celery -A celery_app.make_celery worker`` and ``... beat``."""

from website import create_app

flask_app = create_app()
celery = flask_app.extensions["celery"]

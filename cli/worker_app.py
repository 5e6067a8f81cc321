"""Entry point for ``celery -A cli.worker_app worker`` and ``beat``: the worker's composition root.

It builds the app (``website.create_app``, which binds Celery to it), so it sits in the top layer
with the other entry points, above ``celery_app``.
"""

from website import create_app

flask_app = create_app()
celery = flask_app.extensions["celery"]

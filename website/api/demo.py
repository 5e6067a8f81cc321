"""The sample event feeds at /demo/events/<file> (development, or DEMO_FEED=1)."""

from __future__ import annotations

import json

from flask import Blueprint, Response, abort, request
from werkzeug.wrappers import Response as BaseResponse

from website.services.demo_feed import DEMO_FEEDS, demo_records

blp = Blueprint("demo", __name__, url_prefix="/demo")


@blp.get("/events/<string:feed>")
def events(feed: str) -> BaseResponse:
    """One sample feed, a JSON array of attendee records; honours If-None-Match."""
    if feed not in DEMO_FEEDS:
        abort(404, description=f"No demo feed named {feed}")
    response = Response(json.dumps(demo_records(feed)), mimetype="application/json")
    response.add_etag()
    return response.make_conditional(request)

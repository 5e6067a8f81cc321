"""Entity tags for single resources: ``ETag`` on responses, ``If-None-Match`` and ``If-Match``.

The tag is a hash of the JSON representation, so it changes whenever what a GET shows changes.
``If-Match`` is honoured when sent (412 when the resource changed meanwhile), never required.
"""

from __future__ import annotations

import functools
import hashlib
import json
from collections.abc import Callable
from typing import Any, ParamSpec

from flask import Response, request

from website.errors import PreconditionFailed

__all__ = [
    "ETAG_HEADER",
    "IF_MATCH_PARAMETER",
    "IF_NONE_MATCH_PARAMETER",
    "if_match_precondition",
    "representation_etag",
    "with_etag",
]

P = ParamSpec("P")

IF_MATCH_PARAMETER = {
    "name": "If-Match",
    "in": "header",
    "required": False,
    "description": "Change only if the resource still has this ETag (else 412).",
    "schema": {"type": "string"},
}
IF_NONE_MATCH_PARAMETER = {
    "name": "If-None-Match",
    "in": "header",
    "required": False,
    "description": "Answer 304 if the resource still has this ETag.",
    "schema": {"type": "string"},
}
ETAG_HEADER = {"description": "The representation's entity tag.", "schema": {"type": "string"}}


def representation_etag(representation: Any) -> str:
    """A strong entity tag for a JSON-ready representation (independent of key order)."""
    canonical = json.dumps(representation, sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(canonical.encode()).hexdigest()[:32]


def with_etag(view: Callable[P, Response]) -> Callable[P, Response]:
    """Tag a successful JSON response; on GET, answer 304 to a matching If-None-Match."""

    @functools.wraps(view)
    def tagged(*args: P.args, **kwargs: P.kwargs) -> Response:
        response = view(*args, **kwargs)
        if response.status_code == 200 and response.is_json:
            response.set_etag(representation_etag(response.get_json()))
            if request.method in {"GET", "HEAD"}:
                response.make_conditional(request)
        return response

    return tagged


def if_match_precondition(represent: Callable[[Any], Any]) -> Callable[[Any], None] | None:
    """A check of the request's If-Match against the current representation, or None if absent.

    Services call it with the locked row just before changing it, so that nothing changes the
    row between the check and the write.
    """
    if not request.if_match:
        return None
    expected = request.if_match

    def check(resource: Any) -> None:
        if not expected.contains(representation_etag(represent(resource))):
            raise PreconditionFailed(
                "The resource changed since you read it: If-Match does not match its ETag"
            )

    return check

"""The flask-smorest Blueprint of the task and job endpoints: strict JSON bodies, honest docs,
and reads that do not queue behind writes.

JSON bodies: 415 for another content type, 400 for malformed JSON, 422 for a number JSON cannot
hold (NaN, Infinity), 413 when too big. webargs alone treats a non-JSON body as no body at all
and lets some malformed JSON through as a server error (a 5,000-digit number, or nesting deep
enough to exhaust the recursion limit).

GET and HEAD requests only read: their SQLite transactions begin deferred (see
``website.database.read_only_transactions``) and end with the request.
"""

from __future__ import annotations

import json
from contextlib import ExitStack
from typing import Any

import flask
import flask_smorest
import marshmallow as ma
from flask import g, request
from webargs import core
from webargs.flaskparser import FlaskParser, is_json_request
from werkzeug.exceptions import BadRequest, UnprocessableEntity, UnsupportedMediaType

from website.database import read_only_transactions
from website.extensions import db
from website.jsonio import NotJSONNumber, loads_standard

__all__ = ["Blueprint", "JSONBodyParser"]

READ_ONLY_METHODS = frozenset({"GET", "HEAD"})
PAGINATION_HEADER_DOC = {
    "description": "Pagination metadata as JSON: total, total_pages, first_page, last_page, "
    "page, previous_page, next_page.",
    "schema": {"type": "string"},
}


class JSONBodyParser(FlaskParser):
    """Parses JSON bodies strictly; every refusal is an HTTP error the API turns into JSON."""

    def load_json(self, req: flask.Request, schema: ma.Schema) -> Any:
        # Reading the body enforces MAX_CONTENT_LENGTH: werkzeug raises 413 here.
        body = req.get_data(cache=True)
        if not body:
            return core.missing
        if not is_json_request(req):
            raise UnsupportedMediaType("Send the body as JSON, with Content-Type: application/json")
        try:
            return loads_standard(body)
        except UnicodeDecodeError:
            raise BadRequest("Malformed JSON: the body is not UTF-8") from None
        except json.JSONDecodeError as error:
            raise BadRequest(f"Malformed JSON: {error}") from None
        except NotJSONNumber as error:
            # JSON with a number it cannot hold (NaN, Infinity, 1e999): readable, but refused.
            raise UnprocessableEntity(f"Unprocessable JSON: {error}") from None
        except (ValueError, RecursionError):
            raise BadRequest("Malformed JSON: a number or nesting too large to read") from None


def _begin_read_only_request() -> None:
    if request.method in READ_ONLY_METHODS:
        g.read_only_transactions = reads = ExitStack()
        reads.enter_context(read_only_transactions())


def _end_read_only_request(_error: BaseException | None) -> None:
    reads: ExitStack | None = g.pop("read_only_transactions", None)
    if reads is not None:
        db.session.rollback()  # end the read snapshot now: a GET never has anything to keep
        reads.close()


class Blueprint(flask_smorest.Blueprint):
    """A flask-smorest blueprint: ``JSONBodyParser`` for bodies, deferred transactions for reads."""

    ARGUMENTS_PARSER = JSONBodyParser()

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.before_request(_begin_read_only_request)
        self.teardown_request(_end_read_only_request)

    def _document_pagination_metadata(self, spec: Any, resp_doc: dict[str, Any]) -> None:
        # The header's value is a JSON string; flask-smorest documents it as the decoded object.
        resp_doc.setdefault("headers", {})[self.PAGINATION_HEADER_NAME] = PAGINATION_HEADER_DOC

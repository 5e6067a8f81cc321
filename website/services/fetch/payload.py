"""A response body's JSON value, parsed strictly, with a sentence saying where it went wrong."""

from __future__ import annotations

import json
from typing import Any

from website.jsonio import NotJSONNumber, loads_standard
from website.services.fetch.request import FetchError

__all__ = ["parse_json"]


def parse_json(body: bytes | bytearray, http_status: int | None = None) -> Any:
    """The JSON value in ``body``, or a ``FetchError`` saying where it went wrong."""

    def invalid(message: str) -> FetchError:
        return FetchError(message, http_status=http_status)

    if not body.strip():
        raise invalid("The response body is empty; expected JSON.")
    try:
        return loads_standard(body)
    except json.JSONDecodeError as error:
        raise invalid(
            f"Invalid JSON at line {error.lineno} column {error.colno}: {error.msg}."
        ) from None
    except UnicodeDecodeError:
        raise invalid("Invalid JSON: the body is not UTF-8 text.") from None
    except NotJSONNumber as error:
        raise invalid(f"Invalid JSON: {error}.") from None
    except RecursionError:
        raise invalid("Invalid JSON: nested too deeply.") from None
    except ValueError:
        raise invalid("Invalid JSON: a number has too many digits.") from None

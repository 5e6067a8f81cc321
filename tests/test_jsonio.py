"""Responses encoded through orjson, and stored JSON text sent as it is."""

from __future__ import annotations

import json

import pytest
from flask import Flask

from website.jsonio import RawJSON


@pytest.mark.parametrize(
    "others",
    [
        {"count": 3},  # orjson writes the response
        {"count": 2**70},  # orjson refuses a 70-bit integer: the standard library writes it
    ],
)
def test_stored_json_text_appears_in_a_response_as_the_value_it_holds(
    app: Flask, others: dict[str, int]
) -> None:
    text = '{"id": 1, "big": 123456789012345678901234567890, "nested": [null, "caf\\u00e9"]}'

    with app.test_request_context():
        response = app.json.response({"records": [RawJSON(text), None], **others})

    assert json.loads(response.get_data()) == {"records": [json.loads(text), None], **others}

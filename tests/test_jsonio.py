"""Responses encoded through orjson, and the standard library where orjson would differ."""

from __future__ import annotations

import json

import pytest
from flask import Flask


@pytest.mark.parametrize(
    "others",
    [
        {"count": 3},  # orjson writes the response
        {"count": 2**70},  # orjson refuses a 70-bit integer: the standard library writes it
    ],
)
def test_a_response_holds_exactly_the_values_it_was_given(
    app: Flask, others: dict[str, int]
) -> None:
    record = {"id": 1, "big": 123456789012345678901234567890, "nested": [None, "caf\u00e9"]}

    with app.test_request_context():
        response = app.json.response({"records": [record, None], **others})

    assert json.loads(response.get_data()) == {"records": [record, None], **others}

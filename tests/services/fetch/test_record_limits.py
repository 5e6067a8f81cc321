"""What a response and its records expression may produce: records counted, bytes bounded."""

from __future__ import annotations

import json
import tracemalloc
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from flask import Flask

from website.services.fetch import FetchError, RecordLimits, extract_records

MIB = 1024 * 1024
FEED = [{"id": number, "name": f"exhibitor {number}", "booth": "A1"} for number in range(20)]
# Each step doubles the output, while the expression stays under 100 characters.
DOUBLING = "|".join(["[@,@]"] * 16)
SMALL = RecordLimits(max_records=1000, max_bytes=1 * MIB)


@pytest.fixture
def peak_memory() -> Iterator[Callable[[], int]]:
    """The most memory Python allocated during the test, in bytes (``tracemalloc``)."""
    tracemalloc.start()
    tracemalloc.reset_peak()
    try:
        yield lambda: tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()


def refusal(payload: Any, parameters: dict[str, Any], limits: RecordLimits = SMALL) -> str:
    with pytest.raises(FetchError) as caught:
        extract_records(payload, parameters, limits)
    assert caught.value.kind == "failed"
    return caught.value.message


def test_a_feed_with_more_records_than_the_limit_fails_before_any_record_is_built(
    peak_memory: Callable[[], int],
) -> None:
    payload = [0] * 300_000  # what a 600 KB body of tiny records parses to
    before = peak_memory()

    message = refusal(payload, {}, RecordLimits(max_records=100_000))

    assert message == "Too many records: more than 100000 (FETCH_MAX_RECORDS)."
    assert peak_memory() - before < 64 * 1024  # no record, document or hash was built


def test_an_expression_selecting_more_records_than_the_limit_fails() -> None:
    message = refusal({"items": list(range(1001))}, {"records": "items"})

    assert message == "Too many records: more than 1000 (FETCH_MAX_RECORDS)."


def test_records_at_the_limit_are_kept() -> None:
    records = extract_records(list(range(1000)), {}, SMALL)

    assert len(records) == 1000


@pytest.mark.parametrize(
    "expression",
    [
        DOUBLING,  # shares one value ever more often: little memory, a huge text
        "|".join(["[@,@][]"] * 16),  # flattens: the list itself doubles
        "[*].{a: @, b: @, c: @, d: @}|" * 6 + "@",  # objects holding the element four times
        f"to_string({DOUBLING})",  # serialises inside the expression
        "join('', [@,@])|" * 30 + "@",  # a string that doubles
    ],
    ids=["shared", "flatten", "objects", "to_string", "join"],
)
def test_an_expression_that_multiplies_its_output_fails_within_a_bounded_memory(
    expression: str, peak_memory: Callable[[], int]
) -> None:
    payload = "x" * 100 if "join" in expression else FEED
    before = peak_memory()

    message = refusal(payload, {"records": expression})

    assert "more than 1 MiB" in message
    assert "(FETCH_MAX_RECORDS_BYTES)" in message
    assert peak_memory() - before < 4 * SMALL.max_bytes


def test_a_large_literal_repeated_for_every_element_counts_against_the_byte_limit() -> None:
    literal = json.dumps("x" * 900)
    limits = RecordLimits(max_records=1000, max_bytes=64 * 1024)

    message = refusal(list(range(100)), {"records": f"[*].[`{literal}`]"}, limits)

    assert "more than 64 KiB" in message


@pytest.mark.parametrize("parameters", [{}, {"records": "[*]"}, {"records": "[*].{t: text}"}])
def test_records_whose_json_passes_the_byte_limit_fail(parameters: dict[str, Any]) -> None:
    payload = [{"id": number, "text": "x" * 1100} for number in range(1000)]  # ~1.1 MB as JSON

    message = refusal(payload, parameters)

    assert (
        message == "The records are too large: more than 1 MiB as JSON (FETCH_MAX_RECORDS_BYTES)."
    )


def test_a_legitimate_reshaping_expression_stays_within_the_limits() -> None:
    payload = {
        "data": {"items": [{"id": n, "name": f"n{n}", "tags": ["a", "b"]} for n in range(999)]}
    }

    records = extract_records(
        payload, {"records": "data.items[?id > `10`].{id: id, label: name, tags: tags[]}"}, SMALL
    )

    assert len(records) == 988
    assert records[0].payload == {"id": 11, "label": "n11", "tags": ["a", "b"]}


def test_the_limits_come_from_the_configuration(app: Flask) -> None:
    app.config["FETCH_MAX_RECORDS"] = 2

    with pytest.raises(FetchError) as caught:
        extract_records([1, 2, 3], {})

    assert caught.value.message == "Too many records: more than 2 (FETCH_MAX_RECORDS)."
    app.config["FETCH_MAX_RECORDS_BYTES"] = 8
    with pytest.raises(FetchError, match=r"more than 8 bytes as JSON \(FETCH_MAX_RECORDS_BYTES\)"):
        extract_records(["abcd", "efgh"], {})


@pytest.mark.parametrize("expression", ["!" * 999, "[" * 330])
def test_an_expression_nested_too_deeply_fails_the_job_with_a_message(expression: str) -> None:
    message = refusal({"a": []}, {"records": expression})

    assert message.startswith("Records expression: ")
    assert "nested too deeply" in message


def test_a_record_nested_too_deeply_to_serialise_fails_the_job() -> None:
    nested: list[Any] = []
    for _ in range(100_000):
        nested = [nested]

    message = refusal([nested], {})

    assert message == "A record is nested too deeply to store."


def test_a_number_json_cannot_hold_fails_the_job() -> None:
    message = refusal(json.loads("[1e400]"), {})  # Python reads it as infinity

    assert message == "A record holds a number JSON cannot represent (Infinity or NaN)."

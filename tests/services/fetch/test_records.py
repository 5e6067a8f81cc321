"""Records: selection with JMESPath, keys and hashes, and added/changed/removed counts."""

from __future__ import annotations

import json
from typing import Any

import pytest
from flask import Flask
from hypothesis import given
from hypothesis import strategies as st

from tests.support.http_server import LocalHTTPServer, Reply
from website.services.fetch import (
    FetchError,
    FetchRequest,
    RecordChanges,
    compile_records_expression,
    diff_records,
    extract_records,
    fetch,
)
from website.services.fetch.canonical import canonical_json, canonical_size, content_hash

EXPO = {
    "exhibitors": {
        "items": [
            {"id": 7, "name": "Acme", "booth": "A1"},
            {"id": 8, "name": "Globex", "booth": "B2"},
        ],
        "count": 2,
    }
}


def keys(records: list[Any]) -> list[str | None]:
    return [record.key for record in records]


def test_a_list_response_is_the_records_keyed_by_id() -> None:
    records = extract_records([{"id": 1, "v": "a"}, {"id": "x-2", "v": "b"}], {})

    assert keys(records) == ["1", "x-2"]
    assert [record.payload for record in records] == [{"id": 1, "v": "a"}, {"id": "x-2", "v": "b"}]


def test_an_object_response_is_one_record() -> None:
    [record] = extract_records({"id": 3, "status": "ok"}, {})

    assert (record.key, record.payload) == ("3", {"id": 3, "status": "ok"})


@pytest.mark.parametrize(
    ("expression", "expected"),
    [
        ("exhibitors.items", ["Acme", "Globex"]),
        ("exhibitors.items[?booth=='B2']", ["Globex"]),
        ("exhibitors.items[0]", ["Acme"]),
        ("exhibitors.items | reverse(@)", ["Globex", "Acme"]),
    ],
)
def test_a_records_expression_selects_the_list(expression: str, expected: list[str]) -> None:
    records = extract_records(EXPO, {"records": expression})

    assert [record.payload["name"] for record in records] == expected


def test_record_key_names_the_identifying_field() -> None:
    records = extract_records(EXPO, {"records": "exhibitors.items", "record_key": "booth"})

    assert keys(records) == ["A1", "B2"]


@pytest.mark.parametrize(
    ("value", "key"),
    [
        (7, "7"),
        ("7", "7"),
        (True, "true"),
        (1.5, "1.5"),
        ({"b": 1, "a": 2}, '{"a": 2, "b": 1}'),
    ],
)
def test_keys_are_text(value: Any, key: str) -> None:
    [record] = extract_records([{"id": value}], {})

    assert record.key == key


def test_records_without_a_key_are_keyed_by_their_content() -> None:
    records = extract_records(["a", {"name": "no id"}, {"id": None}], {})

    assert keys(records) == [record.content_hash for record in records]


def test_a_key_too_long_to_store_is_stored_as_its_hash() -> None:
    [record] = extract_records([{"id": "k" * 300}], {})

    assert record.key is not None
    assert record.key.startswith("sha256:")
    assert len(record.key) == len("sha256:") + 64


def test_the_content_hash_ignores_key_order_and_spacing_but_not_values() -> None:
    assert content_hash({"a": 1, "b": [1, 2]}) == content_hash({"b": [1, 2], "a": 1})
    assert content_hash({"a": 1}) != content_hash({"a": 2})
    assert content_hash({"a": 1}) != content_hash({"a": "1"})
    assert content_hash({"s": "\ud800"})  # a lone surrogate from JSON still hashes


# What json.loads can return: any text (lone surrogates included), any integer, finite floats.
JSON_TEXT = st.text() | st.builds(lambda a, b: a + "\ud800" + b, st.text(), st.text())
JSON_VALUES = st.recursive(
    st.none()
    | st.booleans()
    | st.integers()
    | st.floats(allow_nan=False, allow_infinity=False)
    | JSON_TEXT,
    lambda children: st.lists(children) | st.dictionaries(JSON_TEXT, children),
    max_leaves=40,
)


@given(JSON_VALUES)
def test_the_canonical_text_is_json_dumps_with_sorted_keys_no_spaces_and_ascii(value: Any) -> None:
    expected = json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=True)

    assert canonical_json(value) == expected
    [record] = extract_records([value], {})
    assert record.document == expected


@given(JSON_VALUES, st.integers(min_value=0, max_value=200))
def test_the_canonical_size_is_the_length_of_the_canonical_text_up_to_the_limit(
    value: Any, limit: int
) -> None:
    shared = [value, {"again": value}, [value]]  # one part held several times, as [@, @] does
    length = len(canonical_json(shared))

    size = canonical_size(shared, limit)

    assert size == length if length <= limit else size > limit


def test_content_hashes_are_those_of_the_rows_already_stored() -> None:
    value = {
        "id": 7,
        "name": "caf\u00e9 \u2603 \U0001f600",
        "n": [1, 2.5, -0.0, 1e16, 10**30, None, True, False],
        "nested": {"b": {}, "a": []},
        "s": '\ud800"\\\n\x01',
    }

    assert canonical_json(value) == (
        '{"id":7,"n":[1,2.5,-0.0,1e+16,1000000000000000000000000000000,null,true,false],'
        '"name":"caf\\u00e9 \\u2603 \\ud83d\\ude00","nested":{"a":[],"b":{}},'
        '"s":"\\ud800\\"\\\\\\n\\u0001"}'
    )
    assert content_hash(value) == "69e817466b2f37cfdcbcb73475b4e5f271ab1c8336023a671c6c0f541cf7f0c6"


@pytest.mark.parametrize(
    ("expression", "message"),
    [
        ("exhibitors.missing", "Records expression selected nothing in this response."),
        ("length(exhibitors.count)", "Records expression failed: length() got a number."),
        ("exhibitors.items[", "Records expression: Invalid JMESPath expression at column 18."),
    ],
)
def test_a_failing_records_expression_fails_the_fetch(expression: str, message: str) -> None:
    with pytest.raises(FetchError) as caught:
        extract_records(EXPO, {"records": expression})

    assert caught.value.message == message


def test_expressions_can_be_checked_before_a_task_is_saved() -> None:
    assert compile_records_expression("items[*].id").search({"items": [{"id": 1}]}) == [1]
    with pytest.raises(ValueError, match="at column 7"):
        compile_records_expression("items[")


def hashes(payload: list[dict[str, Any]]) -> dict[str, str]:
    return {str(record.key): record.content_hash for record in extract_records(payload, {})}


@pytest.mark.parametrize(
    ("before", "after", "changes"),
    [
        ([], [{"id": 1}, {"id": 2}], RecordChanges(2, 0, 0)),
        ([{"id": 1}, {"id": 2}], [{"id": 1}, {"id": 2}], RecordChanges(0, 0, 0)),
        ([{"id": 1, "v": "a"}], [{"id": 1, "v": "b"}], RecordChanges(0, 1, 0)),
        ([{"id": 1}, {"id": 2}], [{"id": 2}], RecordChanges(0, 0, 1)),
        (
            [{"id": 1, "v": 1}, {"id": 2, "v": 1}, {"id": 3, "v": 1}],
            [{"id": 2, "v": 2}, {"id": 3, "v": 1}, {"id": 4, "v": 1}, {"id": 5, "v": 1}],
            RecordChanges(2, 1, 1),
        ),
        ([{"id": 1}], [], RecordChanges(0, 0, 1)),
    ],
)
def test_counts_added_changed_and_removed_records(
    before: list[dict[str, Any]], after: list[dict[str, Any]], changes: RecordChanges
) -> None:
    assert diff_records(hashes(before), extract_records(after, {})) == changes


def test_counts_changes_between_two_fetches_of_a_changing_feed(
    app: Flask, http_server: LocalHTTPServer
) -> None:
    versions = iter(
        [
            {"data": [{"id": 1, "price": 10}, {"id": 2, "price": 20}, {"id": 3, "price": 30}]},
            {"data": [{"id": 1, "price": 10}, {"id": 2, "price": 25}, {"id": 4, "price": 40}]},
        ]
    )
    http_server.route("/prices", lambda _request: Reply(200, json.dumps(next(versions)).encode()))
    parameters = {"records": "data"}

    first = extract_records(fetch(FetchRequest(http_server.url("/prices"))).payload, parameters)
    second = extract_records(fetch(FetchRequest(http_server.url("/prices"))).payload, parameters)

    assert diff_records({}, first) == RecordChanges(3, 0, 0)
    previous = {str(record.key): record.content_hash for record in first}
    assert diff_records(previous, second) == RecordChanges(added=1, changed=1, removed=1)

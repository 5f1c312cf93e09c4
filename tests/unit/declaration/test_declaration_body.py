"""The request body before the schema: size, encoding, JSON, floats, duplicate keys, top level.

Strategy: raw bytes through `parse_json_body` (and `validate_body` for the whole intake),
asserting the error class the HTTP edge maps (BodyTooLarge 413, MalformedBody 400,
DeclarationInvalid 422) and each problem's pointer and message.
"""

from __future__ import annotations

import json
from typing import Any

import pytest

from services.declaration.domain.validation import DeclarationInvalid, Problem
from services.declaration.intake import (
    MAX_BODY_BYTES,
    BodyTooLarge,
    MalformedBody,
    parse_json_body,
)

from .support import SAMPLE_DOCUMENT, encode, only_problem, problems_of


def test_the_sample_body_parses_to_a_plain_mapping() -> None:
    assert parse_json_body(encode(SAMPLE_DOCUMENT)) == SAMPLE_DOCUMENT


def test_the_sample_body_validates(validate_bytes: Any) -> None:
    assert validate_bytes(encode(SAMPLE_DOCUMENT)).lrn == "ACME-2026-000123"


def test_floats_are_refused_with_their_pointers() -> None:
    body = b'{"freight": 120.0, "items": [{"value": 1.5e3}, {"quantity": -2.5}]}'
    problems = problems_of(lambda: parse_json_body(body))
    assert [p.pointer for p in problems] == ["/freight", "/items/0/value", "/items/1/quantity"]
    assert 'decimal strings, e.g. "120.0"' in problems[0].message
    assert 'e.g. "1500"' in problems[1].message


def test_nan_and_infinity_are_refused() -> None:
    problems = problems_of(lambda: parse_json_body(b'{"a": NaN, "b": [Infinity, -Infinity]}'))
    assert [p.pointer for p in problems] == ["/a", "/b/0", "/b/1"]


def test_a_float_in_the_sample_is_refused_before_the_schema(validate_bytes: Any) -> None:
    body = encode(SAMPLE_DOCUMENT).replace(b'"gross_mass_kg": "26.0"', b'"gross_mass_kg": 26.0')
    problem = only_problem(lambda: validate_bytes(body))
    assert problem.pointer == "/gross_mass_kg"
    assert "refused" in problem.message and "decimal strings" in problem.message


def test_integers_pass_the_parser_and_are_refused_by_the_schema(validate_bytes: Any) -> None:
    document = json.loads(json.dumps(SAMPLE_DOCUMENT))
    document["items"][0]["quantity"] = 100
    problem = only_problem(lambda: validate_bytes(encode(document)))
    assert problem.pointer == "/items/0/quantity"


def test_duplicate_keys_are_refused() -> None:
    body = b'{"lrn": "A", "importer": {"name": "X", "name": "Y"}, "lrn": "B"}'
    problems = problems_of(lambda: parse_json_body(body))
    assert [p.pointer for p in problems] == ["/lrn", "/importer/name"]
    assert "'lrn' appears more than once" in problems[0].message


def test_duplicate_keys_inside_items_are_refused() -> None:
    body = b'{"items": [{"a": 1}, {"hs_code": "1", "hs_code": "2"}]}'
    problem = only_problem(lambda: parse_json_body(body))
    assert problem.pointer == "/items/1/hs_code"


@pytest.mark.parametrize("body", [b"[]", b'"text"', b"42", b"null", b"[{}]"])
def test_a_non_object_is_refused(body: bytes) -> None:
    with pytest.raises(DeclarationInvalid) as caught:
        parse_json_body(body)
    assert not isinstance(caught.value, MalformedBody)
    assert caught.value.problems[0] == Problem(
        "", "The declaration document must be a JSON object ({...})."
    )


def test_a_non_object_is_refused_by_validate_document(validate: Any) -> None:
    problem = only_problem(lambda: validate(["not", "an", "object"]))
    assert problem.pointer == ""
    assert "JSON object" in problem.message


def test_an_oversize_body_is_refused() -> None:
    body = b" " * (MAX_BODY_BYTES + 1)
    with pytest.raises(BodyTooLarge) as caught:
        parse_json_body(body)
    problem = caught.value.problems[0]
    assert problem.pointer == ""
    assert "1,048,577 bytes; the limit is 1,048,576 bytes" in problem.message


def test_a_body_of_exactly_the_limit_is_read() -> None:
    body = encode(SAMPLE_DOCUMENT)
    body = body + b" " * (MAX_BODY_BYTES - len(body))
    assert len(body) == MAX_BODY_BYTES
    assert parse_json_body(body)["lrn"] == "ACME-2026-000123"


def test_the_limit_is_a_parameter() -> None:
    with pytest.raises(BodyTooLarge):
        parse_json_body(b'{"a": "12345"}', max_bytes=10)


@pytest.mark.parametrize("body", [b"", b"{", b'{"a": }', b"{'a': 1}", b'{"a": 1} x'])
def test_invalid_json_is_malformed(body: bytes) -> None:
    with pytest.raises(MalformedBody) as caught:
        parse_json_body(body)
    assert caught.value.problems[0].pointer == ""
    assert caught.value.problems[0].message.startswith("The body is not valid JSON: ")


def test_a_body_that_is_not_utf8_is_malformed() -> None:
    with pytest.raises(MalformedBody) as caught:
        parse_json_body('{"name": "Société"}'.encode("latin-1"))
    assert "not UTF-8" in caught.value.problems[0].message


def test_deep_nesting_is_malformed_not_a_crash() -> None:
    body = b"[" * 200_000 + b"]" * 200_000
    with pytest.raises(MalformedBody) as caught:
        parse_json_body(body)
    assert "nested too deeply" in caught.value.problems[0].message


def test_unicode_text_is_kept() -> None:
    assert parse_json_body('{"name": "Société 深圳"}'.encode())["name"] == "Société 深圳"

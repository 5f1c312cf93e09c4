"""The shared JSON body reader (`shared.web.json_body`, used by the risk, payment and release
routes) refuses hostile input with a 4xx problem, never an error that would be a 500 (issue 15,
"Hostile input"): NaN and infinities, integers too long to be anything a route takes (Python
itself refuses past 4,300 digits with a ValueError), nesting deeper than any body needs,
duplicate keys, floats, and anything but an object."""

from __future__ import annotations

import pytest
from werkzeug.wrappers import Request

from shared.web import Problem, json_body
from shared.web.entrypoint import MAX_DEPTH, MAX_INTEGER_DIGITS


def body(data: bytes) -> Request:
    return Request.from_values(data=data, content_type="application/json", method="POST")


def status_of(data: bytes) -> int:
    with pytest.raises(Problem) as refused:
        json_body(body(data))
    assert refused.value.detail
    return refused.value.status


def test_a_plain_object_is_read() -> None:
    assert json_body(body(b'{"mrn": "X", "amount": "1.00", "pct": 50, "n": [1, {"a": null}]}')) \
        == {"mrn": "X", "amount": "1.00", "pct": 50, "n": [1, {"a": None}]}


@pytest.mark.parametrize("data", [b'{"a": NaN}', b'{"a": Infinity}', b'{"a": [-Infinity]}'])
def test_nan_and_infinities_are_refused(data: bytes) -> None:
    assert status_of(data) == 422


def test_integers_are_bounded() -> None:
    assert json_body(body(b'{"a": ' + b"9" * MAX_INTEGER_DIGITS + b"}"))["a"] > 0
    assert status_of(b'{"a": ' + b"9" * (MAX_INTEGER_DIGITS + 1) + b"}") == 422
    assert status_of(b'{"a": -' + b"1" * 5000 + b"}") == 422  # past Python's own limit


def test_deep_nesting_is_refused() -> None:
    assert json_body(body(b'{"a": ' + b"[" * (MAX_DEPTH - 1) + b"]" * (MAX_DEPTH - 1) + b"}"))
    assert status_of(b'{"a": ' + b"[" * MAX_DEPTH + b"]" * MAX_DEPTH + b"}") == 400
    assert status_of(b'{"a": ' + b"[" * 100_000 + b"]" * 100_000 + b"}") == 400


@pytest.mark.parametrize("data, status", [
    (b'{"a": 1, "a": 2}', 422), (b'{"a": 1.5}', 422), (b"[1]", 422), (b"null", 422),
    (b"{", 400), (b"\xff", 400)])
def test_other_refusals(data: bytes, status: int) -> None:
    assert status_of(data) == status

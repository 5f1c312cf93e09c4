"""The JSON Schema patterns the OpenAPI documents publish for amounts and version numbers
(`shared.web.fields`): what each matches, checked with Python's `re` (the patterns use only
syntax that ECMA-262 reads the same way)."""

from __future__ import annotations

import re

import pytest

from shared.web.fields import nonzero_digits_pattern, positive_amount_pattern


@pytest.mark.parametrize(("text", "matches"), [
    ("1", True), ("007", True), ("120", True), ("999999999", True), ("000000001", True),
    ("0", False), ("000", False), ("1000000000", False), ("", False), ("-1", False),
])
def test_nonzero_digits(text: str, matches: bool) -> None:
    assert bool(re.fullmatch(f"(?:{nonzero_digits_pattern(9)})", text)) is matches


@pytest.mark.parametrize(("places", "text", "matches"), [
    (2, "12.50", True), (2, "0.01", True), (2, "0.10", True), (2, "1", True),
    (2, "999999999999999.99", True),
    (2, "0", False), (2, "0.00", False), (2, "1.234", False), (2, "1.", False),
    (2, ".5", False), (2, "1000000000000000", False), (2, "-1", False), (2, "1e3", False),
    (0, "125", True), (0, "0", False), (0, "1.5", False),
    (3, "0.001", True), (3, "0.000", False),
])
def test_positive_amount(places: int, text: str, matches: bool) -> None:
    pattern = re.compile(positive_amount_pattern(places))
    assert bool(pattern.search(text)) is matches

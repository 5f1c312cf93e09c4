"""Shared marshmallow fields of the HTTP edge."""

from __future__ import annotations

import re
from collections.abc import Mapping
from datetime import date
from decimal import Decimal
from typing import Any

from marshmallow import fields

MAX_INTEGER_DIGITS = 15
MAX_DECIMAL_PLACES = 6


class DecimalString(fields.Field[Decimal]):
    """An exact, non-negative decimal given as a string: "0", "12", "12.50".

    Refused: JSON numbers (floats especially), signs, exponents, NaN and Infinity, leading or
    trailing dots, spaces, and more than MAX_INTEGER_DIGITS digits before the point or
    MAX_DECIMAL_PLACES after it.
    """

    _PATTERN = re.compile(r"([0-9]+)(?:\.([0-9]+))?", re.ASCII)

    default_error_messages = {
        "required": "This field is required.",
        "null": "This field may not be null.",
        "float": (
            'Give this value as a decimal string, e.g. "12.50", not as a JSON number: '
            "numbers with a fraction are read as binary floats, which are not exact."
        ),
        "number": 'Give this value as a decimal string, e.g. "12", not as a JSON number.',
        "type": 'Must be a decimal string, e.g. "12.50".',
        "negative": "Must not be negative ({input} given).",
        "format": (
            'Not a decimal: {input!r}; use digits with an optional "." and fraction, '
            'e.g. "1250.00" (no signs, spaces, exponents or thousands separators).'
        ),
        "digits": (
            "Too many digits in {input!r}: at most {integer} before the decimal point and "
            "{places} after it."
        ),
    }

    def __init__(
        self,
        *,
        max_integer_digits: int = MAX_INTEGER_DIGITS,
        max_places: int = MAX_DECIMAL_PLACES,
        **kwargs: Any,
    ) -> None:
        kwargs.setdefault("required", True)
        super().__init__(**kwargs)
        self.max_integer_digits = max_integer_digits
        self.max_places = max_places

    def _deserialize(
        self, value: Any, attr: str | None, data: Mapping[str, Any] | None, **kwargs: Any
    ) -> Decimal:
        if isinstance(value, float):
            raise self.make_error("float")
        if isinstance(value, int) and not isinstance(value, bool):
            raise self.make_error("number")
        if not isinstance(value, str):
            raise self.make_error("type")
        if value.startswith("-"):
            raise self.make_error("negative", input=value)
        match = self._PATTERN.fullmatch(value)
        if match is None:
            raise self.make_error("format", input=value)
        integer, fraction = match.group(1), match.group(2) or ""
        if len(integer.lstrip("0")) > self.max_integer_digits or len(fraction) > self.max_places:
            raise self.make_error(
                "digits", input=value, integer=self.max_integer_digits, places=self.max_places
            )
        return Decimal(value)

    def _serialize(self, value: Decimal | None, attr: str | None, obj: Any, **kwargs: Any) -> Any:
        return None if value is None else format(value, "f")

    def json_schema(self) -> dict[str, Any]:
        """What the OpenAPI document says of it (shared.web.openapi): the same rule."""
        return {"type": "string", "pattern": f"^0*[0-9]{{1,{self.max_integer_digits}}}"
                                             f"(?:[.][0-9]{{1,{self.max_places}}})?$",
                "example": "12.50"}


class IsoDate(fields.Field[date]):
    """A calendar date as `YYYY-MM-DD` (nothing else: no times, week dates or basic format)."""

    _PATTERN = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}", re.ASCII)

    default_error_messages = {
        "required": "This field is required.",
        "null": "This field may not be null.",
        "invalid": 'Not a date: {input!r}; use YYYY-MM-DD, e.g. "2026-03-01".',
    }

    def _deserialize(
        self, value: Any, attr: str | None, data: Mapping[str, Any] | None, **kwargs: Any
    ) -> date:
        if not isinstance(value, str) or not self._PATTERN.fullmatch(value):
            raise self.make_error("invalid", input=value)
        try:
            return date.fromisoformat(value)
        except ValueError:
            raise self.make_error("invalid", input=value) from None

    def _serialize(self, value: date | None, attr: str | None, obj: Any, **kwargs: Any) -> Any:
        return None if value is None else value.isoformat()

    def json_schema(self) -> dict[str, Any]:
        return {"type": "string", "format": "date", "pattern": "^[0-9]{4}-[0-9]{2}-[0-9]{2}$"}


#: Free text: no control characters (tabs, line breaks...), and not blank (at least one
#: character that is neither a control character nor white space as `str.strip` sees it),
#: for the JSON Schema of a field that refuses those (ECMA-262 and Python `re` alike).
_CONTROL = r"\x00-\x1f\x7f-\x9f"
_SPACE = r"\x20\xa0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000"
TEXT_PATTERN = f"^[^{_CONTROL}]*[^{_CONTROL}{_SPACE}][^{_CONTROL}]*$"
#: Not blank: at least one character that `str.strip` keeps (control characters allowed).
_WHITESPACE = r"\t\n\x0b\x0c\r\x1c-\x20\x85\xa0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000"
NOT_BLANK_PATTERN = f"^[\\s\\S]*[^{_WHITESPACE}]"


def nonzero_digits_pattern(length: int) -> str:
    """An ECMA-262 alternation matching a string of 1 to `length` digits that is not all
    zeros (leading zeros allowed): "7", "007", "120"; not "0" nor "000"."""
    return "|".join(f"0{{{k}}}[1-9][0-9]{{0,{length - 1 - k}}}" for k in range(length))


def positive_amount_pattern(places: int, integer_digits: int = MAX_INTEGER_DIGITS) -> str:
    """The JSON Schema pattern of a positive decimal string with at most `integer_digits`
    digits before the point and `places` after it (a currency's minor units): not zero."""
    fraction = f"|0+[.](?:{nonzero_digits_pattern(places)})" if places else ""
    point = f"(?:[.][0-9]{{1,{places}}})?" if places else ""
    return f"^(?:0*[1-9][0-9]{{0,{integer_digits - 1}}}{point}{fraction})$"

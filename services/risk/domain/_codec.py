"""Exact JSON-ready encodings shared by the risk domain: decimals as strings, ISO dates."""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal, InvalidOperation
from typing import Any

from .errors import InvalidRecord


def decimal_text(value: Decimal) -> str:
    """Plain (never scientific) text of a decimal: `Decimal("1E+2")` -> `"100"`."""
    return format(value, "f")


def to_decimal(value: Any, where: str, error: type[Exception] = InvalidRecord) -> Decimal:
    """A finite decimal from a string, an int or a Decimal. Floats are refused (not exact)."""
    if isinstance(value, bool) or isinstance(value, float):
        raise error(f"{where}: expected a decimal string, got {value!r}")
    if isinstance(value, Decimal):
        result = value
    elif isinstance(value, int | str):
        try:
            result = Decimal(value)
        except InvalidOperation:
            raise error(f"{where}: {value!r} is not a decimal") from None
    else:
        raise error(f"{where}: expected a decimal string, got {value!r}")
    if not result.is_finite():
        raise error(f"{where}: {value!r} is not a finite decimal")
    return result


def to_int(value: Any, where: str, error: type[Exception] = InvalidRecord) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise error(f"{where}: expected an integer, got {value!r}")
    return value


def to_str(value: Any, where: str, error: type[Exception] = InvalidRecord) -> str:
    if not isinstance(value, str) or not value:
        raise error(f"{where}: expected a non-empty string, got {value!r}")
    return value


def to_date(value: Any, where: str, error: type[Exception] = InvalidRecord) -> date:
    """A calendar date from a `date` (YAML gives those) or an ISO `YYYY-MM-DD` string."""
    if isinstance(value, datetime):
        raise error(f"{where}: expected a date, got a date-time {value!r}")
    if isinstance(value, date):
        return value
    if isinstance(value, str):
        try:
            return date.fromisoformat(value)
        except ValueError:
            raise error(f"{where}: {value!r} is not an ISO date") from None
    raise error(f"{where}: expected an ISO date, got {value!r}")


def to_optional_date(value: Any, where: str, error: type[Exception] = InvalidRecord) -> date | None:
    if value is None or value == "":
        return None
    return to_date(value, where, error)

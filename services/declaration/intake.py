"""The intake of a lodged declaration: bytes -> JSON -> shape (schema) -> business rules.

The service calls `validate_body(body, ...)` for an HTTP request body, or
`validate_document(raw, ...)` for an already decoded mapping (RPC); both return a typed
`Declaration` or raise `DeclarationInvalid` with every problem as `(pointer, message)`.

Stages, each reporting all its problems at once:

1. `parse_json_body`: at most `MAX_BODY_BYTES`, UTF-8 JSON, no duplicate keys, no JSON numbers
   with a fraction or exponent (they would be floats), and an object at the top.
2. The schema (`services.declaration.schemas`): types, formats, required and unknown fields.
3. The rules (`services.declaration.domain.validation`), which need a well-formed document,
   so a document with shape problems reports only those.

Errors for the HTTP edge's mapping table: `BodyTooLarge` (413), `MalformedBody` (400: not
UTF-8 or not JSON at all), and their base `DeclarationInvalid` (422) for everything else.
"""

from __future__ import annotations

import json
from collections.abc import Collection, Mapping
from datetime import date
from decimal import Decimal
from typing import Any

from .domain.declaration import MAX_ITEMS, Declaration
from .domain.validation import (
    DEFAULT_PROOF_OF_ORIGIN_TYPES,
    DeclarationInvalid,
    MeasureLookup,
    Problem,
    RateLookup,
    TariffLookup,
    check_declaration,
    pointer,
)
from .schemas import load_declaration

#: The largest request body accepted (1 MiB): 999 items of about 1 KiB each fit.
MAX_BODY_BYTES = 1024 * 1024

NOT_AN_OBJECT = "The declaration document must be a JSON object ({...})."


class MalformedBody(DeclarationInvalid):
    """The body is not UTF-8 JSON at all."""


class BodyTooLarge(DeclarationInvalid):
    """The body is larger than the limit."""


class _Float:
    """Stands in for a JSON number with a fraction or exponent until it is reported."""

    __slots__ = ("text",)

    def __init__(self, text: str) -> None:
        self.text = text


class _DuplicateKeys(dict[str, Any]):
    """A JSON object in which some keys appeared more than once (the last value is kept)."""

    duplicates: list[str]


def _object(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    result: dict[str, Any] = {}
    duplicates: list[str] = []
    for key, value in pairs:
        if key in result and key not in duplicates:
            duplicates.append(key)
        result[key] = value
    if duplicates:
        marked = _DuplicateKeys(result)
        marked.duplicates = duplicates
        return marked
    return result


def _refused_constant(name: str) -> _Float:
    return _Float(name)  # NaN, Infinity, -Infinity: not JSON, refused like floats


def parse_json_body(body: bytes, *, max_bytes: int = MAX_BODY_BYTES) -> dict[str, Any]:
    """The JSON object in `body`, or `DeclarationInvalid` (see the module docstring)."""
    if len(body) > max_bytes:
        raise BodyTooLarge(
            [
                Problem(
                    "",
                    f"The body is {len(body):,} bytes; the limit is {max_bytes:,} bytes. "
                    "Split the consignment over several declarations.",
                )
            ]
        )
    try:
        text = bytes(body).decode("utf-8")
    except UnicodeDecodeError as error:
        raise MalformedBody(
            [Problem("", f"The body is not UTF-8 text (byte {error.start} is invalid).")]
        ) from None
    try:
        value: Any = json.loads(
            text,
            parse_float=_Float,
            parse_constant=_refused_constant,
            object_pairs_hook=_object,
        )
    except RecursionError:
        raise MalformedBody([Problem("", "The body is nested too deeply.")]) from None
    except ValueError as error:
        raise MalformedBody([Problem("", f"The body is not valid JSON: {error}.")]) from None
    problems = _refused_values(value)
    if not isinstance(value, dict):
        problems.insert(0, Problem("", NOT_AN_OBJECT))
    if problems:
        raise DeclarationInvalid(problems)
    document: dict[str, Any] = value
    return document


def _refused_values(value: Any) -> list[Problem]:
    """Floats and duplicate keys anywhere in a decoded value, in document order."""
    problems: list[Problem] = []
    stack: list[tuple[Any, tuple[str | int, ...]]] = [(value, ())]
    while stack:
        current, tokens = stack.pop()
        if isinstance(current, _Float):
            problems.append(
                Problem(
                    pointer(*tokens),
                    f"The JSON number {current.text} is refused: give amounts, masses and "
                    f'quantities as decimal strings, e.g. "{_suggest(current.text)}", so that '
                    "no value is rounded.",
                )
            )
        elif isinstance(current, dict):
            for key in getattr(current, "duplicates", ()):
                problems.append(
                    Problem(
                        pointer(*tokens, key),
                        f"The key {key!r} appears more than once in this object; "
                        "give each field once.",
                    )
                )
            stack.extend((v, (*tokens, k)) for k, v in reversed(current.items()))
        elif isinstance(current, list):
            stack.extend((v, (*tokens, i)) for i, v in reversed(list(enumerate(current))))
    return problems


def _suggest(text: str) -> str:
    """The decimal string to send instead of a JSON number (`1e3` -> `1000`)."""
    try:
        number = Decimal(text)
    except ArithmeticError:
        return "12.50"
    return format(number, "f") if number.is_finite() else "12.50"


def validate_document(
    raw: Mapping[str, Any],
    *,
    on_date: date,
    tariff: TariffLookup,
    countries: Collection[str],
    currencies: Collection[str] | Mapping[str, int],
    max_items: int = MAX_ITEMS,
    proof_of_origin_types: Collection[str] = DEFAULT_PROOF_OF_ORIGIN_TYPES,
    offices: Collection[str] | None = None,
    measures: MeasureLookup | None = None,
    rates: RateLookup | None = None,
) -> Declaration:
    """The validated `Declaration`, or `DeclarationInvalid` with every problem.

    `on_date` is the acceptance date (tariff validity, no later dates); `tariff` answers
    `has_code(hs_code, on_date)`; `countries` are ISO 3166 alpha-2 codes; `currencies` are
    ISO 4217 codes, or a mapping code -> minor units to also bound decimal places of amounts.

    Example::

        declaration = validate_document(
            document, on_date=date(2026, 3, 1), tariff=tariff,
            countries=reference.countries(), currencies=reference.currencies())
    """
    if not isinstance(raw, Mapping):
        raise DeclarationInvalid([Problem("", NOT_AN_OBJECT)])
    declaration = load_declaration(raw, max_items=max_items)
    problems = check_declaration(
        declaration,
        on_date=on_date,
        tariff=tariff,
        countries=countries,
        currencies=currencies,
        max_items=max_items,
        proof_of_origin_types=proof_of_origin_types,
        offices=offices,
        measures=measures,
        rates=rates,
    )
    if problems:
        raise DeclarationInvalid(problems)
    return declaration


def validate_body(
    body: bytes,
    *,
    on_date: date,
    tariff: TariffLookup,
    countries: Collection[str],
    currencies: Collection[str] | Mapping[str, int],
    max_items: int = MAX_ITEMS,
    max_bytes: int = MAX_BODY_BYTES,
    proof_of_origin_types: Collection[str] = DEFAULT_PROOF_OF_ORIGIN_TYPES,
) -> Declaration:
    """`parse_json_body` then `validate_document`: a request body to a `Declaration`."""
    return validate_document(
        parse_json_body(body, max_bytes=max_bytes),
        on_date=on_date,
        tariff=tariff,
        countries=countries,
        currencies=currencies,
        max_items=max_items,
        proof_of_origin_types=proof_of_origin_types,
    )


MAX_REASON = 2000


def amendment_request(body: Mapping[str, Any]) -> tuple[str, dict[str, Any]]:
    """`POST /declarations/{mrn}/amendments`: `{"reason": "...", "document": {the whole
    corrected declaration}}` as (reason, document), or DeclarationInvalid pointing at what is
    wrong (the document's own rules are checked by the amendment, on its acceptance date)."""
    problems = [Problem(f"/{key}", "Unknown field: an amendment has a reason and a document.")
                for key in body if key not in ("reason", "document")]
    reason, document = body.get("reason"), body.get("document")
    if not isinstance(reason, str) or not reason.strip() or len(reason) > MAX_REASON:
        problems.append(Problem("/reason", "Say why the declaration is amended: a text of 1 "
                                f"to {MAX_REASON} characters."))
    if not isinstance(document, dict):
        problems.append(Problem("/document", "The whole corrected declaration, as a JSON "
                                "object."))
    if problems:
        raise DeclarationInvalid(problems)
    assert isinstance(reason, str) and isinstance(document, dict)
    return reason, document


def amended_version(if_match: str | None) -> int | None:
    """The declaration version an amendment is made to, from its `If-Match` header (the
    `declaration_version` a GET showed, quoted as an entity tag or not); None without one.
    DeclarationInvalid when it is not a version number."""
    if if_match is None:
        return None
    text = if_match.strip().removeprefix("W/").strip('"')
    if not text.isascii() or not text.isdigit() or len(text) > 9 or int(text) < 1:
        raise DeclarationInvalid([Problem("If-Match", 'The declaration version you amend, as '
                                          'GET /declarations/{mrn} shows it, e.g. "1".')])
    return int(text)

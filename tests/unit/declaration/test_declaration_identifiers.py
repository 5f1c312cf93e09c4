"""MRN allocation and checking, and the payload fingerprint.

Strategy: property tests (hypothesis) for the MRN: every allocated or formatted MRN matches
the UCC's shape (DOMAIN.md) and validates, HMRC's published sample validates, and a
single-character change of a valid MRN is detected by the ISO 6346 check digit except where
that algorithm cannot tell (values 11 apart, residues 10 and 0). The allocator's uniqueness rests on consecutive serials from
a random start (see `identifiers`), so tests pin the start and check the run has no repeats,
survives a fork by reseeding, and is safe across threads. The fingerprint is checked for
stability under key order, whitespace, decimal trailing zeros and explicit nulls, and for
sensitivity to any change of content.
"""

from __future__ import annotations

import json
import re
import threading
from datetime import date
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from services.declaration.domain import identifiers
from services.declaration.domain.identifiers import (
    ALPHABET,
    SERIAL_SPACE,
    MrnAllocator,
    check_character,
    encode_serial,
    format_mrn,
    is_valid_mrn,
    payload_fingerprint,
    scramble,
)
from services.declaration.intake import parse_json_body

from .support import SAMPLE_DOCUMENT

# year, country, 12 alphanumerics, procedure category letter, check digit
DOMAIN_MRN = re.compile(r"^\d{2}[A-Z]{2}[A-Z0-9]{12}[A-Z]\d$")
HMRC_SAMPLE = "25GB4TNV8LHQQPOAA5"  # HMRC's published sample MRN (an export: A)

years = st.integers(min_value=2000, max_value=2099)
countries = st.text(alphabet="ABCDEFGHIJKLMNOPQRSTUVWXYZ", min_size=2, max_size=2)
serials = st.integers(min_value=0, max_value=SERIAL_SPACE - 1)


@given(years, countries, serials)
def test_every_formatted_mrn_matches_the_pattern_and_validates(
    year: int, country: str, serial: int
) -> None:
    mrn = format_mrn(year, country, serial)
    assert DOMAIN_MRN.fullmatch(mrn)
    assert mrn[:2] == f"{year % 100:02d}" and mrn[2:4] == country
    assert is_valid_mrn(mrn)


@given(st.dates(min_value=date(2000, 1, 1), max_value=date(2099, 12, 31)), countries, serials)
def test_every_allocated_mrn_matches_the_pattern_and_validates(
    on_date: date, country: str, start: int
) -> None:
    allocator = MrnAllocator(random_start=lambda: start)
    for _ in range(3):
        mrn = allocator.allocate(country + "LHR001", on_date)
        assert DOMAIN_MRN.fullmatch(mrn)
        assert mrn.startswith(f"{on_date.year % 100:02d}{country}")
        assert is_valid_mrn(mrn)


def iso6346_value(ch: str) -> int:
    """By the standard's table: digits their own value, A=10, B=12 ... K=21, L=23 ... U=32,
    V=34 ... Z=38."""
    table = dict(zip("ABCDEFGHIJKLMNOPQRSTUVWXYZ",
                     [10, *range(12, 22), *range(23, 33), *range(34, 39)], strict=True))
    return int(ch) if ch.isdigit() else table[ch]


def undetectable(mrn: str, position: int, replacement: str) -> bool:
    """Whether ISO 6346 cannot see this substitution: the weighted sum moves by a multiple
    of 11, or between residues 10 and 0 (both written 0)."""
    if position == 17:
        return False
    old = sum(iso6346_value(c) << i for i, c in enumerate(mrn[:17]))
    new = old + ((iso6346_value(replacement) - iso6346_value(mrn[position])) << position)
    return old % 11 % 10 == new % 11 % 10


@given(
    years,
    countries,
    serials,
    st.integers(min_value=0, max_value=17),
    st.sampled_from(ALPHABET),
)
def test_a_one_character_change_fails_the_check_unless_iso_6346_cannot_see_it(
    year: int, country: str, serial: int, position: int, replacement: str
) -> None:
    mrn = format_mrn(year, country, serial)
    changed = mrn[:position] + replacement + mrn[position + 1 :]
    if changed != mrn:
        assert is_valid_mrn(changed) == (undetectable(mrn, position, replacement)
                                         and bool(DOMAIN_MRN.fullmatch(changed)))


def test_every_substitution_is_detected_except_those_iso_6346_cannot_see() -> None:
    mrn = format_mrn(2026, "GB", 123456789)
    missed = {(p, r) for p in range(18) for r in ALPHABET
              if mrn[p] != r and is_valid_mrn(mrn[:p] + r + mrn[p + 1:])}
    blind = {(p, r) for p in range(18) for r in ALPHABET
             if mrn[p] != r and undetectable(mrn, p, r)
             and DOMAIN_MRN.fullmatch(mrn[:p] + r + mrn[p + 1:])}
    assert missed == blind
    assert len(missed) < 0.15 * 18 * 35  # about one in eleven, as mod 11 gives
    body = "26GB1" + "0" * 11 + "R"
    assert check_character(body) == check_character("26GBB" + "0" * 11 + "R")  # 1 and 12


def test_hmrc_sample_mrn_validates() -> None:
    assert is_valid_mrn(HMRC_SAMPLE)
    assert check_character(HMRC_SAMPLE[:17]) == "5"
    assert not is_valid_mrn(HMRC_SAMPLE[:17] + "4")


def test_check_digit_is_iso_6346() -> None:
    # The standard's own example, the container number CSQU305438 with check digit 3.
    assert check_character("CSQU305438") == "3"
    assert all(check_character(c) in "0123456789" for c in ALPHABET)


def test_the_procedure_category_letter_follows_the_declaration_type() -> None:
    on = date(2026, 3, 1)
    allocator = MrnAllocator(random_start=lambda: 7)
    assert allocator.allocate("GBLHR001", on)[16] == "R"  # an import declaration only
    assert allocator.allocate("GBLHR001", on, "EX")[16] == "A"
    assert allocator.allocate("GBLHR001", on, "TR")[16] == "J"
    with pytest.raises(ValueError):
        format_mrn(2026, "GB", 1, procedure="Q")


@pytest.mark.parametrize(
    "value",
    [None, 26, "", "26GB0000000000000", "26gb00000000000000", "2XGB00000000000000", "26GB0*",
     "26GB00000000000000", "26GB000000000000R"],
)
def test_malformed_mrns_are_invalid(value: Any) -> None:
    assert not is_valid_mrn(value)


def test_a_trailing_newline_is_not_an_mrn() -> None:
    mrn = format_mrn(2026, "GB", 42)
    assert not is_valid_mrn(mrn + "\n")


def test_serials_encode_to_12_base36_digits() -> None:
    assert encode_serial(0) == "0" * 12
    assert encode_serial(SERIAL_SPACE - 1) == "Z" * 12
    with pytest.raises(ValueError):
        encode_serial(SERIAL_SPACE)
    with pytest.raises(ValueError):
        format_mrn(2026, "gb", 1)


def test_scramble_is_a_bijection_on_a_sample() -> None:
    outputs = {scramble(n) for n in range(100_000)}
    assert len(outputs) == 100_000
    assert all(0 <= n < SERIAL_SPACE for n in outputs)


def test_an_allocator_hands_out_consecutive_serials_without_repeats() -> None:
    allocator = MrnAllocator(random_start=lambda: SERIAL_SPACE - 2)  # wraps around
    mrns = [allocator.allocate("GBLHR001", date(2026, 3, 1)) for _ in range(10_000)]
    assert len(set(mrns)) == len(mrns)
    expected = [
        format_mrn(2026, "GB", scramble((SERIAL_SPACE - 2 + i) % SERIAL_SPACE)) for i in range(3)
    ]
    assert mrns[:3] == expected


def test_two_allocators_start_at_random_points() -> None:
    first = MrnAllocator().allocate("GBLHR001", date(2026, 3, 1))
    second = MrnAllocator().allocate("GBLHR001", date(2026, 3, 1))
    assert first != second


def test_an_allocator_reseeds_after_a_fork(monkeypatch: pytest.MonkeyPatch) -> None:
    starts = iter([1000, 5000])
    allocator = MrnAllocator(random_start=lambda: next(starts))
    on = date(2026, 3, 1)
    assert allocator.allocate("GBLHR001", on) == format_mrn(2026, "GB", scramble(1000))
    monkeypatch.setattr(identifiers.os, "getpid", lambda: -42)  # as in a forked child
    assert allocator.allocate("GBLHR001", on) == format_mrn(2026, "GB", scramble(5000))


def test_an_allocator_is_safe_across_threads() -> None:
    allocator = MrnAllocator()
    results: list[str] = []
    lock = threading.Lock()

    def work() -> None:
        mine = [allocator.allocate("DEHAM001", date(2026, 3, 1)) for _ in range(2000)]
        with lock:
            results.extend(mine)

    threads = [threading.Thread(target=work) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(set(results)) == 16_000


# --- fingerprint ------------------------------------------------------------------------------


def fingerprint_of(document: Any, validate: Any) -> str:
    return payload_fingerprint(validate(document))


def test_the_fingerprint_is_stable_under_key_order(validate: Any) -> None:
    reordered = json.loads(json.dumps(SAMPLE_DOCUMENT, sort_keys=True))
    reordered["items"] = [dict(reversed(list(item.items()))) for item in reordered["items"]]
    reversed_top = dict(reversed(list(reordered.items())))
    assert list(reversed_top) != list(SAMPLE_DOCUMENT)
    assert fingerprint_of(reversed_top, validate) == fingerprint_of(SAMPLE_DOCUMENT, validate)


def test_the_fingerprint_is_stable_under_whitespace_zeros_and_explicit_nulls(
    validate: Any, doc: dict[str, Any]
) -> None:
    pretty = parse_json_body(json.dumps(SAMPLE_DOCUMENT, indent=4).encode())
    doc["freight"] = "120.0"
    doc["items"][0]["quantity"] = "100.000"
    del doc["items"][0]["preference"]
    del doc["items"][0]["documents"]
    doc["invoice_date"] = None
    reference = fingerprint_of(SAMPLE_DOCUMENT, validate)
    assert fingerprint_of(pretty, validate) == reference
    assert fingerprint_of(doc, validate) == reference


@pytest.mark.parametrize(
    ("path", "value"),
    [
        (("lrn",), "ACME-2026-000124"),
        (("freight",), "120.01"),
        (("items", 0, "description"), "Smartphones, 256 GB"),
        (("importer", "name"), "Acme Retail Limited"),
        (("invoice_date",), "2026-02-01"),
    ],
)
def test_the_fingerprint_changes_with_the_content(
    validate: Any, doc: dict[str, Any], path: tuple[Any, ...], value: str
) -> None:
    target: Any = doc
    for token in path[:-1]:
        target = target[token]
    target[path[-1]] = value
    assert fingerprint_of(doc, validate) != fingerprint_of(SAMPLE_DOCUMENT, validate)


def test_the_fingerprint_is_a_sha256(validate: Any) -> None:
    fingerprint = fingerprint_of(SAMPLE_DOCUMENT, validate)
    assert re.fullmatch(r"sha256:[0-9a-f]{64}", fingerprint)

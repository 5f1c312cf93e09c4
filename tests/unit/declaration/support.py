"""Test support for the declaration unit tests: the contract's sample document, in-memory fakes
of our own ports (a tariff with `has_code`, small country and currency lists) and helpers."""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import date
from typing import Any

import pytest

from services.declaration.domain.validation import DeclarationInvalid, Problem

#: The sample document of CONTRACT.md, verbatim.
SAMPLE_DOCUMENT: dict[str, Any] = {
    "lrn": "ACME-2026-000123",
    "type": "IM",
    "declarant": {"eori": "GB123456789000", "name": "Acme Brokers Ltd"},
    "importer": {"eori": "GB987654321000", "name": "Acme Retail Ltd", "country": "GB"},
    "exporter": {"name": "Shenzhen Phone Works", "country": "CN"},
    "office": "GBLHR001",
    "transport": {"mode": "air", "document": "AWB 125-12345675"},
    "currency": "USD",
    "incoterm": "FOB",
    "freight": "120.00",
    "insurance": "15.00",
    "gross_mass_kg": "26.0",
    "items": [
        {
            "hs_code": "8517130000",
            "description": "Smartphones, 128 GB",
            "origin": "CN",
            "quantity": "100",
            "unit": "p/st",
            "net_mass_kg": "20.5",
            "gross_mass_kg": "25.0",
            "value": "15000.00",
            "preference": None,
            "documents": [],
        }
    ],
}

ON_DATE = date(2026, 3, 1)
COUNTRIES = frozenset({"GB", "CN", "DE", "FR", "US", "VN", "IN"})
CURRENCIES = {"USD": 2, "EUR": 2, "GBP": 2, "JPY": 0, "BHD": 3}


class FakeTariff:
    """An in-memory tariff: codes with the first and last day (inclusive) they are valid."""

    def __init__(self, codes: dict[str, tuple[date, date]]) -> None:
        self.codes = codes
        self.asked: list[tuple[str, date]] = []

    def has_code(self, hs_code: str, on_date: date) -> bool:
        self.asked.append((hs_code, on_date))
        validity = self.codes.get(hs_code)
        return validity is not None and validity[0] <= on_date <= validity[1]


def make_tariff() -> FakeTariff:
    always = (date(2000, 1, 1), date(2099, 12, 31))
    return FakeTariff(
        {
            "8517130000": always,
            "851713": always,
            "61091000": always,
            "6109100010": always,
            "0902300000": (date(2026, 4, 1), date(2099, 12, 31)),  # valid only from April
        }
    )


def problems_of(call: Callable[[], object]) -> list[Problem]:
    """The problems of the `DeclarationInvalid` that `call` must raise."""
    with pytest.raises(DeclarationInvalid) as caught:
        call()
    return list(caught.value.problems)


def only_problem(call: Callable[[], object]) -> Problem:
    """The single problem `call` must raise."""
    problems = problems_of(call)
    assert len(problems) == 1, problems
    return problems[0]


def encode(document: Any) -> bytes:
    return json.dumps(document).encode("utf-8")

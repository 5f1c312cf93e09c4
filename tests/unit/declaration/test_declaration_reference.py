"""Validation against the real reference data of `shared.reference` (tariff, ISO lists).

Strategy: the rest of this folder uses small fakes of our own ports; this module checks that
the real implementations plug into the same parameters (`Tariff.has_code`, `countries()`,
`currencies()` with minor units) and that the contract's sample passes with them.
"""

from __future__ import annotations

from datetime import date
from typing import Any

import pytest

from services.declaration.domain.validation import DeclarationInvalid
from services.declaration.intake import validate_document
from shared.reference import iso as iso_module
from shared.reference import tariff as tariff_module

from .support import only_problem

ON_DATE = date(2026, 3, 2)  # within the tariff version 2026-01


@pytest.fixture(scope="module")
def reference() -> dict[str, Any]:
    return {
        "tariff": tariff_module.load_tariff(),
        "countries": iso_module.countries(),
        "currencies": iso_module.currencies(),
    }


def test_the_sample_passes_with_the_real_reference_data(
    doc: dict[str, Any], reference: dict[str, Any]
) -> None:
    declaration = validate_document(doc, on_date=ON_DATE, **reference)
    assert declaration.items[0].hs_code == "8517130000"


def test_the_real_lists_refuse_what_they_do_not_know(
    doc: dict[str, Any], reference: dict[str, Any]
) -> None:
    doc["items"][0]["hs_code"] = "123456"
    doc["items"][0]["origin"] = "QQ"
    doc["currency"] = "JPY"
    doc["freight"] = "120.50"  # JPY has no minor units
    with pytest.raises(DeclarationInvalid) as caught:
        validate_document(doc, on_date=ON_DATE, **reference)
    pointers = [p.pointer for p in caught.value.problems]
    assert pointers == ["/freight", "/items/0/hs_code", "/items/0/origin"]


def test_no_tariff_version_means_no_valid_code(
    doc: dict[str, Any], reference: dict[str, Any]
) -> None:
    problem = only_problem(lambda: validate_document(doc, on_date=date(2001, 1, 1), **reference))
    assert problem.pointer == "/items/0/hs_code"
    assert "not in the tariff valid on 2001-01-01" in problem.message

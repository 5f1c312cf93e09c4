"""Business rules of DOMAIN.md ("Declaration data and validation"), one test per rule.

Strategy: each test breaks one rule in an otherwise valid document (the contract's sample)
and asserts the single problem: its JSON pointer and the words of the message that tell the
trader what is wrong and what to do. Reference data comes from in-memory fakes of our own
ports (`support.FakeTariff`, small country and currency lists). Rules that the schema already
enforces on the way in (negative values) are also checked on a `Declaration` built in code
through `check_declaration`, the pure domain function.
"""

from __future__ import annotations

import dataclasses
from datetime import date
from decimal import Decimal
from typing import Any

import pytest

from services.declaration.domain.declaration import Declaration, DeclarationType
from services.declaration.domain.validation import (
    VAGUE_DESCRIPTIONS,
    DeclarationInvalid,
    Problem,
    check_declaration,
    description_problem,
    normalise_description,
)

from .support import COUNTRIES, CURRENCIES, ON_DATE, make_tariff, only_problem, problems_of


def check(declaration: Declaration, **overrides: Any) -> list[Problem]:
    kwargs: dict[str, Any] = {
        "on_date": ON_DATE,
        "tariff": make_tariff(),
        "countries": COUNTRIES,
        "currencies": CURRENCIES,
        **overrides,
    }
    return check_declaration(declaration, **kwargs)


# --- masses -----------------------------------------------------------------------------------


def test_net_mass_above_gross_mass_is_refused(validate: Any, doc: dict[str, Any]) -> None:
    doc["items"][0]["net_mass_kg"] = "25.5"
    problem = only_problem(lambda: validate(doc))
    assert problem.pointer == "/items/0/net_mass_kg"
    assert "net mass (25.5 kg) is greater than the gross mass (25.0 kg)" in problem.message


def test_net_mass_equal_to_gross_mass_is_accepted(validate: Any, doc: dict[str, Any]) -> None:
    doc["items"][0]["net_mass_kg"] = "25.000"
    validate(doc)


def test_item_gross_masses_above_the_header_gross_mass_are_refused(
    validate: Any, doc: dict[str, Any]
) -> None:
    second = dict(doc["items"][0], gross_mass_kg="1.5", net_mass_kg="1")
    doc["items"].append(second)  # 25.0 + 1.5 = 26.5 > 26.0
    problem = only_problem(lambda: validate(doc))
    assert problem.pointer == "/gross_mass_kg"
    assert "(26.0 kg) is less than the sum of the items' gross masses (26.5 kg)" in (
        problem.message
    )


@pytest.mark.parametrize(
    ("field", "pointer"),
    [
        ("quantity", "/items/0/quantity"),
        ("net_mass_kg", "/items/0/net_mass_kg"),
    ],
)
def test_zero_quantities_and_masses_are_refused(
    validate: Any, doc: dict[str, Any], field: str, pointer: str
) -> None:
    doc["items"][0][field] = "0"
    problem = only_problem(lambda: validate(doc))
    assert problem.pointer == pointer
    assert "must be greater than zero (0 given)" in problem.message


def test_a_zero_header_gross_mass_is_refused(validate: Any, doc: dict[str, Any]) -> None:
    doc["gross_mass_kg"] = "0.0"
    problems = problems_of(lambda: validate(doc))
    assert [p.pointer for p in problems] == ["/gross_mass_kg", "/gross_mass_kg"]
    assert "greater than zero" in problems[0].message
    assert "sum of the items' gross masses" in problems[1].message


def test_a_zero_value_is_accepted(validate: Any, doc: dict[str, Any]) -> None:
    doc["items"][0]["value"] = "0"  # goods free of charge still declare a value of 0
    assert validate(doc).items[0].value == 0


# --- no negative values (domain level) --------------------------------------------------------


@pytest.mark.parametrize(
    ("change", "pointer"),
    [
        ({"freight": Decimal("-1")}, "/freight"),
        ({"insurance": Decimal("-0.01")}, "/insurance"),
        ({"item_value": Decimal("-5")}, "/items/0/value"),
        ({"item_quantity": Decimal("-1")}, "/items/0/quantity"),
        ({"item_gross_mass_kg": Decimal("-1")}, "/items/0/gross_mass_kg"),
    ],
)
def test_negative_values_are_refused(
    validate: Any, doc: dict[str, Any], change: dict[str, Decimal], pointer: str
) -> None:
    declaration = validate(doc)
    header = {k: v for k, v in change.items() if not k.startswith("item_")}
    item_changes = {k[5:]: v for k, v in change.items() if k.startswith("item_")}
    item = dataclasses.replace(declaration.items[0], **item_changes)
    declaration = dataclasses.replace(declaration, items=(item,), **header)

    problems = [p for p in check(declaration) if p.pointer == pointer]
    assert len(problems) == 1, check(declaration)
    assert "must not be negative" in problems[0].message


# --- tariff -----------------------------------------------------------------------------------


def test_an_unknown_commodity_code_is_refused(validate: Any, doc: dict[str, Any]) -> None:
    doc["items"][0]["hs_code"] = "9999999999"
    problem = only_problem(lambda: validate(doc))
    assert problem.pointer == "/items/0/hs_code"
    assert "9999999999 is not in the tariff valid on 2026-03-01" in problem.message


def test_the_tariff_is_asked_for_the_acceptance_date(
    validate: Any, doc: dict[str, Any], tariff: Any
) -> None:
    doc["items"][0]["hs_code"] = "0902300000"  # in the tariff only from 1 April 2026
    problem = only_problem(lambda: validate(doc))
    assert problem.pointer == "/items/0/hs_code"
    assert tariff.asked[-1] == ("0902300000", ON_DATE)

    validate(doc, on_date=date(2026, 4, 1))


@pytest.mark.parametrize("code", ["851713", "61091000", "6109100010"])
def test_six_eight_and_ten_digit_codes_are_looked_up(
    validate: Any, doc: dict[str, Any], code: str
) -> None:
    doc["items"][0]["hs_code"] = code
    assert validate(doc).items[0].hs_code == code


#: Statistical aggregates: UN Comtrade's 999999 ("commodities not specified according to
#: kind") and a national code under it, and codes of chapters 99 and 98, which the HS leaves
#: to national and statistical use (special codes, complete industrial plant).
STATISTICAL_AGGREGATES = ["999999", "9999990000", "99050000", "9880000000"]


@pytest.mark.parametrize("code", STATISTICAL_AGGREGATES)
def test_a_statistical_aggregate_is_refused_as_a_commodity_code(
    validate: Any, doc: dict[str, Any], tariff: Any, code: str
) -> None:
    """Refused whatever the tariff says: this one still lists the code."""
    tariff.codes[code] = (date(2000, 1, 1), date(2099, 12, 31))
    doc["items"][0]["hs_code"] = code
    problem = only_problem(lambda: validate(doc))
    assert problem.pointer == "/items/0/hs_code"
    assert f"The commodity code {code} is not in the tariff valid on 2026-03-01" in problem.message
    assert "it is a statistical code, not a tariff line" in problem.message
    assert "Declare the goods under the subheading that describes them" in problem.message


def test_999999_is_refused_on_the_item_that_carries_it(
    validate: Any, doc: dict[str, Any], tariff: Any
) -> None:
    tariff.codes["999999"] = (date(2000, 1, 1), date(2099, 12, 31))
    doc["items"].append({**doc["items"][0], "hs_code": "999999"})
    doc["gross_mass_kg"] = "50.0"
    problem = only_problem(lambda: validate(doc))
    assert problem.pointer == "/items/1/hs_code"
    assert "999999" in problem.message and "Comtrade" in problem.message


# --- preference and proof of origin -----------------------------------------------------------


def test_a_preference_without_proof_of_origin_is_refused(
    validate: Any, doc: dict[str, Any]
) -> None:
    doc["items"][0]["preference"] = "GSP"
    doc["items"][0]["documents"] = [{"type": "INVOICE", "reference": "INV-1"}]
    problem = only_problem(lambda: validate(doc))
    assert problem.pointer == "/items/0/preference"
    assert "'GSP' is claimed but the item has no proof of origin" in problem.message
    assert "/items/0/documents" in problem.message and "EUR1" in problem.message
    assert "or remove the claim" in problem.message


def test_a_preference_with_proof_of_origin_is_accepted(validate: Any, doc: dict[str, Any]) -> None:
    doc["items"][0]["preference"] = "GSP"
    doc["items"][0]["documents"] = [{"type": "form_a", "reference": "CN-2026-77"}]
    assert validate(doc).items[0].preference == "GSP"


def test_proof_of_origin_types_are_configurable(validate: Any, doc: dict[str, Any]) -> None:
    doc["items"][0]["preference"] = "300"
    doc["items"][0]["documents"] = [{"type": "N954", "reference": "EUR1-0001"}]
    assert validate(doc, proof_of_origin_types={"N954", "U112"}).items[0].preference == "300"
    problem = only_problem(lambda: validate(doc))
    assert problem.pointer == "/items/0/preference"


# --- descriptions -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    "text",
    [
        "general cargo",
        "General Cargo",
        "GENERAL-CARGO!",
        "  goods. ",
        "Personal effects",
        "various",
        "Samples",
        "parts",
        "stuff",
        "Merchandise",
        "gift",
        "Said to contain",
    ],
)
def test_vague_descriptions_are_refused(validate: Any, doc: dict[str, Any], text: str) -> None:
    doc["items"][0]["description"] = text
    problem = only_problem(lambda: validate(doc))
    assert problem.pointer == "/items/0/description"
    assert "too vague" in problem.message
    assert "say what they are" in problem.message


@pytest.mark.parametrize("text", ["TV", "a", "..x.."])
def test_too_short_descriptions_are_refused(validate: Any, doc: dict[str, Any], text: str) -> None:
    doc["items"][0]["description"] = text
    problem = only_problem(lambda: validate(doc))
    assert problem.pointer == "/items/0/description"
    assert "too short" in problem.message
    assert "at least 3 letters or digits" in problem.message


def test_a_description_without_words_is_refused(validate: Any, doc: dict[str, Any]) -> None:
    doc["items"][0]["description"] = "1234-5678"
    problem = only_problem(lambda: validate(doc))
    assert problem.pointer == "/items/0/description"
    assert "contains no words" in problem.message


@pytest.mark.parametrize(
    "text", ["Tea", "Spare parts for diesel engines of heading 8408", "Gift boxes of cardboard"]
)
def test_specific_descriptions_pass(text: str) -> None:
    assert description_problem(text) is None


def test_vague_words_are_stored_normalised() -> None:
    assert all(normalise_description(word) == word for word in VAGUE_DESCRIPTIONS)


# --- dates ------------------------------------------------------------------------------------


def test_an_invoice_date_in_the_future_is_refused(validate: Any, doc: dict[str, Any]) -> None:
    doc["invoice_date"] = "2026-03-02"
    problem = only_problem(lambda: validate(doc))
    assert problem.pointer == "/invoice_date"
    assert "2026-03-02 is in the future (after 2026-03-01)" in problem.message


def test_a_document_date_in_the_future_is_refused(validate: Any, doc: dict[str, Any]) -> None:
    doc["items"][0]["documents"] = [
        {"type": "LICENCE", "reference": "L-1", "date": "2026-01-01"},
        {"type": "LICENCE", "reference": "L-2", "date": "2027-01-01"},
    ]
    problem = only_problem(lambda: validate(doc))
    assert problem.pointer == "/items/0/documents/1/date"
    assert "is in the future" in problem.message


def test_dates_on_the_acceptance_date_are_accepted(validate: Any, doc: dict[str, Any]) -> None:
    doc["invoice_date"] = ON_DATE.isoformat()
    assert validate(doc).invoice_date == ON_DATE


# --- countries and currencies -----------------------------------------------------------------


@pytest.mark.parametrize(
    ("path", "pointer"),
    [
        (("importer", "country"), "/importer/country"),
        (("exporter", "country"), "/exporter/country"),
        (("items", 0, "origin"), "/items/0/origin"),
    ],
)
def test_unknown_countries_are_refused(
    validate: Any, doc: dict[str, Any], path: tuple[Any, ...], pointer: str
) -> None:
    target: Any = doc
    for token in path[:-1]:
        target = target[token]
    target[path[-1]] = "QQ"
    problem = only_problem(lambda: validate(doc))
    assert problem.pointer == pointer
    assert "'QQ' is not an ISO 3166-1 alpha-2 country code" in problem.message


def test_an_eori_of_an_unknown_country_is_refused(validate: Any, doc: dict[str, Any]) -> None:
    doc["declarant"]["eori"] = "QQ123456789000"
    problem = only_problem(lambda: validate(doc))
    assert problem.pointer == "/declarant/eori"
    assert "starts with 'QQ', which is not a country code" in problem.message


def test_an_office_of_an_unknown_country_is_refused(validate: Any, doc: dict[str, Any]) -> None:
    doc["office"] = "QQLHR001"
    problem = only_problem(lambda: validate(doc))
    assert problem.pointer == "/office"
    assert "starts with 'QQ'" in problem.message


def test_northern_ireland_prefixes_are_accepted(validate: Any, doc: dict[str, Any]) -> None:
    doc["importer"]["eori"] = "XI123456789000"
    doc["office"] = "XIBEL001"
    declaration = validate(doc)
    assert declaration.office_country == "XI"


def test_an_unknown_currency_is_refused(validate: Any, doc: dict[str, Any]) -> None:
    doc["currency"] = "XYZ"
    problem = only_problem(lambda: validate(doc))
    assert problem.pointer == "/currency"
    assert "'XYZ' is not an ISO 4217 currency code" in problem.message


def test_amounts_finer_than_the_currency_are_refused(validate: Any, doc: dict[str, Any]) -> None:
    doc["currency"] = "JPY"
    doc["freight"] = "120"
    doc["insurance"] = "15.00"  # trailing zeros do not count
    doc["items"][0]["value"] = "15000.5"
    problem = only_problem(lambda: validate(doc))
    assert problem.pointer == "/items/0/value"
    assert (
        "15000.5 has 1 decimal place but JPY has 0; round it to 0 decimal places" in problem.message
    )


def test_currencies_may_be_a_plain_set(validate: Any, doc: dict[str, Any]) -> None:
    doc["items"][0]["value"] = "15000.123"
    assert validate(doc, currencies={"USD"}).currency == "USD"


# --- all together -----------------------------------------------------------------------------


def test_every_rule_violation_is_reported_at_once(validate: Any, doc: dict[str, Any]) -> None:
    doc["exporter"]["country"] = "QQ"
    doc["items"][0].update(
        hs_code="9999999999", description="goods", net_mass_kg="30", preference="GSP"
    )
    with pytest.raises(DeclarationInvalid) as caught:
        validate(doc)
    assert [p.pointer for p in caught.value.problems] == [
        "/exporter/country",
        "/items/0/hs_code",
        "/items/0/description",
        "/items/0/net_mass_kg",
        "/items/0/preference",
    ]
    assert "/exporter/country" in str(caught.value)


def test_an_unsupported_type_is_refused_by_the_domain_too(
    validate: Any, doc: dict[str, Any]
) -> None:
    declaration = dataclasses.replace(validate(doc), type=DeclarationType.TRANSIT)
    assert [p.pointer for p in check(declaration)] == ["/type"]


def test_the_domain_checks_the_item_count(validate: Any, doc: dict[str, Any]) -> None:
    declaration = dataclasses.replace(validate(doc), items=())
    problems = check(declaration)
    assert Problem("/items", "A declaration needs at least one item.") in problems

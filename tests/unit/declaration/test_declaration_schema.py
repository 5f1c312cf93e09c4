"""The shape of the declaration document (CONTRACT.md), through `validate_document`.

Strategy: start from the contract's sample document, break one thing, and assert the one
problem's JSON pointer and the words of its message that say what to do. The sample itself
must load into the typed, frozen `Declaration` with exact Decimals.
"""

from __future__ import annotations

import dataclasses
from decimal import Decimal
from typing import Any

import pytest

from services.declaration.domain.declaration import (
    Declaration,
    DeclarationType,
    TransportMode,
    to_document,
)
from services.declaration.domain.validation import Problem, pointer
from services.declaration.schemas import DecimalString, problems_from_messages

from .support import SAMPLE_DOCUMENT, only_problem, problems_of


def test_the_contract_sample_is_valid(validate: Any, doc: dict[str, Any]) -> None:
    declaration = validate(doc)

    assert isinstance(declaration, Declaration)
    assert declaration.type is DeclarationType.IMPORT
    assert declaration.transport.mode is TransportMode.AIR
    assert declaration.freight == Decimal("120.00")
    assert declaration.items[0].net_mass_kg == Decimal("20.5")
    assert declaration.items[0].documents == ()
    assert declaration.office_country == "GB"
    assert to_document(declaration) == {**SAMPLE_DOCUMENT, "invoice_date": None}


def test_the_declaration_is_frozen(validate: Any, doc: dict[str, Any]) -> None:
    declaration = validate(doc)
    with pytest.raises(dataclasses.FrozenInstanceError):
        declaration.lrn = "OTHER"  # type: ignore[misc]
    assert isinstance(declaration.items, tuple)


def test_optional_fields_load(validate: Any, doc: dict[str, Any]) -> None:
    doc["invoice_date"] = "2026-02-20"
    del doc["items"][0]["preference"]
    doc["items"][0]["documents"] = [{"type": "N954", "reference": "C123", "date": "2026-02-01"}]
    declaration = validate(doc)
    assert declaration.invoice_date.isoformat() == "2026-02-20"
    assert declaration.items[0].preference is None
    assert declaration.items[0].documents[0].date.isoformat() == "2026-02-01"


# --- decimals ---------------------------------------------------------------------------------


def test_a_float_is_refused_with_a_clear_message(validate: Any, doc: dict[str, Any]) -> None:
    doc["items"][0]["net_mass_kg"] = 20.5
    problem = only_problem(lambda: validate(doc))
    assert problem.pointer == "/items/0/net_mass_kg"
    assert "decimal string" in problem.message
    assert "float" in problem.message


def test_an_integer_number_is_refused(validate: Any, doc: dict[str, Any]) -> None:
    doc["items"][0]["quantity"] = 100
    problem = only_problem(lambda: validate(doc))
    assert problem.pointer == "/items/0/quantity"
    assert "decimal string" in problem.message


def test_a_boolean_is_not_a_decimal(validate: Any, doc: dict[str, Any]) -> None:
    doc["freight"] = True
    problem = only_problem(lambda: validate(doc))
    assert problem == Problem("/freight", problem.message)
    assert "decimal string" in problem.message


def test_a_negative_decimal_is_refused(validate: Any, doc: dict[str, Any]) -> None:
    doc["insurance"] = "-15.00"
    problem = only_problem(lambda: validate(doc))
    assert problem.pointer == "/insurance"
    assert "must not be negative" in problem.message.lower()
    assert "-15.00" in problem.message


@pytest.mark.parametrize(
    "text", ["1e3", "NaN", "Infinity", " 12", "12,50", "1,250.00", ".5", "5.", "+5", "", "١٢"]
)
def test_malformed_decimals_are_refused(validate: Any, doc: dict[str, Any], text: str) -> None:
    doc["items"][0]["value"] = text
    problem = only_problem(lambda: validate(doc))
    assert problem.pointer == "/items/0/value"
    assert "e.g." in problem.message


@pytest.mark.parametrize("text", ["1234567890123456", "1.1234567"])
def test_too_many_digits_are_refused(validate: Any, doc: dict[str, Any], text: str) -> None:
    doc["items"][0]["value"] = text
    problem = only_problem(lambda: validate(doc))
    assert problem.pointer == "/items/0/value"
    assert "at most 15 before the decimal point and 6 after" in problem.message


def test_the_largest_decimal_is_accepted() -> None:
    assert DecimalString().deserialize("999999999999999.999999") == Decimal(
        "999999999999999.999999"
    )
    assert DecimalString().deserialize("000000000000000001.5") == Decimal("1.5")


# --- unknown and missing fields ---------------------------------------------------------------


@pytest.mark.parametrize(
    ("path", "expected"),
    [
        ((), "/colour"),
        (("importer",), "/importer/colour"),
        (("items", 0), "/items/0/colour"),
        (("transport",), "/transport/colour"),
    ],
)
def test_unknown_fields_are_refused_at_every_level(
    validate: Any, doc: dict[str, Any], path: tuple[Any, ...], expected: str
) -> None:
    target: Any = doc
    for token in path:
        target = target[token]
    target["colour"] = "red"
    problem = only_problem(lambda: validate(doc))
    assert problem.pointer == expected
    assert "Unknown field" in problem.message
    assert "remove it" in problem.message


def test_an_unknown_field_in_a_document_is_refused(validate: Any, doc: dict[str, Any]) -> None:
    doc["items"][0]["documents"] = [{"type": "N954", "reference": "C1", "issuer": "x"}]
    problem = only_problem(lambda: validate(doc))
    assert problem.pointer == "/items/0/documents/0/issuer"


def test_missing_fields_are_named(validate: Any, doc: dict[str, Any]) -> None:
    del doc["currency"]
    del doc["items"][0]["hs_code"]
    problems = problems_of(lambda: validate(doc))
    assert [p.pointer for p in problems] == ["/currency", "/items/0/hs_code"]
    assert all(p.message == "This field is required." for p in problems)


def test_null_is_refused_where_a_value_is_required(validate: Any, doc: dict[str, Any]) -> None:
    doc["importer"] = None
    problem = only_problem(lambda: validate(doc))
    assert problem == Problem("/importer", "This field may not be null.")


def test_a_party_must_be_an_object(validate: Any, doc: dict[str, Any]) -> None:
    doc["exporter"] = "Shenzhen Phone Works"
    problem = only_problem(lambda: validate(doc))
    assert problem == Problem("/exporter", "Must be a JSON object.")


def test_several_problems_are_reported_together_in_document_order(
    validate: Any, doc: dict[str, Any]
) -> None:
    doc["office"] = "LHR"
    doc["items"][0]["origin"] = "china"
    doc["items"][0]["gross_mass_kg"] = 25.0
    problems = problems_of(lambda: validate(doc))
    assert [p.pointer for p in problems] == [
        "/office",
        "/items/0/origin",
        "/items/0/gross_mass_kg",
    ]


# --- header fields ----------------------------------------------------------------------------


@pytest.mark.parametrize("kind", ["EX", "TR"])
def test_export_and_transit_are_refused_for_now(
    validate: Any, doc: dict[str, Any], kind: str
) -> None:
    doc["type"] = kind
    problem = only_problem(lambda: validate(doc))
    assert problem.pointer == "/type"
    assert "not supported yet" in problem.message
    assert "IM" in problem.message


def test_an_unknown_type_is_refused(validate: Any, doc: dict[str, Any]) -> None:
    doc["type"] = "XX"
    problem = only_problem(lambda: validate(doc))
    assert problem.pointer == "/type"
    assert "use IM" in problem.message


@pytest.mark.parametrize("lrn", ["", "-ACME", "ACME 2026", "A" * 23, "ACME\n"])
def test_bad_lrns_are_refused(validate: Any, doc: dict[str, Any], lrn: str) -> None:
    doc["lrn"] = lrn
    problem = only_problem(lambda: validate(doc))
    assert problem.pointer == "/lrn"
    assert "1 to 22" in problem.message


@pytest.mark.parametrize("eori", ["GB", "gb123", "123456789", "GB1234567890123456", "GB-123"])
def test_bad_eoris_are_refused(validate: Any, doc: dict[str, Any], eori: str) -> None:
    doc["declarant"]["eori"] = eori
    problem = only_problem(lambda: validate(doc))
    assert problem.pointer == "/declarant/eori"
    assert "1 to 15 capital letters or digits" in problem.message
    assert "e.g. GB123456789000" in problem.message


def test_the_longest_eori_is_accepted(validate: Any, doc: dict[str, Any]) -> None:
    doc["importer"]["eori"] = "DE" + "1" * 15
    assert validate(doc).importer.eori == "DE111111111111111"


@pytest.mark.parametrize("office", ["GBLHR01", "GBLHR0012", "gblhr001", "G1LHR001"])
def test_bad_office_codes_are_refused(validate: Any, doc: dict[str, Any], office: str) -> None:
    doc["office"] = office
    problem = only_problem(lambda: validate(doc))
    assert problem.pointer == "/office"
    assert "e.g. GBLHR001" in problem.message


def test_an_unknown_transport_mode_is_refused(validate: Any, doc: dict[str, Any]) -> None:
    doc["transport"]["mode"] = "ship"
    problem = only_problem(lambda: validate(doc))
    assert problem.pointer == "/transport/mode"
    assert "sea" in problem.message and "inland_waterway" in problem.message


def test_transport_modes_carry_their_recommendation_19_codes() -> None:
    assert TransportMode.SEA.code == "1"
    assert TransportMode.AIR.code == "4"
    assert TransportMode.INLAND_WATERWAY.code == "8"
    assert len({m.code for m in TransportMode}) == len(TransportMode)


def test_an_unknown_incoterm_is_refused(validate: Any, doc: dict[str, Any]) -> None:
    doc["incoterm"] = "DDU"  # Incoterms 2000, gone since 2010
    problem = only_problem(lambda: validate(doc))
    assert problem.pointer == "/incoterm"
    assert "Incoterms 2020" in problem.message and "DPU" in problem.message


def test_a_lower_case_currency_is_refused(validate: Any, doc: dict[str, Any]) -> None:
    doc["currency"] = "usd"
    problem = only_problem(lambda: validate(doc))
    assert problem.pointer == "/currency"
    assert "ISO 4217" in problem.message


@pytest.mark.parametrize("value", ["01/03/2026", "2026-02-30", "2026-03-01T10:00:00", "20260301"])
def test_bad_dates_are_refused(validate: Any, doc: dict[str, Any], value: str) -> None:
    doc["invoice_date"] = value
    problem = only_problem(lambda: validate(doc))
    assert problem.pointer == "/invoice_date"
    assert "YYYY-MM-DD" in problem.message


def test_blank_and_control_characters_are_refused(validate: Any, doc: dict[str, Any]) -> None:
    doc["importer"]["name"] = "   "
    doc["exporter"]["name"] = "Shenzhen\x00Works"
    problems = problems_of(lambda: validate(doc))
    assert [(p.pointer, p.message) for p in problems] == [
        ("/importer/name", "Must not be blank."),
        ("/exporter/name", "Must not contain control characters (tabs, line breaks...)."),
    ]


# --- items ------------------------------------------------------------------------------------


def test_no_items_is_refused(validate: Any, doc: dict[str, Any]) -> None:
    doc["items"] = []
    problem = only_problem(lambda: validate(doc))
    assert problem == Problem("/items", "A declaration needs at least one item.")


def test_1000_items_are_refused(validate: Any, doc: dict[str, Any]) -> None:
    doc["items"] = doc["items"] * 1000
    problem = only_problem(lambda: validate(doc))
    assert problem.pointer == "/items"
    assert "at most 999 items (1000 given)" in problem.message
    assert "split the consignment" in problem.message


def test_999_items_are_accepted(validate: Any, doc: dict[str, Any]) -> None:
    doc["items"] = doc["items"] * 999
    doc["gross_mass_kg"] = "24975.0"
    assert len(validate(doc).items) == 999


def test_max_items_is_a_parameter(validate: Any, doc: dict[str, Any]) -> None:
    doc["items"] = doc["items"] * 3
    doc["gross_mass_kg"] = "75"
    problem = only_problem(lambda: validate(doc, max_items=2))
    assert problem.pointer == "/items"
    assert "at most 2 items" in problem.message


def test_items_must_be_a_list(validate: Any, doc: dict[str, Any]) -> None:
    doc["items"] = doc["items"][0]
    problem = only_problem(lambda: validate(doc))
    assert problem == Problem("/items", "Must be a list of items.")


@pytest.mark.parametrize(
    "code", ["85171", "8517130", "851713000", "85171300001", "8517.13", "85171X"]
)
def test_commodity_codes_are_6_8_or_10_digits(
    validate: Any, doc: dict[str, Any], code: str
) -> None:
    doc["items"][0]["hs_code"] = code
    problem = only_problem(lambda: validate(doc))
    assert problem.pointer == "/items/0/hs_code"
    assert "6, 8 or 10 digits" in problem.message


def test_a_bad_origin_format_is_refused(validate: Any, doc: dict[str, Any]) -> None:
    doc["items"][0]["origin"] = "CHN"
    problem = only_problem(lambda: validate(doc))
    assert problem.pointer == "/items/0/origin"
    assert "alpha-2" in problem.message


def test_a_bad_preference_is_refused(validate: Any, doc: dict[str, Any]) -> None:
    doc["items"][0]["preference"] = ""
    problem = only_problem(lambda: validate(doc))
    assert problem.pointer == "/items/0/preference"
    assert "null or a scheme" in problem.message


def test_documents_must_be_a_list_of_documents(validate: Any, doc: dict[str, Any]) -> None:
    doc["items"][0]["documents"] = [{"type": "EUR 1", "reference": ""}]
    problems = problems_of(lambda: validate(doc))
    assert [p.pointer for p in problems] == [
        "/items/0/documents/0/type",
        "/items/0/documents/0/reference",
    ]


# --- error conversion -------------------------------------------------------------------------


def test_marshmallow_messages_become_pointers() -> None:
    messages = {
        "_schema": ["whole"],
        "items": {0: {"hs_code": ["bad code"], "documents": {2: {"type": ["bad type"]}}}},
        "a/b": ["slash"],
        "m~n": ["tilde"],
    }
    assert problems_from_messages(messages) == [
        Problem("", "whole"),
        Problem("/items/0/hs_code", "bad code"),
        Problem("/items/0/documents/2/type", "bad type"),
        Problem("/a~1b", "slash"),
        Problem("/m~0n", "tilde"),
    ]


def test_pointers_follow_rfc_6901() -> None:
    assert pointer() == ""
    assert pointer("items", 0, "net_mass_kg") == "/items/0/net_mass_kg"
    assert pointer("a/b", "c~d", "") == "/a~1b/c~0d/"

"""The recorded assessment: JSON-ready, lossless, and re-derivable by an auditor.

Strategy: assess a declaration that uses every kind of term (apportionment, preference,
MIN/MAX, specific), turn it into the dict the payment service records in its event, pass it
through real JSON, and check that reading it back gives the same `Assessment` and that
`reassess` on the record alone (plus the reference data) gives the recorded amounts. Then
tamper with a recorded amount or swap the reference data, and check `verify_assessment`
names what differs. The sample declaration of the public contract is assessed against the
packaged SAMPLE data, computed by hand.
"""

from __future__ import annotations

import json
from datetime import date
from typing import Any

import pytest
from payment_support import TARIFF_T1, TARIFF_T2, D, declaration, item, rates, run, tariff

from services.payment.domain import (
    AssessmentMismatch,
    AssessmentPolicy,
    AssessmentRecordInvalid,
    DutyDeclaration,
    DutyItem,
    IncotermTreatment,
    PreferenceClaim,
    RoundingRule,
    assess,
    assessment_from_dict,
    assessment_to_dict,
    reassess,
    verify_assessment,
)
from shared.reference import Tariff, load_reference_data, parse_tariff_version
from shared.reference.rates import ExchangeRates, parse_rates


def _rich() -> Any:
    return run(
        declaration(
            item("100001", value="1000.00"),
            item("100004", value="125.00", quantity="10", unit="pa"),  # MIN
            item(
                "100005",
                value="1250.00",
                origin="IN",
                preference=PreferenceClaim("GSP", "FORM-A 7"),
            ),
            item("100002", value="333.33", net_mass_kg="12.5"),
            incoterm="FOB",
            freight="100.00",
            insurance="10.00",
        )
    )


def test_the_record_is_json_ready_and_reads_back_equal() -> None:
    assessment = _rich()
    record = json.loads(json.dumps(assessment_to_dict(assessment)))
    assert assessment_from_dict(record) == assessment
    assert assessment_to_dict(assessment_from_dict(record)) == record


def test_amounts_are_decimal_strings() -> None:
    record = assessment_to_dict(_rich())
    assert record["totals"]["due"] == format(_rich().total_due, "f")
    assert record["items"][1]["duty"]["limit_applied"] == "MIN"
    assert record["items"][2]["measure"]["basis"] == "preferential"
    assert record["items"][2]["measure"]["description"] == "2 %"
    assert record["rounding"] == {
        "mode": "ROUND_HALF_UP",
        "minor_units": 2,
        "rule": "ROUND_HALF_UP to 2 decimals",
    }
    assert record["tariff_version"] == "T1"
    assert record["exchange_rate"]["version"] == "R1"
    assert record["exchange_rate"]["rate"] == "0.80"

    def walk(value: Any) -> None:
        assert not isinstance(value, float)
        if isinstance(value, dict):
            for inner in value.values():
                walk(inner)
        if isinstance(value, list):
            for inner in value:
                walk(inner)

    walk(record)


def test_an_auditor_re_derives_the_recorded_amounts() -> None:
    record = json.loads(json.dumps(assessment_to_dict(_rich())))
    assert reassess(record, tariff(), rates()) == assessment_from_dict(record)
    verify_assessment(record, tariff(), rates())


def test_a_tampered_amount_is_named() -> None:
    record = assessment_to_dict(_rich())
    record["items"][0]["duty"]["amount"] = "95.00"
    record["totals"]["vat"] = "0.00"
    with pytest.raises(AssessmentMismatch) as caught:
        verify_assessment(record, tariff(), rates())
    assert "/items/0/duty/amount" in caught.value.differences
    assert "/totals/vat" in caught.value.differences


def test_changed_reference_data_is_detected() -> None:
    record = assessment_to_dict(_rich())
    amended = TARIFF_T1.replace("# version: T1", "# version: T1b").replace(
        "100001,,12,", "100001,,11,"
    )
    other = Tariff([parse_tariff_version(amended), parse_tariff_version(TARIFF_T2)])
    with pytest.raises(AssessmentMismatch) as caught:
        verify_assessment(record, other, rates())
    assert "/tariff_version" in caught.value.differences
    assert "/items/0/duty/amount" in caught.value.differences


def test_reassess_uses_the_recorded_rounding_and_valuation_not_the_defaults() -> None:
    policy = AssessmentPolicy(
        rounding=RoundingRule("ROUND_HALF_EVEN"),
        incoterms={"FOB": IncotermTreatment(adds_freight=False, adds_insurance=True)},
    )
    decl = declaration(
        item("100005", value="123.45"), currency="GBP", incoterm="FOB", insurance="1.00"
    )
    assessment = run(decl, policy=policy)
    record = assessment_to_dict(assessment)
    assert reassess(record, tariff(), rates()) == assessment


@pytest.mark.parametrize(
    "damage",
    [
        lambda r: r.pop("totals"),
        lambda r: r.update(format=99),
        lambda r: r["items"][0]["duty"].update(amount=12.5),
        lambda r: r["items"][0]["duty"].update(amount="NaN"),
        lambda r: r["items"][0]["measure"].update(basis="other"),
        lambda r: r["rounding"].update(mode="ROUND_SIDEWAYS"),
        lambda r: r["declaration"]["items"][0].update(value="-1"),
    ],
)
def test_an_unreadable_record_is_a_named_error(damage: Any) -> None:
    record = assessment_to_dict(_rich())
    damage(record)
    with pytest.raises(AssessmentRecordInvalid):
        assessment_from_dict(record)


def test_the_contract_sample_declaration_on_the_packaged_sample_data() -> None:
    # CONTRACT.md: 8517130000 from CN, 100 p/st, 20.5 kg, 15000.00 USD, FOB, freight 120.00,
    # insurance 15.00. Accepted 2 March 2026: tariff 2026-01 (851713: 2 %, VAT 20 %), the
    # SAMPLE March rate 1 USD = 0.743296 GBP.
    # value: 15000.00 + 120.00 + 15.00 = 15135.00 USD x 0.743296 = 11249.78496 -> 11249.78
    # duty: 2 % x 11249.78 = 224.9956 -> 225.00
    # VAT: 20 % x (11249.78 + 225.00) = 2294.956 -> 2294.96; due 2519.96 GBP
    reference = load_reference_data()
    decl = DutyDeclaration(
        currency="USD",
        incoterm="FOB",
        freight=D("120.00"),
        insurance=D("15.00"),
        items=(DutyItem("8517130000", "CN", D("100"), "p/st", D("20.5"), D("15000.00")),),
    )
    result = assess(
        decl, date(2026, 3, 2), reference.tariff, reference.rates, minor_units=reference.currencies
    )
    assert result.tariff_version == "2026-01"
    assert result.exchange_rate.rate == D("0.743296")
    assert (result.exchange_rate.valid_from, result.exchange_rate.valid_to) == (
        date(2026, 3, 1),
        date(2026, 3, 31),
    )
    assert result.items[0].customs_value == D("11249.78")
    assert result.total_duty == D("225.00")
    assert result.total_vat == D("2294.96")
    assert result.total_due == D("2519.96")
    verify_assessment(assessment_to_dict(result), reference.tariff, reference.rates)


def test_rates_files_of_another_national_currency_do_not_mix() -> None:
    national, found = parse_rates(
        "# version: X\n# national_currency: EUR\n"
        "currency,rate,valid_from,valid_to\n"
        "USD,0.9,2026-01-01,2026-01-31\n"
    )
    with pytest.raises(ValueError):
        ExchangeRates("GBP", found)
    assert national == "EUR"

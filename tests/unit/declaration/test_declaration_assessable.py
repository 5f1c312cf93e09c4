"""Acceptance means assessable: every declaration the declaration service accepts can be
risk-assessed and duty-assessed without an error, over the shipped reference data.

Strategy: a property test (hypothesis) draws documents over the packaged tariff, rates,
countries and currencies: any tariff line valid on the date, any currency (with or without a
published rate), any unit, origins both inside and outside each line's preference origins,
and preference claims both open and not open to them. A document the service refuses is
fine; one it accepts must go through the payment service's duty assessment and the risk
service's facts and rules (the same functions the two services call on `DeclarationAccepted`)
without raising. Example tests pin each refusal: a currency with no rate, a unit the measure
cannot use, a preference the origin is not eligible for.
"""

from __future__ import annotations

import copy
from datetime import date
from functools import cache
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from services.declaration.domain.validation import DeclarationInvalid
from services.declaration.intake import validate_document
from services.payment.application import duty_declaration
from services.payment.domain.duty import assess
from services.risk.application import RiskReference, declaration_facts
from services.risk.domain.assessment import assess as risk_assess
from services.risk.domain.draw import keyed_draw
from shared.events.declaration import DeclarationAccepted
from shared.reference import UNITS, ReferenceData, load_reference_data
from shared.testing.processes import draw_key_environment

from .support import SAMPLE_DOCUMENT

DATES = [date(2026, 3, 2), date(2026, 6, 30), date(2026, 7, 1), date(2027, 1, 15)]


@cache
def reference() -> ReferenceData:
    return load_reference_data()


@cache
def risk_reference() -> RiskReference:
    return RiskReference.load(draw_key_environment(), reference().rates)


def validate(document: dict[str, Any], on_date: date) -> None:
    ref = reference()
    validate_document(document, on_date=on_date, tariff=ref.tariff, countries=ref.countries,
                      currencies=ref.currencies, offices=ref.offices.offices,
                      measures=ref.tariff, rates=ref.rates)


def assess_as_the_services_do(document: dict[str, Any], on_date: date) -> None:
    ref = reference()
    assess(duty_declaration(document), on_date, ref.tariff, ref.rates,
           minor_units=ref.currencies)
    accepted = DeclarationAccepted("c-1", "26GB000000000001R5", document["lrn"],
                                   document["declarant"]["eori"], document["office"], "air",
                                   on_date, 1, document)
    rules = risk_reference()
    facts = declaration_facts(accepted, ref.rates)
    risk_assess(facts, rules.ruleset, rules.aeo, on_date,
                keyed_draw(rules.draw_key, "c-1", rules.ruleset.version))


@st.composite
def documents(draw: st.DrawFn) -> tuple[dict[str, Any], date]:
    ref = reference()
    on_date = draw(st.sampled_from(DATES))
    version = ref.tariff.version_on(on_date)
    code = draw(st.sampled_from(sorted(version.codes)))
    line = ref.tariff.lookup(code, on_date)
    schemes = sorted({p.scheme for p in line.preferences})
    origins = sorted({o for p in line.preferences for o in p.origins} | {"CN", "US", "DE"})
    document = copy.deepcopy(SAMPLE_DOCUMENT)
    document["currency"] = draw(st.sampled_from(sorted(ref.currencies)))
    minor = ref.currencies[document["currency"]]
    amount = lambda n: f"{n}.{'0' * minor}" if minor else str(n)  # noqa: E731
    document["freight"], document["insurance"] = amount(120), amount(15)
    item = document["items"][0]
    item.update(hs_code=code, origin=draw(st.sampled_from(origins)),
                unit=draw(st.sampled_from(sorted(UNITS))), value=amount(15000),
                preference=draw(st.sampled_from([None, *schemes, "GSP"])))
    if item["preference"] is not None:
        item["documents"] = [{"type": "EUR1", "reference": "EUR1-123"}]
    return document, on_date


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(documents())
def test_every_declaration_accepted_is_assessed_by_risk_and_duty(
    drawn: tuple[dict[str, Any], date],
) -> None:
    document, on_date = drawn
    try:
        validate(document, on_date)
    except DeclarationInvalid:
        return
    assess_as_the_services_do(document, on_date)  # raises if it cannot be assessed


def test_a_currency_with_no_rate_on_the_acceptance_date_is_refused() -> None:
    document = copy.deepcopy(SAMPLE_DOCUMENT)
    document["currency"] = "MNT"  # ISO 4217, but the sample rates publish none for it
    with pytest.raises(DeclarationInvalid) as refused:
        validate(document, date(2026, 3, 2))
    assert [p.pointer for p in refused.value.problems] == ["/currency"]
    assert "No exchange rate for MNT" in refused.value.problems[0].message


def specific_line(on_date: date) -> tuple[str, str]:
    """A tariff line whose third-country duty is charged per a unit other than kg."""
    version = reference().tariff.version_on(on_date)
    for code in sorted(version.codes):
        units = reference().tariff.lookup(code, on_date).third_country.units - {"kg"}
        if units:
            return code, sorted(units)[0]
    raise AssertionError("the sample tariff has no line charged per a supplementary unit")


def test_a_quantity_in_a_unit_the_measure_cannot_use_is_refused() -> None:
    on_date = date(2026, 3, 2)
    code, unit = specific_line(on_date)
    document = copy.deepcopy(SAMPLE_DOCUMENT)
    document["items"][0].update(hs_code=code, unit="p/st" if unit != "p/st" else "l")
    with pytest.raises(DeclarationInvalid) as refused:
        validate(document, on_date)
    assert [p.pointer for p in refused.value.problems] == ["/items/0/unit"]
    assert f"charged per {unit}" in refused.value.problems[0].message
    document["items"][0]["unit"] = unit
    validate(document, on_date)  # in its unit: accepted
    assess_as_the_services_do(document, on_date)


def test_a_preference_the_origin_is_not_eligible_for_is_refused() -> None:
    on_date = date(2026, 3, 2)
    document = copy.deepcopy(SAMPLE_DOCUMENT)
    item = document["items"][0]
    line = reference().tariff.lookup(item["hs_code"], on_date)
    eligible = {o for p in line.preferences for o in p.origins}
    item.update(preference="GSP", documents=[{"type": "EUR1", "reference": "EUR1-1"}],
                origin=next(c for c in ("US", "JP", "KP") if c not in eligible))
    with pytest.raises(DeclarationInvalid) as refused:
        validate(document, on_date)
    assert [p.pointer for p in refused.value.problems] == ["/items/0/preference"]
    assert "is not open to origin" in refused.value.problems[0].message

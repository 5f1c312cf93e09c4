"""Properties of `assess` over generated tariffs, rates and declarations (hypothesis).

Strategy: generate a small tariff version in memory (ad valorem, specific, compound, with or
without MIN and MAX, sometimes a GSP preference), a rate, and a declaration of one to six
items with any incoterm and claim; then check what must hold for every input: totals are the
sums of the rounded lines; no amount is negative; each line is its unrounded value rounded
half-up; the duty lies between the MIN and the MAX when they are set; freight and insurance
shares add up to the header amounts; a preference is applied only when claimed with a proof
for an eligible origin, and never above the third-country duty; and the record reads back
and re-derives to the same assessment.
"""

from __future__ import annotations

import json
from datetime import date
from decimal import ROUND_HALF_UP, Decimal
from types import MappingProxyType

from hypothesis import given, settings
from hypothesis import strategies as st

from services.payment.domain import (
    CIF_BASIS,
    PREFERENTIAL,
    Assessment,
    DutyDeclaration,
    DutyItem,
    PreferenceClaim,
    assess,
    assessment_from_dict,
    assessment_to_dict,
    duty_for,
    reassess,
)
from shared.reference import (
    ExchangeRate,
    ExchangeRates,
    Measure,
    SpecificRate,
    Tariff,
    TariffVersion,
)

ON = date(2026, 4, 14)
CODES = ("100001", "100002", "100003", "100004")
MINOR = {"GBP": 2, "USD": 2}
CENT = Decimal("0.01")
D0, D5, D20 = Decimal(0), Decimal(5), Decimal(20)


def money(high: int, places: int = 2) -> st.SearchStrategy[Decimal]:
    return st.decimals(
        min_value=0, max_value=high, places=places, allow_nan=False, allow_infinity=False
    )


@st.composite
def measures(draw: st.DrawFn) -> Measure:
    unit = draw(st.sampled_from(["kg", "p/st"]))
    ad_valorem = draw(st.none() | money(40, 1))
    specific = draw(st.none() | money(5, 4).map(lambda a: SpecificRate(a, unit)))
    if ad_valorem is None and specific is None:
        ad_valorem = Decimal(0)
    low, high = sorted(draw(st.lists(money(50, 2), min_size=2, max_size=2)))
    minimum = draw(st.sampled_from([None, SpecificRate(low, unit)]))
    maximum = draw(st.sampled_from([None, SpecificRate(high, unit)]))
    return Measure(ad_valorem, specific, minimum, maximum)


@st.composite
def tariffs(draw: st.DrawFn) -> Tariff:
    third_country = {
        code: (draw(measures()), draw(st.sampled_from([D0, D5, D20]))) for code in CODES
    }
    preferential = {code: draw(measures()) for code in CODES if draw(st.booleans())}
    version = TariffVersion(
        version="P1",
        valid_from=date(2026, 1, 1),
        valid_to=None,
        currency="GBP",
        schemes=MappingProxyType({"GSP": frozenset({"IN", "VN"})}),
        third_country=MappingProxyType(third_country),
        preferential=MappingProxyType({"GSP": MappingProxyType(preferential)}),
    )
    return Tariff([version])


@st.composite
def items(draw: st.DrawFn) -> DutyItem:
    claim = draw(
        st.none()
        | st.builds(
            PreferenceClaim,
            st.sampled_from([None, "GSP", "FTA"]),
            st.sampled_from([None, "", "FORM-A 1"]),
        )
    )
    return DutyItem(
        hs_code=draw(st.sampled_from(CODES)) + draw(st.sampled_from(["", "00", "0000"])),
        origin=draw(st.sampled_from(["IN", "CN"])),
        quantity=Decimal(draw(st.integers(0, 5000))),
        unit="p/st",
        net_mass_kg=draw(money(10_000, 3)),
        value=draw(money(10_000_000)),
        preference=claim,
    )


@st.composite
def cases(draw: st.DrawFn) -> tuple[DutyDeclaration, Tariff, ExchangeRates]:
    declaration = DutyDeclaration(
        currency="USD",
        incoterm=draw(st.sampled_from(sorted(CIF_BASIS))),
        freight=draw(money(100_000)),
        insurance=draw(money(10_000)),
        items=tuple(draw(st.lists(items(), min_size=1, max_size=6))),
    )
    rate = draw(st.decimals(min_value=Decimal("0.000001"), max_value=10, places=6))
    rates = ExchangeRates(
        "GBP",
        [ExchangeRate("USD", "GBP", rate, date(2026, 4, 1), date(2026, 4, 30), "P")],
    )
    return declaration, draw(tariffs()), rates


def _assess(case: tuple[DutyDeclaration, Tariff, ExchangeRates]) -> Assessment:
    declaration, tariff, rates = case
    return assess(declaration, ON, tariff, rates, minor_units=MINOR)


def _half_up(value: Decimal) -> Decimal:
    return value.quantize(CENT, rounding=ROUND_HALF_UP)


@settings(max_examples=150, deadline=None)
@given(cases())
def test_amounts_add_up_round_half_up_and_respect_min_and_max(
    case: tuple[DutyDeclaration, Tariff, ExchangeRates],
) -> None:
    declaration = case[0]
    result = _assess(case)
    # totals are the sums of the rounded lines
    assert result.total_duty == sum(i.duty.amount for i in result.items)
    assert result.total_vat == sum(i.vat for i in result.items)
    assert result.total_customs_value == sum(i.customs_value for i in result.items)
    assert result.total_due == result.total_duty + result.total_vat
    # freight and insurance shares add up to the header amounts
    assert sum(i.freight_share for i in result.items) == declaration.freight
    assert sum(i.insurance_share for i in result.items) == declaration.insurance
    for line in result.items:
        assert line.value_in_invoice_currency == (
            line.invoice_value + line.freight_added + line.insurance_added
        )
        # each line is its unrounded value rounded half-up
        assert line.customs_value == _half_up(line.customs_value_unrounded)
        assert line.duty.amount == _half_up(line.duty.unrounded)
        assert line.vat == _half_up(line.vat_unrounded)
        assert line.vat_base == line.customs_value + line.duty.amount
        # nothing is negative
        assert min(line.customs_value, line.duty.amount, line.vat) >= 0
        # MIN <= duty <= MAX when set
        if line.duty.minimum is not None:
            assert line.duty.amount >= _half_up(line.duty.minimum)
        if line.duty.maximum is not None:
            assert line.duty.amount <= _half_up(line.duty.maximum)
        if line.duty.limit_applied is None:
            assert line.duty.unrounded == line.duty.computed


@settings(max_examples=150, deadline=None)
@given(cases())
def test_a_preference_needs_a_claim_a_proof_and_an_eligible_origin(
    case: tuple[DutyDeclaration, Tariff, ExchangeRates],
) -> None:
    declaration, tariff, _ = case
    result = _assess(case)
    for declared, line in zip(declaration.items, result.items, strict=True):
        if line.measure.basis != PREFERENTIAL:
            continue
        claim = declared.preference
        assert claim is not None and (claim.proof_document or "").strip()
        assert declared.origin in ("IN", "VN")
        assert claim.scheme in (None, "GSP")
        third = tariff.lookup(declared.hs_code, ON).third_country
        third_duty = duty_for(third, line.customs_value, declared, result.rounding)
        assert line.duty.unrounded <= third_duty.unrounded


@settings(max_examples=100, deadline=None)
@given(cases())
def test_the_record_reads_back_and_re_derives(
    case: tuple[DutyDeclaration, Tariff, ExchangeRates],
) -> None:
    _, tariff, rates = case
    result = _assess(case)
    record = json.loads(json.dumps(assessment_to_dict(result)))
    assert assessment_from_dict(record) == result
    assert reassess(record, tariff, rates) == result

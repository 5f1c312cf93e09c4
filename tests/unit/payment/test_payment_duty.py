"""Hand-computed duty cases: each test states the arithmetic it expects.

Strategy: `assess` is a pure function, so every case builds a small declaration, runs it
against the fixture tariff and rates of `payment_support` (written in the real file format,
parsed by the real parsers) and compares the amounts with the working done by hand in the
comments. One measure type, rule or boundary per test: ad valorem, specific per kg and per
item, compound with MIN and MAX, preferences (granted, refused, never above third-country),
the exchange rate of the acceptance date, apportionment of freight and insurance, the
incoterm table, half-up rounding at exactly .005, and the tariff version by date.
"""

from __future__ import annotations

import decimal
from datetime import date

import pytest
from payment_support import JAN, MINOR_UNITS, D, declaration, item, rates, run, tariff

from services.payment.domain import (
    PREFERENTIAL,
    THIRD_COUNTRY,
    AssessmentPolicy,
    CurrencyMismatch,
    DutyDeclaration,
    IncotermTreatment,
    InvalidDutyInput,
    PreferenceClaim,
    RoundingRule,
    SupplementaryUnitMissing,
    UnknownCurrency,
    UnknownIncoterm,
    apportion,
    assess,
)
from shared.reference import (
    CommodityCodeNotFound,
    ExchangeRateNotFound,
    ExchangeRates,
    TariffVersionNotFound,
)

# --- measure types -----------------------------------------------------------------------------


def test_ad_valorem() -> None:
    # 1000.00 USD CIF x 0.80 = 800.00 GBP; duty 12 % = 96.00; VAT 20 % x 896.00 = 179.20
    result = run(declaration(item("100001", value="1000.00")))
    line = result.items[0]
    assert line.customs_value == D("800.00")
    assert line.measure.basis == THIRD_COUNTRY
    assert line.measure.measure.kind == "ad_valorem"
    assert line.duty.ad_valorem == D("96.00")
    assert line.duty.specific == 0
    assert line.duty.amount == D("96.00")
    assert line.vat_base == D("896.00")
    assert line.vat == D("179.20")
    assert (result.total_duty, result.total_vat, result.total_due) == (
        D("96.00"),
        D("179.20"),
        D("275.20"),
    )
    assert result.national_currency == "GBP"
    assert result.tariff_version == "T1"
    assert result.rates_version == "R1"
    assert result.rounding_rule == "ROUND_HALF_UP to 2 decimals"


def test_specific_per_kg_uses_net_mass() -> None:
    # 1.50 GBP/kg x 12.5 kg = 18.75, whatever the declared quantity and unit
    result = run(
        declaration(item("100002", value="500.00", quantity="3", unit="p/st", net_mass_kg="12.5"))
    )
    line = result.items[0]
    assert line.measure.measure.kind == "specific"
    assert line.duty.specific_quantity == D("12.5")
    assert line.duty.specific == D("18.75")
    assert line.duty.ad_valorem == 0
    assert line.duty.amount == D("18.75")
    # VAT 20 % x (400.00 + 18.75) = 83.75
    assert line.customs_value == D("400.00")
    assert line.vat == D("83.75")


def test_specific_per_item() -> None:
    # 0.25 GBP/p/st x 37 items = 9.25
    result = run(declaration(item("100003", quantity="37", unit="p/st")))
    assert result.items[0].duty.specific_quantity == D("37")
    assert result.items[0].duty.amount == D("9.25")


def test_specific_per_litre() -> None:
    # 0.32 GBP/l x 750 l = 240.00
    result = run(declaration(item("100007", quantity="750", unit="l")))
    assert result.items[0].duty.amount == D("240.00")


def test_a_quantity_in_another_unit_than_the_measure_is_refused() -> None:
    with pytest.raises(SupplementaryUnitMissing) as caught:
        run(declaration(item("100006"), item("100003", quantity="37", unit="kg")))
    assert caught.value.pointer == "/items/1/unit"
    assert (caught.value.needed, caught.value.declared) == ("p/st", "kg")


@pytest.mark.parametrize(
    ("value_usd", "customs_value", "computed", "duty", "limit"),
    [
        # 8 % x 100.00 + 0.90 x 10 pa = 17.00 < MIN 2.50 x 10 = 25.00 -> 25.00
        ("125.00", "100.00", "17.00", "25.00", "MIN"),
        # 8 % x 300.00 + 9.00 = 33.00, between MIN 25.00 and MAX 60.00
        ("375.00", "300.00", "33.00", "33.00", None),
        # 8 % x 1000.00 + 9.00 = 89.00 > MAX 6.00 x 10 = 60.00 -> 60.00
        ("1250.00", "1000.00", "89.00", "60.00", "MAX"),
    ],
)
def test_compound_with_min_floor_and_max_ceiling(
    value_usd: str, customs_value: str, computed: str, duty: str, limit: str | None
) -> None:
    result = run(declaration(item("100004", value=value_usd, quantity="10", unit="pa")))
    line = result.items[0]
    assert line.measure.measure.kind == "compound"
    assert line.customs_value == D(customs_value)
    assert line.duty.computed == D(computed)
    assert line.duty.minimum == D("25.00")
    assert line.duty.maximum == D("60.00")
    assert line.duty.limit_applied == limit
    assert line.duty.amount == D(duty)


# --- preferences -------------------------------------------------------------------------------


def test_a_preference_with_proof_replaces_the_third_country_rate() -> None:
    result = run(
        declaration(
            item(
                "100005",
                value="1250.00",
                origin="IN",
                preference=PreferenceClaim("GSP", "FORM-A 2026/118"),
            )
        )
    )
    line = result.items[0]
    assert line.measure.basis == PREFERENTIAL
    assert line.measure.scheme == "GSP"
    assert line.measure.code == "100005"
    assert line.duty.amount == D("20.00")
    assert "FORM-A 2026/118" in line.measure.reason
    # VAT 5 % x (1000.00 + 20.00) = 51.00
    assert line.vat == D("51.00")


def test_a_preference_without_proof_document_is_refused() -> None:
    for proof in (None, "", "   "):
        result = run(
            declaration(
                item(
                    "100005", value="1250.00", origin="IN", preference=PreferenceClaim("GSP", proof)
                )
            )
        )
        line = result.items[0]
        assert line.measure.basis == THIRD_COUNTRY
        assert line.duty.amount == D("100.00")
        assert "without a proof document" in line.measure.reason


def test_a_preference_for_an_origin_outside_the_scheme_is_refused() -> None:
    result = run(
        declaration(
            item(
                "100005",
                value="1250.00",
                origin="CN",
                preference=PreferenceClaim("GSP", "FORM-A 1"),
            )
        )
    )
    line = result.items[0]
    assert line.measure.basis == THIRD_COUNTRY
    assert line.duty.amount == D("100.00")
    assert "none open to origin CN" in line.measure.reason


def test_an_unclaimed_preference_is_not_applied() -> None:
    result = run(declaration(item("100005", value="1250.00", origin="IN")))
    assert result.items[0].measure.basis == THIRD_COUNTRY
    assert result.items[0].measure.reason == "no preference claimed"
    assert result.items[0].duty.amount == D("100.00")


def test_a_claim_naming_no_scheme_gets_the_scheme_open_to_the_origin() -> None:
    result = run(
        declaration(
            item(
                "100005",
                value="1250.00",
                origin="CH",
                preference=PreferenceClaim(None, "EUR1 A-77"),
            )
        )
    )
    assert result.items[0].measure.scheme == "FTA"
    assert result.items[0].duty.amount == D("0.00")


def test_a_claim_naming_another_scheme_is_refused() -> None:
    result = run(
        declaration(
            item(
                "100005",
                value="1250.00",
                origin="CH",
                preference=PreferenceClaim("GSP", "EUR1 A-77"),
            )
        )
    )
    assert result.items[0].measure.basis == THIRD_COUNTRY


def test_a_national_override_keeps_the_subheading_preferences() -> None:
    # 10000510 overrides third-country 4 % (= 40.00); GSP 2 % of 100005 still applies (20.00)
    plain = run(declaration(item("1000051000", value="1250.00", origin="IN")))
    assert (plain.items[0].measure.code, plain.items[0].duty.amount) == ("10000510", D("40.00"))
    claimed = run(
        declaration(
            item(
                "1000051000",
                value="1250.00",
                origin="IN",
                preference=PreferenceClaim("GSP", "FORM-A 9"),
            )
        )
    )
    assert claimed.items[0].measure.code == "100005"
    assert claimed.items[0].duty.amount == D("20.00")


def test_a_preference_never_raises_the_duty() -> None:
    # 10000590 is 0 % third-country; GSP 2 % would be higher, so the third-country rate stays
    result = run(
        declaration(
            item(
                "1000059000",
                value="1250.00",
                origin="IN",
                preference=PreferenceClaim("GSP", "FORM-A 9"),
            )
        )
    )
    line = result.items[0]
    assert line.measure.basis == THIRD_COUNTRY
    assert line.duty.amount == D("0.00")
    assert "would exceed the third-country duty" in line.measure.reason


# --- exchange rate, valuation, apportionment ---------------------------------------------------


def test_the_exchange_rate_is_the_one_of_the_acceptance_date() -> None:
    decl = declaration(item("100001", value="1000.00"))
    last_of_january = run(decl, on=date(2026, 1, 31))
    first_of_february = run(decl, on=date(2026, 2, 1))
    # 1000.00 x 0.80 = 800.00 on 31 January; 1000.00 x 0.75 = 750.00 on 1 February
    assert last_of_january.exchange_rate.rate == D("0.80")
    assert last_of_january.exchange_rate.valid_to == date(2026, 1, 31)
    assert last_of_january.items[0].customs_value == D("800.00")
    assert first_of_february.exchange_rate.rate == D("0.75")
    assert first_of_february.exchange_rate.valid_from == date(2026, 2, 1)
    assert first_of_february.exchange_rate.published_on == date(2026, 1, 21)
    assert first_of_february.items[0].customs_value == D("750.00")
    assert first_of_february.items[0].duty.amount == D("90.00")


def test_no_rate_for_the_date_is_a_named_error() -> None:
    with pytest.raises(ExchangeRateNotFound):
        run(declaration(item()), on=date(2026, 3, 1))  # USD rates stop at February


def test_the_national_currency_converts_at_one() -> None:
    result = run(declaration(item("100001", value="100.00"), currency="GBP"))
    assert result.exchange_rate.rate == 1
    assert result.exchange_rate.version == "identity"
    assert result.items[0].customs_value == D("100.00")


def test_freight_and_insurance_are_apportioned_by_value_with_rounding() -> None:
    # Freight 100.00 over values 100 : 200 : 300 = 16.666.. : 33.333.. : 50 -> in cents
    # 1666 + 3333 + 5000 = 9999, the cent left goes to the largest remainder (item 1, .67):
    # 16.67, 33.33, 50.00. Insurance 10.00 the same way: 1.67, 3.33, 5.00.
    decl = declaration(
        item("100006", value="100.00"),
        item("100006", value="200.00"),
        item("100006", value="300.00"),
        incoterm="FOB",
        freight="100.00",
        insurance="10.00",
    )
    result = run(decl)
    assert [i.freight_share for i in result.items] == [D("16.67"), D("33.33"), D("50.00")]
    assert [i.insurance_share for i in result.items] == [D("1.67"), D("3.33"), D("5.00")]
    assert sum(i.freight_share for i in result.items) == D("100.00")
    # FOB adds both: 118.34, 236.66, 355.00 USD x 0.80 = 94.672, 189.328, 284.000
    assert [i.value_in_invoice_currency for i in result.items] == [
        D("118.34"),
        D("236.66"),
        D("355.00"),
    ]
    assert [i.customs_value for i in result.items] == [D("94.67"), D("189.33"), D("284.00")]
    assert result.total_customs_value == D("568.00")


def test_apportionment_of_equal_values_gives_the_spare_unit_to_the_first_item() -> None:
    assert apportion(D("100.00"), [D(1), D(1), D(1)], 2) == (D("33.34"), D("33.33"), D("33.33"))
    assert apportion(D("10"), [D(0), D(0)], 0) == (D("5"), D("5"))
    assert apportion(D("7"), [D(0), D(5)], 0) == (D("0"), D("7"))


def test_cif_does_not_add_freight_or_insurance() -> None:
    decl = declaration(
        item("100006", value="100.00"),
        item("100006", value="200.00"),
        item("100006", value="300.00"),
        incoterm="CIF",
        freight="100.00",
        insurance="10.00",
    )
    result = run(decl)
    assert [i.freight_share for i in result.items] == [D("16.67"), D("33.33"), D("50.00")]
    assert all(i.freight_added == 0 and i.insurance_added == 0 for i in result.items)
    assert [i.customs_value for i in result.items] == [D("80.00"), D("160.00"), D("240.00")]
    assert not result.valuation.adds_freight and not result.valuation.adds_insurance


def test_cfr_adds_insurance_only() -> None:
    # 1000.00 + 10.00 insurance = 1010.00 USD x 0.80 = 808.00
    result = run(
        declaration(
            item("100006", value="1000.00"), incoterm="CFR", freight="100.00", insurance="10.00"
        )
    )
    assert result.items[0].freight_added == 0
    assert result.items[0].insurance_added == D("10.00")
    assert result.items[0].customs_value == D("808.00")


def test_a_valuation_table_of_another_jurisdiction_is_configuration() -> None:
    fob_basis = AssessmentPolicy(incoterms={"FOB": IncotermTreatment(False, False)})
    result = run(
        declaration(
            item("100006", value="1000.00"), incoterm="FOB", freight="100.00", insurance="10.00"
        ),
        policy=fob_basis,
    )
    assert result.items[0].customs_value == D("800.00")


def test_an_unknown_incoterm_is_refused() -> None:
    with pytest.raises(UnknownIncoterm) as caught:
        run(declaration(item(), incoterm="XYZ"))
    assert caught.value.pointer == "/incoterm"


# --- rounding ------------------------------------------------------------------------------------


def test_duty_at_exactly_half_a_penny_rounds_up() -> None:
    # 123.45 GBP x 10 % = 12.345 -> 12.35 (half-up); VAT 5 % x 135.80 = 6.79
    result = run(declaration(item("100005", value="123.45"), currency="GBP"))
    line = result.items[0]
    assert line.duty.unrounded == D("12.345")
    assert line.duty.amount == D("12.35")
    assert line.vat_base == D("135.80")
    assert line.vat == D("6.79")


def test_the_customs_value_at_exactly_half_a_penny_rounds_up() -> None:
    # 1001 JPY x 0.005 = 5.005 GBP -> 5.01
    result = run(declaration(item("100006", value="1001"), currency="JPY"))
    assert result.items[0].customs_value_unrounded == D("5.005")
    assert result.items[0].customs_value == D("5.01")


def test_the_rounding_rule_is_configuration() -> None:
    # half-even: 12.345 -> 12.34; VAT 5 % x 135.79 = 6.7895 -> 6.79
    policy = AssessmentPolicy(rounding=RoundingRule(decimal.ROUND_HALF_EVEN))
    result = run(declaration(item("100005", value="123.45"), currency="GBP"), policy=policy)
    assert result.items[0].duty.amount == D("12.34")
    assert result.items[0].vat == D("6.79")
    assert result.rounding_rule == "ROUND_HALF_EVEN to 2 decimals"
    whole_pounds = AssessmentPolicy(rounding=RoundingRule(minor_units=0))
    result = run(declaration(item("100005", value="123.45"), currency="GBP"), policy=whole_pounds)
    # customs value 123 (half-up of 123.45), duty 12.3 -> 12, VAT 5 % x 135 = 6.75 -> 7
    assert (result.items[0].customs_value, result.items[0].duty.amount, result.items[0].vat) == (
        D("123"),
        D("12"),
        D("7"),
    )


def test_totals_are_sums_of_the_rounded_lines() -> None:
    # three lines of 12.345 duty each: each rounds to 12.35, the total is 37.05 (not 37.04)
    decl = declaration(*(item("100005", value="123.45") for _ in range(3)), currency="GBP")
    result = run(decl)
    assert [i.duty.amount for i in result.items] == [D("12.35")] * 3
    assert result.total_duty == D("37.05")


def test_a_three_decimal_invoice_currency_apportions_in_its_own_minor_units() -> None:
    result = run(
        declaration(
            item("100006", value="1.000"),
            item("100006", value="2.000"),
            currency="BHD",
            incoterm="FOB",
            freight="1.000",
        )
    )
    assert [i.freight_share for i in result.items] == [D("0.333"), D("0.667")]


# --- tariff version by date -----------------------------------------------------------------------


def test_the_tariff_version_valid_on_the_acceptance_date_applies() -> None:
    decl = declaration(item("100001", value="1000.00"), currency="EUR")  # x 0.85 = 850.00
    june = run(decl, on=date(2026, 6, 30))
    july = run(decl, on=date(2026, 7, 1))
    assert (june.tariff_version, june.items[0].duty.amount) == ("T1", D("102.00"))  # 12 %
    assert (july.tariff_version, july.items[0].duty.amount) == ("T2", D("85.00"))  # 10 %


def test_no_tariff_version_or_no_code_is_a_named_error() -> None:
    with pytest.raises(TariffVersionNotFound):
        run(declaration(item(), currency="EUR"), on=date(2025, 12, 31))
    with pytest.raises(CommodityCodeNotFound):
        run(declaration(item("999999")))


# --- guards on the inputs -----------------------------------------------------------------------


def test_inputs_must_be_exact_non_negative_decimals() -> None:
    with pytest.raises(InvalidDutyInput) as caught:
        declaration(item(value="-1.00"))
    assert caught.value.pointer == "/items/0/value"
    with pytest.raises(InvalidDutyInput) as caught:
        DutyDeclaration("USD", "CIF", 1.5, D(0), (item(),))  # type: ignore[arg-type]
    assert caught.value.pointer == "/freight"
    with pytest.raises(InvalidDutyInput) as caught:
        DutyDeclaration("USD", "CIF", D(0), D(0), ())
    assert caught.value.pointer == "/items"
    with pytest.raises(InvalidDutyInput):
        run(declaration(item(value="10.001")))  # USD has 2 decimals
    with pytest.raises(UnknownCurrency):
        run(declaration(item(), currency="XXX"))


def test_tariff_and_rates_in_different_currencies_are_refused() -> None:
    euro_rates = ExchangeRates("EUR", [])
    with pytest.raises(CurrencyMismatch):
        assess(declaration(item()), JAN, tariff(), euro_rates, minor_units=MINOR_UNITS)


def test_assess_is_pure() -> None:
    decl = declaration(item("100004", value="375.00", quantity="10", unit="pa"))
    first = assess(decl, JAN, tariff(), rates(), minor_units=MINOR_UNITS)
    again = assess(decl, JAN, tariff(), rates(), minor_units=MINOR_UNITS)
    assert first == again

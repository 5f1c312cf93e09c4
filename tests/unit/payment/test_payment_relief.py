"""Low-value relief as a dated measure of the tariff (issue 13): a consignment whose intrinsic
value is at most the threshold in force pays none of what the measure relieves, unless an item
is excluded (excise goods in the UK sample); the working records the measure and why it did or
did not apply, and an auditor re-derives it. Another rule (duty only, another threshold, a
later date) is a row of data: tested here with hand-written measures."""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from pathlib import Path

import pytest

from services.payment.domain import DutyDeclaration, DutyItem, assess, assessment_to_dict
from services.payment.domain.duty import verify_assessment
from shared.reference import load_reference_data
from shared.reference.errors import ReferenceDataInvalid
from shared.reference.reliefs import LowValueRelief, Reliefs, load_reliefs

REFERENCE = load_reference_data()
ON = date(2026, 11, 30)


def declaration(value: str, hs_code: str = "6109100010", *, currency: str = "GBP",
                quantity: str = "1", unit: str = "p/st") -> DutyDeclaration:
    item = DutyItem(hs_code=hs_code, origin="CN", quantity=Decimal(quantity), unit=unit,
                    net_mass_kg=Decimal("0.4"), value=Decimal(value), preference=None)
    return DutyDeclaration(currency=currency, incoterm="FOB", freight=Decimal("25.00"),
                           insurance=Decimal("2.00"), items=(item,))


def run(decl: DutyDeclaration, reliefs: Reliefs | None = REFERENCE.reliefs,
        on: date = ON):  # type: ignore[no-untyped-def]
    return assess(decl, on, REFERENCE.tariff, REFERENCE.rates,
                  minor_units=REFERENCE.currencies, reliefs=reliefs)


def test_the_uk_sample_relieves_duty_and_vat_up_to_gbp_135() -> None:
    at = run(declaration("135.00"))
    assert at.total_duty == at.total_vat == at.total_due == Decimal("0.00")
    assert at.relief is not None and at.relief.applied and at.relief.code == "GB-LVC-135"
    # the items keep the tariff's working: what was relieved is on the record
    assert at.relief.duty_relieved == sum(i.duty.amount for i in at.items) > 0
    assert at.relief.vat_relieved == sum(i.vat for i in at.items) > 0
    # freight and insurance are not part of the intrinsic value
    assert at.relief.intrinsic_value == Decimal("135.00")
    record = assessment_to_dict(at)
    assert record["relief"]["applied"] is True
    verify_assessment(record, REFERENCE.tariff, REFERENCE.rates, REFERENCE.reliefs)


def test_above_the_threshold_everything_is_due_and_the_record_says_why() -> None:
    at = run(declaration("135.01"))
    assert at.relief is not None and not at.relief.applied
    assert "above the threshold" in at.relief.reason
    assert at.total_due == sum(i.duty.amount + i.vat for i in at.items) > 0


def test_the_threshold_is_in_the_national_currency_at_the_days_rate() -> None:
    usd = REFERENCE.rates.rate("USD", ON).rate
    under = (Decimal("135.00") / usd).quantize(Decimal("0.01")) - Decimal("0.01")
    assert run(declaration(str(under), currency="USD")).relief.applied  # type: ignore[union-attr]
    over = (Decimal("135.00") / usd).quantize(Decimal("0.01")) + Decimal("0.02")
    assert not run(declaration(str(over), currency="USD")).relief.applied  # type: ignore[union-attr]


def test_excise_goods_are_excluded() -> None:
    wine = declaration("60.00", "2204210000", quantity="6", unit="l")
    at = run(wine)
    assert at.relief is not None and not at.relief.applied
    assert "excise" in at.relief.reason and at.total_due > 0


def test_another_rule_is_data_duty_only_vat_on_the_value_alone() -> None:
    duty_only = Reliefs("test", (LowValueRelief(
        "EU-150", date(2026, 1, 1), None, Decimal("150.00"), "GBP", frozenset({"duty"}), (),
        "duty relief on consignments up to 150"),))
    plain = run(declaration("140.00"), reliefs=None)
    at = run(declaration("140.00"), reliefs=duty_only)
    assert at.relief is not None and at.relief.applied
    assert at.total_duty == 0 and plain.total_duty > 0
    # VAT is due, on the customs value without the relieved duty
    assert at.total_vat == sum((i.customs_value * i.vat_rate / 100).quantize(Decimal("0.01"))
                               for i in at.items)
    assert at.total_vat < plain.total_vat


def test_the_measure_in_force_is_the_one_of_the_acceptance_date() -> None:
    later = Reliefs("test", (LowValueRelief(
        "LATER", date(2027, 1, 1), None, Decimal("135.00"), "GBP", frozenset({"duty", "vat"}),
        (), "from 2027"),))
    assert run(declaration("100.00"), reliefs=later).relief is None
    assert run(declaration("100.00"), reliefs=later, on=date(2027, 1, 4)).relief is not None


@pytest.mark.parametrize(("row", "message"), [
    ("gb lower,2021-01-01,,135.00,GBP,duty vat,24,basis", "bad relief code"),
    ("GB-1,2021-01-01,,135.00,GBP,customs,24,basis", "relieves"),
    ("GB-1,2021-01-01,,135.00,GBP,duty,24x,basis", "excluded prefixes"),
    ("GB-1,2021-01-01,,0,GBP,duty,24,basis", "positive"),
    ("GB-1,2021-01-01,,-1,GBP,duty,24,basis", "non-negative decimal"),
])
def test_a_bad_reliefs_file_is_refused_with_its_line(tmp_path: Path, row: str,
                                                      message: str) -> None:
    folder = tmp_path / "tariff"
    folder.mkdir()
    (folder / "reliefs.csv").write_text(
        "# version: t\ncode,valid_from,valid_to,threshold,currency,relieves,"
        f"excluded_prefixes,legal_basis\n{row}\n", encoding="utf-8")
    with pytest.raises(ReferenceDataInvalid, match=message) as caught:
        load_reliefs(tmp_path)
    assert "line 3" in str(caught.value)


def test_overlapping_measures_are_refused_and_an_open_one_ends_at_the_next(
        tmp_path: Path) -> None:
    folder = tmp_path / "tariff"
    folder.mkdir()
    header = ("# version: t\ncode,valid_from,valid_to,threshold,currency,relieves,"
              "excluded_prefixes,legal_basis\n")
    (folder / "reliefs.csv").write_text(
        header + "A,2021-01-01,2024-06-30,135,GBP,duty,,a\nB,2024-01-01,,150,GBP,duty,,b\n",
        encoding="utf-8")
    with pytest.raises(ReferenceDataInvalid, match="overlap"):
        load_reliefs(tmp_path)
    later = tmp_path / "later"
    (later / "tariff").mkdir(parents=True)
    (later / "tariff" / "reliefs.csv").write_text(
        header + "A,2021-01-01,,135,GBP,duty,,a\nB,2024-01-01,,150,GBP,duty,,b\n",
        encoding="utf-8")
    reliefs = load_reliefs(later)
    assert reliefs.on(date(2023, 12, 31)).code == "A"  # type: ignore[union-attr]
    assert reliefs.on(date(2024, 1, 1)).code == "B"  # type: ignore[union-attr]


def test_a_record_made_before_reliefs_re_derives_without_them() -> None:
    at = run(declaration("100.00"), reliefs=None)  # as assessed before reliefs existed
    record = assessment_to_dict(at)
    assert "relief" not in record and at.total_due > 0
    # an auditor passes today's reliefs: the record is re-derived as it was taken
    verify_assessment(record, REFERENCE.tariff, REFERENCE.rates, REFERENCE.reliefs)

"""The packaged reference data and its loaders.

Strategy: load the real files shipped in `shared/reference/data` (no copies, no fakes) and
check the promises the services rely on: every HS 2022 subheading has a line in every tariff
version; national codes match their subheading by longest prefix; the version of the date
applies; rates cover every month of 2026 and 2027 and change at month ends; the ISO lists
are complete; the sample files are labelled as samples and are exactly what the committed
generators produce. Malformed files are written to a temporary folder (also how
`REFERENCE_DATA_DIR` is tested) and must fail loudly with the file and line.
"""

from __future__ import annotations

import csv
import dataclasses
import shutil
from datetime import date, timedelta
from decimal import Decimal as D
from pathlib import Path

import pytest

from shared import reference
from shared.reference import (
    CommodityCodeNotFound,
    ExchangeRateNotFound,
    ReferenceDataInvalid,
    Tariff,
    TariffVersionNotFound,
    build_rates,
    build_tariff,
    load_exchange_rates,
    load_tariff,
    parse_tariff_version,
)

DATA = reference.PACKAGED_DATA_DIR
REQUIRED_CURRENCIES = ("USD", "EUR", "CNY", "JPY", "CHF", "INR")


# --- HS 2022 and the tariff -------------------------------------------------------------------


def test_the_copied_nomenclature_has_all_5613_subheadings() -> None:
    with (DATA / "hs2022" / "harmonized-system.csv").open(encoding="utf-8", newline="") as f:
        rows = list(csv.DictReader(f))
    six = [row["hscode"] for row in rows if row["level"] == "6"]
    assert len(six) == len(set(six)) == 5613
    assert all(len(code) == 6 and code.isdigit() for code in six)
    assert set(reference.hs_subheadings()) == set(six) - {"999999"}  # not an HS code
    assert (DATA / "hs2022" / "README.md").read_text().count("PDDL 1.0") >= 1


def test_every_hs_2022_subheading_has_a_line_in_every_tariff_version() -> None:
    tariff = load_tariff()
    subheadings = reference.hs_subheadings()
    assert len(tariff.versions) >= 2
    for version in tariff.versions:
        day = version.valid_from
        missing = [code for code in subheadings if code not in version.codes]
        assert missing == [], f"{version.version}: {missing[:5]}"
        for code in subheadings:
            line = tariff.lookup(code + "0000", day)  # a 10-digit national code under it
            assert line.code == code or line.code.startswith(code)
            assert line.vat_rate in (0, 5, 20)
            assert line.tariff_version == version.version


def test_the_tariff_has_every_kind_of_measure_and_preferences() -> None:
    version = load_tariff().versions[0]
    kinds = {measure.kind for measure, _ in version.third_country.values()}
    assert kinds == {"ad_valorem", "specific", "compound"}
    assert any(m.minimum and m.maximum for m, _ in version.third_country.values())
    assert {"kg", "p/st", "l", "pa"} <= {
        u for m, _ in version.third_country.values() for u in m.units
    }
    assert set(version.schemes) == {"FTA", "GSP", "LDC"}
    assert all(origins <= reference.countries() for origins in version.schemes.values())


def test_national_codes_match_by_longest_prefix() -> None:
    tariff = load_tariff()
    day = date(2026, 3, 2)
    assert tariff.lookup("8703800010", day).code == "8703800010"  # the sample override
    assert tariff.lookup("8703800090", day).code == "870380"
    assert tariff.lookup("87038000", day).code == "870380"
    assert tariff.has_code("851713", day)
    assert tariff.has_code("8517130000", day)
    for bad in ("85171", "8517130", "851713000", "85171300000", "ABCDEF", "", "000000"):
        assert not tariff.has_code(bad, day), bad
    with pytest.raises(CommodityCodeNotFound) as caught:
        tariff.lookup("000000", day)
    assert caught.value.version == "2026-01"


def test_the_version_valid_on_the_date_applies() -> None:
    tariff = load_tariff()
    assert tariff.version_on(date(2026, 6, 30)).version == "2026-01"
    assert tariff.version_on(date(2026, 7, 1)).version == "2026-07"
    assert tariff.version_on(date(2027, 12, 31)).version == "2026-07"
    # the showcase smartphone line: 2 % until June, 1 % from July
    assert tariff.lookup("8517130000", date(2026, 6, 30)).third_country.ad_valorem_pct == 2
    assert tariff.lookup("8517130000", date(2026, 7, 1)).third_country.ad_valorem_pct == 1
    assert tariff.vat_rate("4901990000", date(2026, 7, 1)) == 0
    assert tariff.currency(date(2026, 7, 1)) == "GBP"
    with pytest.raises(TariffVersionNotFound):
        tariff.lookup("8517130000", date(2025, 12, 31))
    assert not tariff.has_code("8517130000", date(2025, 12, 31))
    differing = [
        code
        for code in tariff.versions[0].third_country
        if tariff.versions[0].third_country[code] != tariff.versions[1].third_country[code]
    ]
    assert len(differing) > 100


def test_an_open_version_ends_when_the_next_one_starts() -> None:
    base = (
        "# currency: GBP\ncode,scheme,ad_valorem_pct,specific_amount,specific_unit,"
        "min_amount,min_unit,max_amount,max_unit,vat_pct\n"
    )
    first = parse_tariff_version(
        f"# version: A\n# valid_from: 2026-01-01\n# valid_to: open\n{base}100001,,5,,,,,,,20\n"
    )
    second = parse_tariff_version(
        f"# version: B\n# valid_from: 2026-04-01\n# valid_to: open\n{base}100001,,7,,,,,,,20\n"
    )
    tariff = Tariff([second, first])
    assert tariff.version_on(date(2026, 3, 31)).version == "A"
    assert tariff.version_on(date(2026, 4, 1)).version == "B"
    assert tariff.valid_to(first) == date(2026, 3, 31)
    assert tariff.valid_to(second) is None


def test_the_sample_files_are_labelled_and_reproducible() -> None:
    for path in sorted((DATA / "tariff").glob("tariff-*.csv")):
        assert path.read_text(encoding="utf-8").startswith("# SAMPLE RATES"), path
    for path in sorted((DATA / "rates").glob("rates-*.csv")):
        assert path.read_text(encoding="utf-8").startswith("# SAMPLE EXCHANGE RATES"), path
    assert "SAMPLE" in (DATA / "tariff" / "README.md").read_text()
    assert all(v.notice.startswith("SAMPLE RATES") for v in load_tariff().versions)
    for name, text in build_tariff.outputs().items():
        assert (DATA / "tariff" / name).read_text(encoding="utf-8") == text, name
    for name, text in build_rates.outputs().items():
        assert (DATA / "rates" / name).read_text(encoding="utf-8") == text, name
    assert build_tariff.main(["--check"]) == 0
    assert build_rates.main(["--check"]) == 0


# --- statistical aggregates are no tariff lines ---------------------------------------------

#: Comtrade's rows of its own (section TOTAL: 99, 9999, 999999, TOTAL) and its aggregation
#: levels, and codes of chapters 99 and 98 (left by the HS to national and statistical use).
AGGREGATES = ("999999", "9999990000", "99050000", "990500", "9880000000", "980000",
              "TOTAL", "total", "AG2", "AG4", "AG6", "99", "9999")


def _real_subheadings() -> set[str]:
    """Level-6 rows of the copied nomenclature, less Comtrade's own section TOTAL."""
    with (DATA / "hs2022" / "harmonized-system.csv").open(encoding="utf-8", newline="") as f:
        rows = list(csv.DictReader(f))
    return {row["hscode"] for row in rows if row["level"] == "6" and row["section"] != "TOTAL"}


def test_no_statistical_aggregate_is_among_the_tariffs_commodity_codes() -> None:
    real = _real_subheadings()
    assert len(real) == 5612 and "999999" not in real
    tariff = load_tariff()
    for version in tariff.versions:
        day = version.valid_from
        outside = sorted(code for code in version.codes if code[:6] not in real)
        assert outside == [], f"{version.version}: {outside[:5]}"
        assert version.left_out == ()  # the packaged files list none
        for code in AGGREGATES:
            assert code not in version.codes
            assert version.find(code) is None
            assert not tariff.has_code(code, day), code
            with pytest.raises(CommodityCodeNotFound, match="not a tariff line"):
                tariff.lookup(code, day)
    assert set(reference.hs_subheadings()) == real
    assert not {"99", "9999"} & set(reference.hs_headings())
    for code in AGGREGATES:
        assert reference.statistical_aggregate(code), code
        assert not reference.is_commodity_code(code), code
    assert not [code for code in real if reference.statistical_aggregate(code)]
    assert reference.statistical_aggregate("8517") is None  # a heading: no aggregate, no code
    assert not reference.is_commodity_code("8517")


def test_a_tariff_file_that_lists_an_aggregate_loads_without_it(tmp_path: Path) -> None:
    """The rule is the loader's, whatever a file says: an old copy of the sample files (which
    listed 999999) or an administration's file with chapter 99 codes still loads, every other
    line as before, and the aggregates are left out, named on the version."""
    folder = _copy(tmp_path)
    path = folder / "tariff" / "tariff-2026-07.csv"
    path.write_text(
        path.read_text(encoding="utf-8")
        + "999999,,0,,,,,,,20\n999999,LDC,0,,,,,,,\n9905000000,,0,,,,,,,20\nTOTAL,,0,,,,,,,20\n",
        encoding="utf-8",
    )
    tariff = load_tariff(folder)
    packaged = load_tariff()
    day = date(2026, 7, 1)
    assert tariff.version_on(day).left_out == ("9905000000", "999999", "TOTAL")
    assert tariff.version_on(day).third_country == packaged.version_on(day).third_country
    for code in ("999999", "9999990000", "9905000000", "TOTAL"):
        assert not tariff.has_code(code, day), code
        with pytest.raises(CommodityCodeNotFound, match="not a tariff line") as caught:
            tariff.lookup(code, day)
        assert caught.value.version == "2026-07"
    assert tariff.lookup("8517130000", day) == packaged.lookup("8517130000", day)


def test_a_tariff_version_cannot_hold_an_aggregate() -> None:
    version = load_tariff().versions[0]
    line = version.third_country["851713"]
    with pytest.raises(ValueError, match="999999"):
        dataclasses.replace(version, third_country={**version.third_country, "999999": line})


def test_loading_is_cached_per_process() -> None:
    assert load_tariff() is load_tariff()
    assert load_exchange_rates() is load_exchange_rates()
    assert reference.currencies() is reference.currencies()


# --- exchange rates ---------------------------------------------------------------------------


def test_rates_cover_every_month_of_2026_and_2027() -> None:
    rates = load_exchange_rates()
    assert rates.national_currency == "GBP"
    assert set(rates.versions) == {"2026", "2027"}
    day = date(2026, 1, 1)
    while day <= date(2027, 12, 31):
        for currency in REQUIRED_CURRENCIES:
            quote = rates.rate(currency, day)
            assert quote.valid_from == day.replace(day=1)
            assert quote.version == str(day.year)
        day += timedelta(days=1)
    assert rates.currencies <= set(reference.currencies())


def test_the_rate_changes_at_the_month_end() -> None:
    rates = load_exchange_rates()
    for currency in REQUIRED_CURRENCIES:
        last_of_january = rates.rate(currency, date(2026, 1, 31))
        first_of_february = rates.rate(currency, date(2026, 2, 1))
        assert last_of_january.rate != first_of_february.rate
        assert last_of_january.valid_to == date(2026, 1, 31)
        # EU-style: published on the penultimate Wednesday of the month before
        assert first_of_february.published_on == date(2026, 1, 21)
        assert first_of_february.published_on.weekday() == 2


def test_the_national_currency_converts_at_one() -> None:
    quote = load_exchange_rates().rate("GBP", date(2026, 5, 5))
    assert quote.rate == 1 and quote.version == "identity"


def test_a_rate_outside_the_covered_months_is_a_named_error() -> None:
    with pytest.raises(ExchangeRateNotFound):
        load_exchange_rates().rate("USD", date(2028, 1, 1))
    with pytest.raises(ExchangeRateNotFound):
        load_exchange_rates().rate("ZWG", date(2026, 1, 1))


# --- ISO lists ----------------------------------------------------------------------------------


def test_iso_3166_alpha_2_is_complete() -> None:
    codes = reference.countries()
    assert len(codes) == 249
    assert {"GB", "CN", "US", "DE", "IN", "JP", "AQ", "AX", "BQ", "CW", "SS", "SX"} <= codes
    assert not {"XK", "UK", "EU", "XI", "AN", "YU", "CS"} & codes
    assert reference.country_names()["CI"] == "Côte d'Ivoire"


def test_iso_4217_minor_units() -> None:
    minor = reference.currencies()
    expected = {
        "GBP": 2,
        "USD": 2,
        "EUR": 2,
        "JPY": 0,
        "KRW": 0,
        "BHD": 3,
        "KWD": 3,
        "CLF": 4,
        "UYW": 4,
        "CNY": 2,
        "INR": 2,
        "CHF": 2,
        "VND": 0,
        "XOF": 0,
        "ISK": 0,
    }
    assert {code: minor[code] for code in expected} == expected
    assert not {"XAU", "XDR", "XXX", "HRK", "ANG", "SLL", "ZWL", "BGN"} & set(minor)
    assert {"XCG", "ZWG", "SLE", "VED"} <= set(minor)
    assert 150 <= len(minor) <= 170


# --- configuration and malformed files ------------------------------------------------------


def _copy(tmp_path: Path) -> Path:
    target = tmp_path / "reference"
    shutil.copytree(DATA, target)
    return target


def test_reference_data_dir_selects_the_folder(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    folder = _copy(tmp_path)
    for path in (folder / "rates").glob("*.csv"):
        path.unlink()
    (folder / "rates" / "rates-T.csv").write_text(
        "# version: T\n# national_currency: GBP\ncurrency,rate,valid_from,valid_to\n"
        "USD,0.5,2026-01-01,2026-01-31\n"
    )
    monkeypatch.setenv("REFERENCE_DATA_DIR", str(folder))
    rates = load_exchange_rates()
    assert rates.rate("USD", date(2026, 1, 9)).rate == D("0.5")
    assert rates.versions == ("T",)
    monkeypatch.delenv("REFERENCE_DATA_DIR")
    assert load_exchange_rates().versions == ("2026", "2027")


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (lambda t: t.replace("# version: 2026-01", "# version: other"), "file name"),
        (
            lambda t: t.replace(
                "\n010121,,0,,,,,,,20\n", "\n010121,,0,,,,,,,20\n010121,,1,,,,,,,20\n"
            ),
            "two third-country rows",
        ),
        (lambda t: t.replace("\n010121,,0,,,,,,,20\n", "\n0101X1,,0,,,,,,,20\n"), "commodity code"),
        (lambda t: t.replace("\n010121,,0,,,,,,,20\n", "\n010121,,0,,,,,,,\n"), "vat_pct"),
        (lambda t: t.replace("\n010121,,0,,,,,,,20\n", "\n010121,,-1,,,,,,,20\n"), "decimal"),
        (lambda t: t.replace("\n010121,,0,,,,,,,20\n", "\n010121,,0,1,lb,,,,,20\n"), "unit"),
        (lambda t: t.replace("\n010121,,0,,,,,,,20\n", "\n010121,XYZ,0,,,,,,,\n"), "not declared"),
        (lambda t: t.replace("\n010121,,0,,,,,,,20\n", "\n010121,,,,,,,,,20\n"), "measure needs"),
        (lambda t: t.replace("# valid_to: 2026-06-30", "# valid_to: 2026-09-30"), "overlap"),
        (lambda t: t.replace("# currency: GBP", "# currency: pounds"), "currency"),
    ],
)
def test_a_malformed_tariff_fails_loudly(tmp_path: Path, change: object, message: str) -> None:
    folder = _copy(tmp_path)
    path = folder / "tariff" / "tariff-2026-01.csv"
    original = path.read_text(encoding="utf-8")
    changed = change(original)  # type: ignore[operator]
    assert changed != original
    path.write_text(changed, encoding="utf-8")
    with pytest.raises(ReferenceDataInvalid) as caught:
        load_tariff(folder)
    assert message in str(caught.value)


def test_overlapping_rates_fail_loudly(tmp_path: Path) -> None:
    folder = _copy(tmp_path)
    (folder / "rates" / "rates-extra.csv").write_text(
        "# version: extra\n# national_currency: GBP\ncurrency,rate,valid_from,valid_to\n"
        "USD,0.5,2026-01-15,2026-02-14\n"
    )
    with pytest.raises(ReferenceDataInvalid, match="overlap"):
        load_exchange_rates(folder)

"""Small hand-written reference data and builders for the payment domain tests.

The fixture tariff and rates are written in the real file format and parsed by the real
parsers, so the hand-computed cases exercise the loaders too. Codes `1000xx` are invented
test lines, not HS subheadings.
"""

from __future__ import annotations

from datetime import date
from decimal import Decimal

from services.payment.domain import (
    Assessment,
    AssessmentPolicy,
    DutyDeclaration,
    DutyItem,
    PreferenceClaim,
    assess,
)
from shared.reference import (
    ExchangeRates,
    Tariff,
    parse_rates,
    parse_tariff_version,
)

D = Decimal
MINOR_UNITS = {"GBP": 2, "USD": 2, "EUR": 2, "JPY": 0, "BHD": 3}

#: T1, valid for the first half of 2026.
TARIFF_T1 = """\
# notice: TEST TARIFF - invented lines for unit tests
# version: T1
# valid_from: 2026-01-01
# valid_to: 2026-06-30
# currency: GBP
# scheme.GSP: IN VN
# scheme.FTA: CH
code,scheme,ad_valorem_pct,specific_amount,specific_unit,min_amount,min_unit,max_amount,max_unit,vat_pct
100001,,12,,,,,,,20
100002,,,1.50,kg,,,,,20
100003,,,0.25,p/st,,,,,20
100004,,8,0.90,pa,2.50,pa,6.00,pa,20
100005,,10,,,,,,,5
100005,FTA,0,,,,,,,
100005,GSP,2,,,,,,,
10000510,,4,,,,,,,5
10000590,,0,,,,,,,5
100006,,0,,,,,,,0
100007,,,0.32,l,,,,,20
"""

#: T2, from 2026-07-01, open: 100001 drops from 12 % to 10 %.
TARIFF_T2 = (
    TARIFF_T1.replace("# version: T1", "# version: T2")
    .replace(
        "# valid_from: 2026-01-01\n# valid_to: 2026-06-30",
        "# valid_from: 2026-07-01\n# valid_to: open",
    )
    .replace("100001,,12,", "100001,,10,")
)

RATES_R1 = """\
# version: R1
# national_currency: GBP
currency,rate,valid_from,valid_to,published_on
USD,0.80,2026-01-01,2026-01-31,2025-12-24
USD,0.75,2026-02-01,2026-02-28,2026-01-21
EUR,0.85,2026-01-01,2026-12-31,
JPY,0.005,2026-01-01,2026-12-31,
BHD,2.1,2026-01-01,2026-12-31,
"""

JAN = date(2026, 1, 15)


def tariff() -> Tariff:
    return Tariff([parse_tariff_version(TARIFF_T1, "T1"), parse_tariff_version(TARIFF_T2, "T2")])


def rates() -> ExchangeRates:
    national, found = parse_rates(RATES_R1, "R1")
    return ExchangeRates(national, found)


def item(
    hs_code: str = "100001",
    *,
    value: str = "1000.00",
    origin: str = "CN",
    quantity: str = "1",
    unit: str = "p/st",
    net_mass_kg: str = "1",
    preference: PreferenceClaim | None = None,
) -> DutyItem:
    return DutyItem(
        hs_code=hs_code,
        origin=origin,
        quantity=D(quantity),
        unit=unit,
        net_mass_kg=D(net_mass_kg),
        value=D(value),
        preference=preference,
    )


def declaration(
    *items: DutyItem,
    currency: str = "USD",
    incoterm: str = "CIF",
    freight: str = "0.00",
    insurance: str = "0.00",
) -> DutyDeclaration:
    return DutyDeclaration(
        currency=currency,
        incoterm=incoterm,
        freight=D(freight),
        insurance=D(insurance),
        items=items or (item(),),
    )


def run(
    decl: DutyDeclaration, on: date = JAN, policy: AssessmentPolicy | None = None
) -> Assessment:
    """`assess` against the fixture tariff and rates."""
    return assess(decl, on, tariff(), rates(), minor_units=MINOR_UNITS, policy=policy)

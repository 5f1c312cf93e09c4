"""Generate the SAMPLE tariff files `data/tariff/tariff-<version>.csv` from HS 2022.

The rates are INVENTED for testing and demonstration; they are not the tariff of any
administration. Every HS 2022 subheading of `data/hs2022/harmonized-system.csv` (its 5,613
level-6 rows less Comtrade's statistical `999999`: 5,612) gets a third-country measure and a
VAT rate; lines with a non-zero duty also get preferential measures under three sample
schemes. How a rate is chosen:

- a few "showcase" subheadings have fixed measures (`SHOWCASE`), so examples stay readable;
- otherwise a rule per chapter picks from a small pool with a hash of the code (`_pick`):
  specific duties per kg for meat and dairy (chapters 02, 04), per litre for beverages (22),
  per item or pair with MIN and MAX for cigarettes (2402), watches (9101, 9102) and
  footwear (6401-6405), compound measures and ad valorem rates with a MIN for part of
  chapters 05-21, and ad valorem rates elsewhere;
- VAT: 0 % for chapters 30 and 49, 5 % for chapters 02, 03, 04, 07, 08, 10, 11 and 19,
  20 % otherwise;
- version 2026-07 revises about one ad valorem line in twelve by one step of its pool,
  indexes the per-litre amounts of chapter 22 by 3 %, changes the showcase smartphone rate
  and removes one origin from GSP.

Deterministic: the same command writes the same bytes.

    python -m shared.reference.build_tariff            # write into the package
    python -m shared.reference.build_tariff --check    # exit 1 if the files differ
"""

from __future__ import annotations

import argparse
import csv
import hashlib
import io
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, replace
from datetime import date
from decimal import ROUND_HALF_UP, Decimal
from pathlib import Path

from .build_rates import _write_or_check
from .files import PACKAGED_DATA_DIR
from .nomenclature import statistical_aggregate
from .tariff import COLUMNS

NATIONAL_CURRENCY = "GBP"
HS_CSV = PACKAGED_DATA_DIR / "hs2022" / "harmonized-system.csv"

Rate = tuple[str, str]  # (amount, unit)


@dataclass(frozen=True)
class Spec:
    """A measure as text, exactly as it will be written."""

    av: str | None = None
    specific: Rate | None = None
    minimum: Rate | None = None
    maximum: Rate | None = None

    def cells(self) -> list[str]:
        def pair(rate: Rate | None) -> list[str]:
            return ["", ""] if rate is None else [rate[0], rate[1]]

        return [self.av or "", *pair(self.specific), *pair(self.minimum), *pair(self.maximum)]

    @property
    def is_zero(self) -> bool:
        return (self.av is None or Decimal(self.av) == 0) and self.specific is None


@dataclass(frozen=True)
class VersionSpec:
    version: str
    valid_from: date
    valid_to: date | None
    schemes: dict[str, tuple[str, ...]]


FTA_ORIGINS = (
    "AT BE BG CY CZ DE DK EE ES FI FR GR HR HU IE IT LT LU LV MT NL PL PT RO SE SI SK "
    "CH IS LI NO JP KR CA AU NZ"
).split()
GSP_ORIGINS = "CK CM CV DZ FM GH ID IN KE LK MN NG NU PH PK TJ UZ VN".split()
LDC_ORIGINS = (
    "AF AO BD BF BI BJ CD CF DJ ER ET GM GN GW HT KH KI KM LA LR LS MG ML MM MR MW MZ NE "
    "NP RW SB SD SL SN SO SS TD TG TL TZ UG YE ZM"
).split()

VERSIONS = (
    VersionSpec(
        "2026-01",
        date(2026, 1, 1),
        date(2026, 6, 30),
        {"FTA": tuple(FTA_ORIGINS), "GSP": tuple(GSP_ORIGINS), "LDC": tuple(LDC_ORIGINS)},
    ),
    VersionSpec(
        "2026-07",
        date(2026, 7, 1),
        None,
        {
            "FTA": tuple(FTA_ORIGINS),
            "GSP": tuple(o for o in GSP_ORIGINS if o != "ID"),
            "LDC": tuple(LDC_ORIGINS),
        },
    ),
)

AV_INDUSTRIAL = (
    "0",
    "0",
    "0",
    "0",
    "1.7",
    "2",
    "2.2",
    "2.7",
    "3.2",
    "3.5",
    "4",
    "4.5",
    "5.3",
    "6",
    "6.5",
    "8",
)
AV_AGRI = ("0", "4", "6.4", "8", "9.6", "10.2", "12", "14.7", "16", "20")
AV_APPAREL = ("8", "10", "12", "12", "16")
AV_MADE_UP = ("4", "8", "12")
PER_KG_MEAT = ("0.45", "0.85", "1.20", "1.75", "2.30", "3.04")
PER_KG_DAIRY = ("0.55", "1.10", "1.67", "2.21")
PER_KG_SMALL = ("0.10", "0.15", "0.24", "0.35")
PER_LITRE = ("0.08", "0.10", "0.18", "0.32", "0.55", "1.10")
FOOTWEAR = (  # (per pair, MIN per pair, MAX per pair)
    ("0.50", "1.50", "4.00"),
    ("0.90", "2.50", "6.00"),
    ("1.20", "3.00", "8.00"),
    ("1.50", "3.50", "10.00"),
)

#: Fixed measures for readable examples: code -> {version: Spec} (a missing version = same
#: as the previous one).
SHOWCASE: dict[str, dict[str, Spec]] = {
    "851713": {"2026-01": Spec(av="2"), "2026-07": Spec(av="1")},  # smartphones
    "020130": {"2026-01": Spec(av="12.8", specific=("3.04", "kg"))},  # beef, boneless
    "220421": {"2026-01": Spec(specific=("0.32", "l")), "2026-07": Spec(specific=("0.33", "l"))},
    "240220": {  # cigarettes containing tobacco
        "2026-01": Spec(
            av="10",
            specific=("0.012", "p/st"),
            minimum=("0.020", "p/st"),
            maximum=("0.050", "p/st"),
        ),
    },
    "640399": {  # footwear, leather uppers, other
        "2026-01": Spec(
            av="8", specific=("0.90", "pa"), minimum=("2.50", "pa"), maximum=("6.00", "pa")
        ),
    },
    "910211": {  # wrist-watches, electrically operated, mechanical display
        "2026-01": Spec(av="4.5", minimum=("0.30", "p/st"), maximum=("0.80", "p/st")),
    },
    "610910": {"2026-01": Spec(av="12")},  # T-shirts of cotton
    "870380": {"2026-01": Spec(av="10")},  # cars with only an electric motor
    "490199": {"2026-01": Spec(av="0")},  # printed books
}

#: Sample national codes (10 digits) overriding their subheading, to show the mechanism.
NATIONAL_OVERRIDES: dict[str, Spec] = {
    "8703800010": Spec(av="0"),  # SAMPLE national split of 870380 at a zero rate
}


def _hash(salt: str, code: str) -> int:
    return int.from_bytes(hashlib.sha256(f"{salt}:{code}".encode()).digest()[:8], "big")


def _pick(pool: Sequence[str], code: str, salt: str = "tc") -> str:
    return pool[_hash(salt, code) % len(pool)]


def _text(value: Decimal) -> str:
    return format(value.normalize(), "f")


def _scale(rate: Rate | None, factor: Decimal) -> Rate | None:
    if rate is None:
        return None
    amount = (Decimal(rate[0]) * factor).quantize(Decimal("0.0001"), rounding=ROUND_HALF_UP)
    return (_text(amount), rate[1])


def third_country(code: str, version: str) -> Spec:
    """The invented third-country measure of a subheading in a version."""
    if code in SHOWCASE:
        spec: Spec | None = None
        for name in (v.version for v in VERSIONS):
            spec = SHOWCASE[code].get(name, spec)
            if name == version:
                break
        assert spec is not None
        return spec
    spec, pool = _base(code)
    if version == "2026-01":
        return spec
    return _revise(code, spec, pool)


def _base(code: str) -> tuple[Spec, Sequence[str] | None]:
    """The line's 2026-01 measure, and the pool a plain ad valorem rate was drawn from."""
    chapter, heading = int(code[:2]), code[:4]
    h = _hash("shape", code)
    if chapter == 2:
        if h % 2:
            return Spec(
                av=_pick(AV_AGRI[1:], code), specific=(_pick(PER_KG_MEAT, code), "kg")
            ), None
        return Spec(specific=(_pick(PER_KG_MEAT, code), "kg")), None
    if chapter == 4:
        amount = _pick(PER_KG_DAIRY, code)
        if h % 3 == 0:
            cap = _text(Decimal(amount) * Decimal("1.5"))
            return Spec(
                av=_pick(AV_AGRI[1:5], code), specific=(amount, "kg"), maximum=(cap, "kg")
            ), None
        return Spec(specific=(amount, "kg")), None
    if 5 <= chapter <= 21:
        if h % 6 == 0:
            return Spec(
                av=_pick(AV_AGRI[1:], code), specific=(_pick(PER_KG_SMALL, code), "kg")
            ), None
        if h % 6 == 1:
            return Spec(
                av=_pick(AV_AGRI[1:], code), minimum=(_pick(PER_KG_SMALL, code), "kg")
            ), None
        return Spec(av=_pick(AV_AGRI, code)), AV_AGRI
    if chapter in (1, 3):
        return Spec(av=_pick(AV_AGRI, code)), AV_AGRI
    if chapter == 22:
        return Spec(specific=(_pick(PER_LITRE, code), "l")), None
    if heading == "2401":
        return Spec(av="11.2", minimum=("0.22", "kg"), maximum=("0.56", "kg")), None
    if heading == "2402":
        return Spec(
            av="10",
            specific=("0.012", "p/st"),
            minimum=("0.020", "p/st"),
            maximum=("0.050", "p/st"),
        ), None
    if chapter == 24:
        return Spec(av=_pick(("8", "16.6"), code)), None
    if chapter in (61, 62):
        return Spec(av=_pick(AV_APPAREL, code)), AV_APPAREL
    if chapter == 63:
        return Spec(av=_pick(AV_MADE_UP, code)), AV_MADE_UP
    if chapter == 64 and heading != "6406":
        per_pair, floor, cap = FOOTWEAR[h % len(FOOTWEAR)]
        return Spec(
            av=_pick(("8", "12", "17"), code),
            specific=(per_pair, "pa"),
            minimum=(floor, "pa"),
            maximum=(cap, "pa"),
        ), None
    if heading in ("9101", "9102"):
        return Spec(av="4.5", minimum=("0.30", "p/st"), maximum=("0.80", "p/st")), None
    return Spec(av=_pick(AV_INDUSTRIAL, code)), AV_INDUSTRIAL


def _revise(code: str, spec: Spec, pool: Sequence[str] | None) -> Spec:
    """Version 2026-07's changes to a generated line."""
    if code.startswith("22") and spec.specific is not None:
        return replace(spec, specific=_scale(spec.specific, Decimal("1.03")))
    h = _hash("2026-07", code)
    if pool is None or spec.av is None or h % 12:
        return spec
    steps = sorted({Decimal(value) for value in pool})
    index = steps.index(Decimal(spec.av))
    step = 1 if h & (1 << 40) else -1
    if not 0 <= index + step < len(steps):
        step = -step
    return replace(spec, av=_text(steps[index + step]))


def vat_pct(code: str) -> str:
    chapter = int(code[:2])
    if chapter in (30, 49):
        return "0"
    if chapter in (2, 3, 4, 7, 8, 10, 11, 19):
        return "5"
    return "20"


def preferences(code: str, spec: Spec) -> Iterator[tuple[str, Spec]]:
    """The sample preferential measures of a line (none on zero-duty lines or arms)."""
    chapter = int(code[:2])
    if spec.is_zero or chapter == 93:
        return
    if chapter >= 25:
        yield "FTA", Spec(av="0")
    else:
        yield "FTA", _reduce(spec, Decimal("0.5"), Decimal(0))
    yield "GSP", _reduce(spec, Decimal("0.7"), Decimal("3.5"))
    yield "LDC", Spec(av="0")


def _reduce(spec: Spec, factor: Decimal, points: Decimal) -> Spec:
    """Ad valorem reduced by `points` (and by `factor` when points is 0); amounts x factor."""
    av = None
    if spec.av is not None:
        base = Decimal(spec.av)
        reduced = max(Decimal(0), base - points) if points else base * factor
        av = _text(reduced)
    reduced_spec = Spec(
        av=av,
        specific=_scale(spec.specific, factor),
        minimum=_scale(spec.minimum, factor),
        maximum=_scale(spec.maximum, factor),
    )
    if reduced_spec.av is None and reduced_spec.specific is None:
        return Spec(av="0")
    return reduced_spec


def subheadings(hs_csv: Path = HS_CSV) -> list[str]:
    """The level-6 codes of the nomenclature that are tariff lines (not `999999`)."""
    with hs_csv.open(encoding="utf-8", newline="") as handle:
        return sorted(
            row["hscode"]
            for row in csv.DictReader(handle)
            if row["level"] == "6" and statistical_aggregate(row["hscode"]) is None
        )


def render(spec: VersionSpec, codes: Sequence[str]) -> str:
    out = io.StringIO()
    out.write(
        "# SAMPLE RATES - invented for testing and demonstration.\n"
        "# NOT the customs tariff of any administration: never use for real duties.\n"
        "# notice: SAMPLE RATES - not the customs tariff of any administration\n"
        f"# version: {spec.version}\n"
        f"# valid_from: {spec.valid_from.isoformat()}\n"
        f"# valid_to: {spec.valid_to.isoformat() if spec.valid_to else 'open'}\n"
        f"# currency: {NATIONAL_CURRENCY}\n"
        "# nomenclature: HS 2022 (data/hs2022, PDDL 1.0, from UN Comtrade via"
        " datasets/harmonized-system)\n"
        "# generated_by: python -m shared.reference.build_tariff (deterministic; do not edit)\n"
    )
    out.write(
        "# Sample preference schemes (rates invented like the rest):\n"
        "#   FTA = a sample free-trade area: 0 on chapters 25-97, half the rates on 01-24;\n"
        "#   GSP = sample generalised preferences: ad valorem less 3.5 points, amounts x 0.7;\n"
        "#   LDC = sample duty-free access for least developed countries.\n"
        "#   None on zero-duty lines or on chapter 93 (arms).\n"
    )
    for scheme, origins in sorted(spec.schemes.items()):
        out.write(f"# scheme.{scheme}: {' '.join(sorted(origins))}\n")
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(COLUMNS)
    rows: list[list[str]] = []
    for code in codes:
        measure = third_country(code, spec.version)
        rows.append([code, "", *measure.cells(), vat_pct(code)])
        for scheme, preferential in preferences(code, measure):
            rows.append([code, scheme, *preferential.cells(), ""])
    for code, measure in NATIONAL_OVERRIDES.items():
        rows.append([code, "", *measure.cells(), vat_pct(code)])
    rows.sort(key=lambda row: (row[0], row[1]))
    writer.writerows(rows)
    return out.getvalue()


def outputs(hs_csv: Path = HS_CSV) -> dict[str, str]:
    """File name -> content, for every version."""
    codes = subheadings(hs_csv)
    return {f"tariff-{spec.version}.csv": render(spec, codes) for spec in VERSIONS}


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Generate the SAMPLE tariff files.")
    parser.add_argument("--hs", type=Path, default=HS_CSV, help="HS 2022 nomenclature CSV")
    parser.add_argument("--out", type=Path, default=PACKAGED_DATA_DIR / "tariff")
    parser.add_argument("--check", action="store_true", help="compare, do not write")
    args = parser.parse_args(argv)
    return _write_or_check(outputs(args.hs), args.out, args.check)


if __name__ == "__main__":
    raise SystemExit(main())

"""Generate the SAMPLE monthly exchange-rate files `data/rates/rates-<year>.csv`.

The rates are invented: a plausible starting level per currency and a deterministic monthly
walk (a hash of currency and month), quoted to six significant figures. They are NOT the
published rates of any administration. Deterministic: the same command writes the same bytes.

    python -m shared.reference.build_rates            # write 2026 and 2027 into the package
    python -m shared.reference.build_rates --check    # exit 1 if the files differ
"""

from __future__ import annotations

import argparse
import hashlib
import sys
from collections.abc import Sequence
from datetime import date, timedelta
from decimal import ROUND_HALF_UP, Decimal
from pathlib import Path

from .files import PACKAGED_DATA_DIR

NATIONAL_CURRENCY = "GBP"
YEARS = (2026, 2027)
MAX_MONTHLY_MOVE = Decimal("0.015")  # at most 1.5 % a month
SIGNIFICANT_FIGURES = 6

#: Amount of GBP for one unit of each currency in the first month (invented levels).
START: dict[str, Decimal] = {
    "AED": Decimal("0.2028"),
    "AUD": Decimal("0.4890"),
    "BDT": Decimal("0.006100"),
    "BRL": Decimal("0.1390"),
    "CAD": Decimal("0.5350"),
    "CHF": Decimal("0.9340"),
    "CNY": Decimal("0.1046"),
    "DKK": Decimal("0.1167"),
    "EUR": Decimal("0.8710"),
    "HKD": Decimal("0.09580"),
    "INR": Decimal("0.008420"),
    "JPY": Decimal("0.004870"),
    "KRW": Decimal("0.0005350"),
    "MXN": Decimal("0.04050"),
    "NOK": Decimal("0.07350"),
    "NZD": Decimal("0.4300"),
    "PLN": Decimal("0.2050"),
    "SEK": Decimal("0.07900"),
    "SGD": Decimal("0.5750"),
    "THB": Decimal("0.02300"),
    "TRY": Decimal("0.01760"),
    "USD": Decimal("0.7450"),
    "VND": Decimal("0.00002830"),
    "ZAR": Decimal("0.04300"),
}


def penultimate_wednesday(year: int, month: int) -> date:
    """The penultimate Wednesday of a month (the EU publication day for next month's rate)."""
    last = _month_end(year, month)
    last_wednesday = last - timedelta(days=(last.weekday() - 2) % 7)
    return last_wednesday - timedelta(days=7)


def _month_end(year: int, month: int) -> date:
    following = date(year + 1, 1, 1) if month == 12 else date(year, month + 1, 1)
    return following - timedelta(days=1)


def _significant(value: Decimal) -> Decimal:
    exponent = value.adjusted() - (SIGNIFICANT_FIGURES - 1)
    return value.quantize(Decimal(1).scaleb(exponent), rounding=ROUND_HALF_UP)


def _move(currency: str, year: int, month: int) -> Decimal:
    """A non-zero relative move in (-1.5 %, +1.5 %], fixed by currency and month."""
    digest = hashlib.sha256(f"{currency}:{year:04d}-{month:02d}".encode()).digest()
    number = int.from_bytes(digest[:8], "big")
    size = Decimal(number % 1000 + 1) / 1000 * MAX_MONTHLY_MOVE
    return size if number & (1 << 62) else -size


def monthly_rates() -> dict[int, list[tuple[str, Decimal, date, date, date]]]:
    """year -> rows of (currency, rate, valid_from, valid_to, published_on)."""
    levels = dict(START)
    rows: dict[int, list[tuple[str, Decimal, date, date, date]]] = {year: [] for year in YEARS}
    for year in YEARS:
        for month in range(1, 13):
            published = (
                penultimate_wednesday(year - 1, 12)
                if month == 1
                else penultimate_wednesday(year, month - 1)
            )
            for currency in sorted(levels):
                if (year, month) != (YEARS[0], 1):
                    levels[currency] = levels[currency] * (1 + _move(currency, year, month))
                rate = _significant(levels[currency])
                rows[year].append(
                    (currency, rate, date(year, month, 1), _month_end(year, month), published)
                )
    return rows


def render(year: int, rows: Sequence[tuple[str, Decimal, date, date, date]]) -> str:
    lines = [
        "# SAMPLE EXCHANGE RATES - invented for testing and demonstration.",
        "# NOT the published rates of any administration or bank: never use for real duties.",
        "# notice: SAMPLE EXCHANGE RATES - not the published rates of any administration",
        f"# version: {year}",
        f"# national_currency: {NATIONAL_CURRENCY}",
        f"# rate: amount of {NATIONAL_CURRENCY} for ONE unit of the currency"
        f" (amount_in_{NATIONAL_CURRENCY} = amount * rate)",
        "# period: a rate applies to every day from valid_from to valid_to inclusive",
        "# generated_by: python -m shared.reference.build_rates (deterministic; do not edit)",
        "currency,rate,valid_from,valid_to,published_on",
    ]
    for currency, rate, valid_from, valid_to, published in rows:
        lines.append(
            f"{currency},{format(rate, 'f')},{valid_from.isoformat()},"
            f"{valid_to.isoformat()},{published.isoformat()}"
        )
    return "\n".join(lines) + "\n"


def outputs() -> dict[str, str]:
    """File name -> content."""
    return {f"rates-{year}.csv": render(year, rows) for year, rows in monthly_rates().items()}


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--out", type=Path, default=PACKAGED_DATA_DIR / "rates")
    parser.add_argument("--check", action="store_true", help="compare, do not write")
    args = parser.parse_args(argv)
    return _write_or_check(outputs(), args.out, args.check)


def _write_or_check(files: dict[str, str], folder: Path, check: bool) -> int:
    stale = []
    for name, text in sorted(files.items()):
        path = folder / name
        if check:
            if not path.exists() or path.read_text(encoding="utf-8") != text:
                stale.append(str(path))
        else:
            folder.mkdir(parents=True, exist_ok=True)
            path.write_text(text, encoding="utf-8", newline="\n")
            print(f"wrote {path}")
    for path_text in stale:
        print(f"out of date: {path_text}", file=sys.stderr)
    return 1 if stale else 0


if __name__ == "__main__":
    raise SystemExit(main())

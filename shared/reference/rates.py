"""Exchange rates into the national currency, each valid for a period (a calendar month).

EU-style: the rate published on the penultimate Wednesday of the previous month applies to
every declaration accepted during the month. Files are `rates/rates-<version>.csv`::

    # notice: SAMPLE EXCHANGE RATES - not the published rates of any administration
    # version: 2026
    # national_currency: GBP
    currency,rate,valid_from,valid_to,published_on
    USD,0.745000,2026-01-01,2026-01-31,2025-12-17

`rate` is the amount of national currency for ONE unit of `currency`:
``amount_in_national = amount * rate`` (a multiplication, so the conversion is exact).
`valid_to` is inclusive; `published_on` is optional. The national currency itself always
converts at 1 and needs no row.
"""

from __future__ import annotations

import bisect
import os
import re
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from functools import lru_cache
from pathlib import Path

from .errors import ExchangeRateNotFound, ReferenceDataInvalid
from .files import (
    AnnotatedCsv,
    data_dir,
    parse_annotated_csv,
    parse_date,
    parse_decimal,
    read_annotated_csv,
)

IDENTITY_VERSION = "identity"
_FILE = re.compile(r"^rates-(.+)\.csv$")


@dataclass(frozen=True)
class ExchangeRate:
    """One rate: ``amount_in_national = amount * rate`` for dates in [valid_from, valid_to]."""

    currency: str
    national_currency: str
    rate: Decimal
    valid_from: date
    valid_to: date
    version: str  # the rates file it came from; "identity" for the national currency
    published_on: date | None = None

    def __post_init__(self) -> None:
        if self.rate <= 0:
            raise ValueError(f"{self.currency}: a rate must be positive")
        if self.valid_to < self.valid_from:
            raise ValueError(f"{self.currency}: valid_to is before valid_from")

    def covers(self, on_date: date) -> bool:
        return self.valid_from <= on_date <= self.valid_to

    def to_national(self, amount: Decimal) -> Decimal:
        """The exact (unrounded) amount in national currency."""
        return amount * self.rate


class ExchangeRates:
    """Every loaded rate, answering for the one valid on a date."""

    def __init__(self, national_currency: str, rates: Iterable[ExchangeRate]) -> None:
        self.national_currency = national_currency
        by_currency: dict[str, list[ExchangeRate]] = {}
        for rate in rates:
            if rate.national_currency != national_currency:
                raise ValueError(
                    f"rate for {rate.currency} is to {rate.national_currency}, "
                    f"not {national_currency}"
                )
            if rate.currency == national_currency:
                raise ValueError(f"{national_currency} is the national currency: no rate rows")
            by_currency.setdefault(rate.currency, []).append(rate)
        self._rates: dict[str, tuple[ExchangeRate, ...]] = {}
        self._starts: dict[str, list[date]] = {}
        for currency, periods in by_currency.items():
            periods.sort(key=lambda r: r.valid_from)
            for earlier, later in zip(periods, periods[1:], strict=False):
                if earlier.valid_to >= later.valid_from:
                    raise ValueError(
                        f"{currency}: rates valid from {earlier.valid_from} and "
                        f"{later.valid_from} overlap"
                    )
            self._rates[currency] = tuple(periods)
            self._starts[currency] = [r.valid_from for r in periods]
        self._versions = tuple(
            sorted({r.version for periods in self._rates.values() for r in periods})
        )

    @property
    def versions(self) -> tuple[str, ...]:
        return self._versions

    @property
    def currencies(self) -> frozenset[str]:
        """Currencies with at least one rate (the national currency is implicit)."""
        return frozenset(self._rates) | {self.national_currency}

    def rate(self, currency: str, on_date: date) -> ExchangeRate:
        """The rate valid on `on_date`; `ExchangeRateNotFound` if there is none.

        The national currency converts at 1 (version "identity", valid for that day).
        """
        if currency == self.national_currency:
            return ExchangeRate(
                currency=currency,
                national_currency=currency,
                rate=Decimal(1),
                valid_from=on_date,
                valid_to=on_date,
                version=IDENTITY_VERSION,
            )
        periods = self._rates.get(currency, ())
        index = bisect.bisect_right(self._starts.get(currency, []), on_date) - 1
        if index >= 0 and periods[index].covers(on_date):
            return periods[index]
        raise ExchangeRateNotFound(currency, on_date)


def parse_rates(text: str, source: str = "<rates>") -> tuple[str, list[ExchangeRate]]:
    """Parse one rates file's text: (national currency, its rates)."""
    return _build(parse_annotated_csv(text, source))


def load_exchange_rates(directory: str | os.PathLike[str] | None = None) -> ExchangeRates:
    """Every `rates/rates-*.csv` under the reference-data folder (see `data_dir`).

    Parsed once per process and folder; later calls return the same object.
    """
    return _load(data_dir(directory))


@lru_cache(maxsize=8)
def _load(root: Path) -> ExchangeRates:
    folder = root / "rates"
    paths = sorted(folder.glob("rates-*.csv"))
    if not paths:
        raise ReferenceDataInvalid(str(folder), "no rates-*.csv file")
    national: set[str] = set()
    rates: list[ExchangeRate] = []
    for path in paths:
        table = read_annotated_csv(path)
        match = _FILE.match(path.name)
        if not match or match.group(1) != table.require("version"):
            raise ReferenceDataInvalid(str(path), "file name does not match its version")
        currency, found = _build(table)
        national.add(currency)
        rates.extend(found)
    if len(national) != 1:
        raise ReferenceDataInvalid(
            str(folder), f"files disagree on the national currency {national}"
        )
    try:
        return ExchangeRates(national.pop(), rates)
    except ValueError as error:
        raise ReferenceDataInvalid(str(folder), str(error)) from None


def _build(table: AnnotatedCsv) -> tuple[str, list[ExchangeRate]]:
    source = table.source
    table.require_columns("currency", "rate", "valid_from", "valid_to")
    version = table.require("version")
    national = table.require("national_currency")
    rates = []
    for line, row in table.rows:
        where = f"line {line}"
        currency = row["currency"]
        if not re.fullmatch(r"[A-Z]{3}", currency):
            raise ReferenceDataInvalid(source, f"{where}: bad currency {currency!r}")
        published = row.get("published_on", "")
        try:
            rates.append(
                ExchangeRate(
                    currency=currency,
                    national_currency=national,
                    rate=parse_decimal(row["rate"], source, f"{where} rate"),
                    valid_from=parse_date(row["valid_from"], source, f"{where} valid_from"),
                    valid_to=parse_date(row["valid_to"], source, f"{where} valid_to"),
                    version=version,
                    published_on=(
                        parse_date(published, source, f"{where} published_on")
                        if published
                        else None
                    ),
                )
            )
        except ValueError as error:
            raise ReferenceDataInvalid(source, f"{where}: {error}") from None
    return national, rates

"""The versioned customs tariff: measures per commodity code, valid between two dates.

A tariff is a set of versions (one file each, `tariff/tariff-<version>.csv`) whose validity
periods do not overlap; a version whose `valid_to` is `open` lasts until the next version
starts. The version valid on a declaration's acceptance date is the one that applies. Within a version, every row is keyed by a commodity code of 6, 8 or 10 digits; a
national code is matched by the longest code in the version that prefixes it, so a 6-digit
HS subheading row covers every 8- and 10-digit code under it unless a longer row overrides it.
Each measure (the third-country duty, each preference scheme, the VAT rate that rides on the
third-country row) is resolved by its own longest prefix.

File format (see `files.py` for the preamble)::

    # notice: SAMPLE RATES - not the tariff of any administration
    # version: 2026-07
    # valid_from: 2026-07-01
    # valid_to: open
    # currency: GBP
    # scheme.GSP: BD KH IN ...
    code,scheme,ad_valorem_pct,specific_amount,specific_unit,min_amount,min_unit,max_amount,max_unit,vat_pct
    851713,,2,,,,,,,20
    240220,,10,0.012,p/st,0.020,p/st,0.050,p/st,20
    240220,GSP,6.5,0.0084,p/st,,,,,

A row with an empty `scheme` is the third-country ("erga omnes") measure and carries the VAT
rate; a row naming a scheme is that scheme's preferential measure, open to the origins the
preamble lists for the scheme. Percentages are percent (``12.8`` is 12.8 %); specific, MIN and
MAX amounts are in the tariff's currency per unit (see `UNITS`).

Statistical aggregates are never tariff lines, whatever a file says: UN Comtrade's `999999`
("commodities not specified according to kind"), any code of the reserved chapters 98 and 99,
`TOTAL` and the like (`nomenclature.statistical_aggregate`). A file's rows for them are left
out when it is loaded (named in `TariffVersion.left_out`), a `TariffVersion` cannot hold one,
and `Tariff.lookup` raises `NotATariffLine` for them.
"""

from __future__ import annotations

import bisect
import os
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import date, timedelta
from decimal import Decimal
from functools import cached_property, lru_cache
from pathlib import Path
from types import MappingProxyType

from .errors import (
    CommodityCodeNotFound,
    NotATariffLine,
    ReferenceDataInvalid,
    TariffVersionNotFound,
)
from .files import (
    AnnotatedCsv,
    data_dir,
    parse_annotated_csv,
    parse_date,
    parse_decimal,
    read_annotated_csv,
)
from .nomenclature import statistical_aggregate

#: Units a specific, MIN or MAX amount may be expressed per. `kg` is always the item's net
#: mass; any other unit is the item's declared quantity, which must then be in that unit.
UNITS: Mapping[str, str] = MappingProxyType(
    {
        "kg": "kilogram of net mass",
        "p/st": "number of items (pieces)",
        "pa": "number of pairs",
        "l": "litre",
        "m2": "square metre",
        "m3": "cubic metre",
    }
)
NET_MASS_UNIT = "kg"
OPEN_ENDED = "open"
COLUMNS = (
    "code",
    "scheme",
    "ad_valorem_pct",
    "specific_amount",
    "specific_unit",
    "min_amount",
    "min_unit",
    "max_amount",
    "max_unit",
    "vat_pct",
)

_CODE = re.compile(r"^\d{6}(?:\d{2}){0,2}$")
_SCHEME = re.compile(r"^[A-Z0-9][A-Z0-9\-]*$")
_FILE = re.compile(r"^tariff-(.+)\.csv$")


def is_commodity_code(text: str) -> bool:
    """True for a code of 6, 8 or 10 digits (an HS subheading or a national code under one)
    that is no statistical aggregate (`999999` and the rest of chapters 98 and 99 are not)."""
    return bool(_CODE.match(text)) and statistical_aggregate(text) is None


@dataclass(frozen=True)
class SpecificRate:
    """An amount of the tariff's currency per unit, e.g. 0.32 GBP per litre."""

    amount: Decimal
    unit: str

    def __post_init__(self) -> None:
        if self.unit not in UNITS:
            raise ValueError(f"unknown unit {self.unit!r} (known: {', '.join(UNITS)})")
        if self.amount < 0:
            raise ValueError("a specific amount is never negative")

    def describe(self, currency: str) -> str:
        return f"{self.amount} {currency}/{self.unit}"


@dataclass(frozen=True)
class Measure:
    """A duty measure: ad valorem, specific or both (compound), with optional MIN and MAX.

    Duty = ad valorem % x customs value + specific amount x quantity, then raised to the MIN
    and lowered to the MAX (each an amount per unit times the quantity in its unit).
    """

    ad_valorem_pct: Decimal | None = None
    specific: SpecificRate | None = None
    minimum: SpecificRate | None = None
    maximum: SpecificRate | None = None

    def __post_init__(self) -> None:
        if self.ad_valorem_pct is None and self.specific is None:
            raise ValueError("a measure needs an ad valorem rate, a specific amount or both")
        if self.ad_valorem_pct is not None and self.ad_valorem_pct < 0:
            raise ValueError("an ad valorem rate is never negative")
        if (
            self.minimum is not None
            and self.maximum is not None
            and self.minimum.unit == self.maximum.unit
            and self.minimum.amount > self.maximum.amount
        ):
            raise ValueError("MIN is above MAX")

    @property
    def kind(self) -> str:
        """``ad_valorem``, ``specific`` or ``compound``."""
        if self.specific is None:
            return "ad_valorem"
        if self.ad_valorem_pct is None:
            return "specific"
        return "compound"

    @property
    def units(self) -> frozenset[str]:
        """The units this measure needs a quantity in."""
        parts = (self.specific, self.minimum, self.maximum)
        return frozenset(part.unit for part in parts if part is not None)

    def describe(self, currency: str) -> str:
        """Tariff notation, e.g. ``8 % + 0.90 GBP/pa MIN 2.50 GBP/pa MAX 6.00 GBP/pa``."""
        terms = []
        if self.ad_valorem_pct is not None:
            terms.append(f"{self.ad_valorem_pct} %")
        if self.specific is not None:
            terms.append(self.specific.describe(currency))
        text = " + ".join(terms)
        if self.minimum is not None:
            text += f" MIN {self.minimum.describe(currency)}"
        if self.maximum is not None:
            text += f" MAX {self.maximum.describe(currency)}"
        return text


@dataclass(frozen=True)
class Preference:
    """A preferential measure of one scheme on a line, open to the scheme's origins."""

    scheme: str
    origins: frozenset[str]
    measure: Measure
    code: str  # the row it came from (longest prefix of the code asked for)


@dataclass(frozen=True)
class TariffLine:
    """Everything the tariff version says about one commodity code."""

    hs_code: str  # the code asked for (6, 8 or 10 digits)
    code: str  # the row the third-country measure and VAT came from
    tariff_version: str
    currency: str
    third_country: Measure
    vat_rate: Decimal  # percent: Decimal("20") is 20 %
    preferences: tuple[Preference, ...]

    def preferences_for(self, origin: str) -> tuple[Preference, ...]:
        """The preferences open to goods of this origin (ISO 3166 alpha-2)."""
        return tuple(p for p in self.preferences if origin in p.origins)


@dataclass(frozen=True, eq=False)
class TariffVersion:
    """One version of the tariff. Built by `parse_tariff_version` or directly (tests)."""

    version: str
    valid_from: date
    valid_to: date | None  # inclusive; None = open, until the next version starts
    currency: str
    schemes: Mapping[str, frozenset[str]]  # scheme -> origins
    third_country: Mapping[str, tuple[Measure, Decimal]]  # code -> (measure, VAT %)
    preferential: Mapping[str, Mapping[str, Measure]]  # scheme -> code -> measure
    notes: tuple[str, ...] = ()
    notice: str = ""  # e.g. "SAMPLE RATES - not the customs tariff of any administration"
    left_out: tuple[str, ...] = ()  # statistical aggregates the file listed, not loaded

    def __post_init__(self) -> None:
        if self.valid_to is not None and self.valid_to < self.valid_from:
            raise ValueError(f"tariff {self.version}: valid_to is before valid_from")
        unknown = set(self.preferential) - set(self.schemes)
        if unknown:
            raise ValueError(f"tariff {self.version}: undeclared scheme(s) {sorted(unknown)}")
        for code in self.third_country:
            aggregate = statistical_aggregate(code)
            if aggregate is not None:
                raise ValueError(f"tariff {self.version}: {code} is no tariff line: {aggregate}")
            if not is_commodity_code(code):
                raise ValueError(f"tariff {self.version}: bad code {code!r}")
        for scheme, rows in self.preferential.items():
            for code in rows:
                if not is_commodity_code(code) or code[:6] not in self.third_country:
                    raise ValueError(
                        f"tariff {self.version}: {scheme} row {code!r} is not under a subheading"
                        " of the tariff"
                    )

    def covers(self, on_date: date) -> bool:
        """By this version's own dates (`Tariff.version_on` also closes an open version)."""
        return self.valid_from <= on_date and (self.valid_to is None or on_date <= self.valid_to)

    @cached_property
    def codes(self) -> frozenset[str]:
        """Every code with a third-country row (the 6-digit subheadings and any overrides)."""
        return frozenset(self.third_country)

    def find(self, hs_code: str) -> TariffLine | None:
        """The line for a 6-, 8- or 10-digit code, or None when no row prefixes it."""
        if not is_commodity_code(hs_code):
            return None
        matched = _longest_prefix(hs_code, self.third_country)
        if matched is None:
            return None
        measure, vat = self.third_country[matched]
        preferences = []
        for scheme in sorted(self.preferential):
            rows = self.preferential[scheme]
            pref_code = _longest_prefix(hs_code, rows)
            if pref_code is not None:
                preferences.append(
                    Preference(scheme, self.schemes[scheme], rows[pref_code], pref_code)
                )
        return TariffLine(
            hs_code=hs_code,
            code=matched,
            tariff_version=self.version,
            currency=self.currency,
            third_country=measure,
            vat_rate=vat,
            preferences=tuple(preferences),
        )


def _longest_prefix(hs_code: str, rows: Mapping[str, object]) -> str | None:
    for length in range(len(hs_code), 5, -2):
        prefix = hs_code[:length]
        if prefix in rows:
            return prefix
    return None


class Tariff:
    """Every loaded tariff version; answers for the version valid on a date.

    >>> tariff = load_tariff()
    >>> line = tariff.lookup("8517130000", date(2026, 3, 2))
    >>> line.code, line.tariff_version
    ('851713', '2026-01')
    """

    def __init__(self, versions: Iterable[TariffVersion]) -> None:
        ordered = sorted(versions, key=lambda v: v.valid_from)
        if not ordered:
            raise ValueError("a tariff needs at least one version")
        names = [v.version for v in ordered]
        if len(set(names)) != len(names):
            raise ValueError(f"tariff versions repeated: {names}")
        ends: list[date | None] = []
        for earlier, later in zip(ordered, ordered[1:], strict=False):
            if earlier.valid_to is None:  # open: until the next version starts
                ends.append(later.valid_from - timedelta(days=1))
            elif earlier.valid_to >= later.valid_from:
                raise ValueError(f"tariff versions {earlier.version} and {later.version} overlap")
            else:
                ends.append(earlier.valid_to)
        ends.append(ordered[-1].valid_to)
        self._versions = tuple(ordered)
        self._starts = [v.valid_from for v in ordered]
        self._ends = ends

    @property
    def versions(self) -> tuple[TariffVersion, ...]:
        """The versions, oldest first."""
        return self._versions

    def version_on(self, on_date: date) -> TariffVersion:
        """The version valid on `on_date`; `TariffVersionNotFound` if none is."""
        index = bisect.bisect_right(self._starts, on_date) - 1
        if index >= 0:
            end = self._ends[index]
            if end is None or on_date <= end:
                return self._versions[index]
        raise TariffVersionNotFound(on_date)

    def valid_to(self, version: TariffVersion) -> date | None:
        """The last day a version applies: its `valid_to`, or for an open version the day
        before the next version starts (None while it is the latest)."""
        return self._ends[self._versions.index(version)]

    def lookup(self, hs_code: str, on_date: date) -> TariffLine:
        """The line for a code in the version valid on `on_date`.

        Raises `TariffVersionNotFound` or `CommodityCodeNotFound` (both `TariffLookupError`);
        `NotATariffLine` (a `CommodityCodeNotFound`) for a statistical aggregate.
        """
        version = self.version_on(on_date)
        aggregate = statistical_aggregate(hs_code)
        if aggregate is not None:
            raise NotATariffLine(hs_code, on_date, version.version, aggregate)
        line = version.find(hs_code)
        if line is None:
            raise CommodityCodeNotFound(hs_code, on_date, version.version)
        return line

    def has_code(self, hs_code: str, on_date: date) -> bool:
        """Whether a declaration accepted on `on_date` may use the code."""
        try:
            self.lookup(hs_code, on_date)
        except (TariffVersionNotFound, CommodityCodeNotFound):
            return False
        return True

    def vat_rate(self, hs_code: str, on_date: date) -> Decimal:
        """The VAT rate in percent (``Decimal("20")``) for the code on the date."""
        return self.lookup(hs_code, on_date).vat_rate

    def currency(self, on_date: date) -> str:
        """The national currency of the version valid on the date (ISO 4217)."""
        return self.version_on(on_date).currency


def parse_tariff_version(text: str, source: str = "<tariff>") -> TariffVersion:
    """Parse one tariff file's text (format in the module docstring)."""
    return _build_version(parse_annotated_csv(text, source))


def read_tariff_version(path: Path) -> TariffVersion:
    """Read one tariff file; its `version` must match the `tariff-<version>.csv` name."""
    version = _build_version(read_annotated_csv(path))
    match = _FILE.match(path.name)
    if not match or match.group(1) != version.version:
        raise ReferenceDataInvalid(
            str(path), f"file name does not match its version {version.version!r}"
        )
    return version


def load_tariff(directory: str | os.PathLike[str] | None = None) -> Tariff:
    """Every `tariff/tariff-*.csv` under the reference-data folder (see `data_dir`).

    Parsed once per process and folder; later calls return the same object.
    """
    return _load_tariff(data_dir(directory))


@lru_cache(maxsize=8)
def _load_tariff(root: Path) -> Tariff:
    folder = root / "tariff"
    paths = sorted(folder.glob("tariff-*.csv"))
    if not paths:
        raise ReferenceDataInvalid(str(folder), "no tariff-*.csv file")
    try:
        return Tariff(read_tariff_version(path) for path in paths)
    except ValueError as error:
        raise ReferenceDataInvalid(str(folder), str(error)) from None


def _build_version(table: AnnotatedCsv) -> TariffVersion:
    source = table.source
    table.require_columns(*COLUMNS)
    version = table.require("version")
    valid_from = parse_date(table.require("valid_from"), source, "valid_from")
    valid_to_text = table.require("valid_to")
    valid_to = (
        None if valid_to_text == OPEN_ENDED else parse_date(valid_to_text, source, "valid_to")
    )
    currency = table.require("currency")
    if not re.fullmatch(r"[A-Z]{3}", currency):
        raise ReferenceDataInvalid(source, f"currency {currency!r} is not an ISO 4217 code")
    schemes: dict[str, frozenset[str]] = {}
    for key, value in table.metadata.items():
        if key.startswith("scheme."):
            scheme = key.removeprefix("scheme.")
            origins = value.split()
            if not _SCHEME.match(scheme) or not origins:
                raise ReferenceDataInvalid(source, f"bad scheme line {key!r}")
            if any(not re.fullmatch(r"[A-Z]{2}", origin) for origin in origins):
                raise ReferenceDataInvalid(source, f"{key}: origins must be alpha-2 codes")
            schemes[scheme] = frozenset(origins)

    measures: dict[tuple[str, ...], Measure] = {}  # identical measures share one object
    third_country: dict[str, tuple[Measure, Decimal]] = {}
    preferential: dict[str, dict[str, Measure]] = {scheme: {} for scheme in schemes}
    left_out: set[str] = set()
    for line, row in table.rows:
        where = f"line {line}"
        code = row["code"]
        if statistical_aggregate(code) is not None:
            left_out.add(code)  # never a tariff line, whatever the file says
            continue
        if not is_commodity_code(code):
            raise ReferenceDataInvalid(source, f"{where}: bad commodity code {code!r}")
        cells = tuple(row[column] for column in COLUMNS[2:9])
        measure = measures.get(cells)
        if measure is None:
            measure = measures[cells] = _measure(row, source, where)
        scheme = row["scheme"]
        if not scheme:
            if code in third_country:
                raise ReferenceDataInvalid(source, f"{where}: {code} has two third-country rows")
            if not row["vat_pct"]:
                raise ReferenceDataInvalid(source, f"{where}: a third-country row needs vat_pct")
            third_country[code] = (measure, parse_decimal(row["vat_pct"], source, where))
        else:
            if scheme not in preferential:
                raise ReferenceDataInvalid(source, f"{where}: scheme {scheme!r} not declared")
            if row["vat_pct"]:
                raise ReferenceDataInvalid(source, f"{where}: VAT belongs on third-country rows")
            if code in preferential[scheme]:
                raise ReferenceDataInvalid(source, f"{where}: {code} has two {scheme} rows")
            preferential[scheme][code] = measure
    try:
        return TariffVersion(
            version=version,
            valid_from=valid_from,
            valid_to=valid_to,
            currency=currency,
            schemes=MappingProxyType(schemes),
            third_country=MappingProxyType(third_country),
            preferential=MappingProxyType(
                {scheme: MappingProxyType(rows) for scheme, rows in preferential.items()}
            ),
            notes=table.notes,
            notice=table.metadata.get("notice", ""),
            left_out=tuple(sorted(left_out)),
        )
    except ValueError as error:
        raise ReferenceDataInvalid(source, str(error)) from None


def _measure(row: Mapping[str, str], source: str, where: str) -> Measure:
    def rate(amount_column: str, unit_column: str) -> SpecificRate | None:
        amount, unit = row[amount_column], row[unit_column]
        if not amount and not unit:
            return None
        if not amount or not unit:
            raise ReferenceDataInvalid(
                source, f"{where}: {amount_column} and {unit_column} go together"
            )
        if unit not in UNITS:
            raise ReferenceDataInvalid(source, f"{where}: unknown unit {unit!r}")
        return SpecificRate(parse_decimal(amount, source, f"{where} {amount_column}"), unit)

    ad_valorem = row["ad_valorem_pct"]
    try:
        return Measure(
            ad_valorem_pct=(
                parse_decimal(ad_valorem, source, f"{where} ad_valorem_pct") if ad_valorem else None
            ),
            specific=rate("specific_amount", "specific_unit"),
            minimum=rate("min_amount", "min_unit"),
            maximum=rate("max_amount", "max_unit"),
        )
    except ValueError as error:
        raise ReferenceDataInvalid(source, f"{where}: {error}") from None

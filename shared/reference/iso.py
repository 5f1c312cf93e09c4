"""ISO 3166-1 alpha-2 country codes and ISO 4217 currency codes, for validation and rounding.

`iso3166.csv` holds every officially assigned alpha-2 code (249); user-assigned codes such as
`XK` are not in it. `iso4217.csv` holds ISO 4217 List One (active codes) with their minor units;
codes whose minor unit is "N.A." (precious metals, SDR, bond units, XTS, XXX) stay in the file
but are left out of `currencies()`, which only lists codes that amounts can be written in.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from functools import lru_cache
from pathlib import Path
from types import MappingProxyType

from .errors import ReferenceDataInvalid
from .files import data_dir, read_annotated_csv


def countries(directory: str | os.PathLike[str] | None = None) -> frozenset[str]:
    """Every officially assigned ISO 3166-1 alpha-2 code, e.g. ``"GB" in countries()``."""
    return _all_country_codes(data_dir(directory))


def country_names(directory: str | os.PathLike[str] | None = None) -> Mapping[str, str]:
    """Alpha-2 code -> English short name."""
    return _load_countries(data_dir(directory))


def currencies(directory: str | os.PathLike[str] | None = None) -> Mapping[str, int]:
    """Active ISO 4217 code -> number of minor units (``currencies()["JPY"] == 0``)."""
    return _load_currencies(data_dir(directory))


@lru_cache(maxsize=8)
def _load_countries(root: Path) -> Mapping[str, str]:
    table = read_annotated_csv(root / "iso3166.csv")
    table.require_columns("alpha2", "name")
    names: dict[str, str] = {}
    for line, row in table.rows:
        code = row["alpha2"]
        if len(code) != 2 or not code.isascii() or not code.isalpha() or not code.isupper():
            raise ReferenceDataInvalid(table.source, f"line {line}: bad alpha-2 code {code!r}")
        if code in names:
            raise ReferenceDataInvalid(table.source, f"line {line}: {code} repeated")
        names[code] = row["name"]
    return MappingProxyType(names)


@lru_cache(maxsize=8)
def _all_country_codes(root: Path) -> frozenset[str]:
    return frozenset(_load_countries(root))


@lru_cache(maxsize=8)
def _load_currencies(root: Path) -> Mapping[str, int]:
    table = read_annotated_csv(root / "iso4217.csv")
    table.require_columns("code", "numeric", "minor_units", "name")
    minor: dict[str, int] = {}
    seen: set[str] = set()
    for line, row in table.rows:
        code = row["code"]
        if len(code) != 3 or not code.isascii() or not code.isalpha() or not code.isupper():
            raise ReferenceDataInvalid(table.source, f"line {line}: bad currency code {code!r}")
        if code in seen:
            raise ReferenceDataInvalid(table.source, f"line {line}: {code} repeated")
        seen.add(code)
        units = row["minor_units"]
        if units == "N.A.":
            continue
        if not units.isdigit():
            raise ReferenceDataInvalid(table.source, f"line {line}: bad minor units {units!r}")
        minor[code] = int(units)
    return MappingProxyType(minor)

"""Reference data: the HS 2022 nomenclature, the versioned tariff, exchange rates, ISO lists.

The data files live in `shared/reference/data/` (or the folder named by `REFERENCE_DATA_DIR`);
their formats and how to load a new version are in `shared/reference/README.md`. Each loader
parses its files once per process and folder and returns the same object afterwards.

    >>> from datetime import date
    >>> from shared import reference
    >>> tariff = reference.load_tariff()
    >>> tariff.has_code("8517130000", date(2026, 3, 2))
    True
    >>> reference.load_exchange_rates().rate("USD", date(2026, 3, 2)).version
    '2026'
    >>> reference.currencies()["JPY"], "GB" in reference.countries()
    (0, True)
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass

from .errors import (
    CommodityCodeNotFound,
    ExchangeRateNotFound,
    NotATariffLine,
    ReferenceDataError,
    ReferenceDataInvalid,
    TariffLookupError,
    TariffVersionNotFound,
)
from .files import ENV_VAR, PACKAGED_DATA_DIR, data_dir
from .iso import countries, country_names, currencies
from .nomenclature import hs_headings, hs_subheadings, statistical_aggregate
from .offices import Office, OfficeRegister, load_offices
from .rates import ExchangeRate, ExchangeRates, load_exchange_rates, parse_rates
from .reliefs import NO_RELIEFS, LowValueRelief, Reliefs, load_reliefs
from .tariff import (
    UNITS,
    Measure,
    Preference,
    SpecificRate,
    Tariff,
    TariffLine,
    TariffVersion,
    is_commodity_code,
    load_tariff,
    parse_tariff_version,
    read_tariff_version,
)


@dataclass(frozen=True)
class ReferenceData:
    """Everything a service needs from the reference data, loaded from one folder."""

    tariff: Tariff
    rates: ExchangeRates
    currencies: Mapping[str, int]  # ISO 4217 code -> minor units
    countries: frozenset[str]  # ISO 3166-1 alpha-2
    offices: OfficeRegister  # offices of declaration, with their time zones
    reliefs: Reliefs = NO_RELIEFS  # dated low-value reliefs of the tariff


def load_reference_data(directory: str | os.PathLike[str] | None = None) -> ReferenceData:
    """Load (once per process) the tariff, rates and ISO lists from one folder."""
    return ReferenceData(
        tariff=load_tariff(directory),
        rates=load_exchange_rates(directory),
        currencies=currencies(directory),
        countries=countries(directory),
        offices=load_offices(directory),
        reliefs=load_reliefs(directory),
    )


__all__ = [
    "LowValueRelief",
    "Reliefs",
    "load_reliefs",
    "Office",
    "OfficeRegister",
    "load_offices",
    "ENV_VAR",
    "PACKAGED_DATA_DIR",
    "UNITS",
    "CommodityCodeNotFound",
    "ExchangeRate",
    "ExchangeRateNotFound",
    "ExchangeRates",
    "Measure",
    "NotATariffLine",
    "Preference",
    "ReferenceData",
    "ReferenceDataError",
    "ReferenceDataInvalid",
    "SpecificRate",
    "Tariff",
    "TariffLine",
    "TariffLookupError",
    "TariffVersion",
    "TariffVersionNotFound",
    "countries",
    "country_names",
    "currencies",
    "data_dir",
    "hs_headings",
    "hs_subheadings",
    "is_commodity_code",
    "load_exchange_rates",
    "load_reference_data",
    "load_tariff",
    "parse_rates",
    "parse_tariff_version",
    "read_tariff_version",
    "statistical_aggregate",
]

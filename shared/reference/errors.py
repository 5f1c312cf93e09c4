"""Named errors of the reference data (mapped to responses in one place at each edge)."""

from __future__ import annotations

from datetime import date


class ReferenceDataError(Exception):
    """Base class of every reference-data error."""


class ReferenceDataInvalid(ReferenceDataError):
    """A reference file is malformed or inconsistent (raised while loading, never later)."""

    def __init__(self, source: str, message: str) -> None:
        super().__init__(f"{source}: {message}")
        self.source = source
        self.message = message


class TariffLookupError(ReferenceDataError):
    """Base class of the errors `Tariff.lookup` raises."""


class TariffVersionNotFound(TariffLookupError):
    """No tariff version is valid on the date asked for."""

    def __init__(self, on_date: date) -> None:
        super().__init__(f"no tariff version is valid on {on_date.isoformat()}")
        self.on_date = on_date


class CommodityCodeNotFound(TariffLookupError):
    """The commodity code is malformed, or not in the tariff version valid on the date."""

    def __init__(self, hs_code: str, on_date: date, version: str | None) -> None:
        where = f"tariff version {version}" if version else "the tariff"
        super().__init__(
            f"commodity code {hs_code!r} is not in {where} valid on {on_date.isoformat()}"
        )
        self.hs_code = hs_code
        self.on_date = on_date
        self.version = version


class NotATariffLine(CommodityCodeNotFound):
    """The code is a statistical aggregate (e.g. Comtrade's 999999), never a tariff line,
    whatever a tariff file lists."""

    def __init__(self, hs_code: str, on_date: date, version: str | None, reason: str) -> None:
        super().__init__(hs_code, on_date, version)
        self.reason = reason

    def __str__(self) -> str:
        return f"commodity code {self.hs_code!r} is not a tariff line: {self.reason}"


class ExchangeRateNotFound(ReferenceDataError):
    """No exchange rate for the currency is valid on the date asked for."""

    def __init__(self, currency: str, on_date: date) -> None:
        super().__init__(f"no exchange rate for {currency!r} valid on {on_date.isoformat()}")
        self.currency = currency
        self.on_date = on_date

"""Customs offices: the register of offices of declaration, each with its IANA time zone.

A declaration's acceptance date is the local date at its office (DOMAIN.md): it fixes the
tariff, the exchange rate and the legal time limits, so a declaration accepted at a UK office
at 00:30 BST on 1 July is accepted on 1 July, though it is still 30 June in UTC.

`offices.csv` (in the reference data folder): `code,name,time_zone`, with a `version` in its
preamble. Every time zone must be known to the machine's time zone database (`zoneinfo`).
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, date, datetime
from functools import lru_cache
from pathlib import Path
from types import MappingProxyType
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from .errors import ReferenceDataInvalid
from .files import data_dir, read_annotated_csv

_CODE = re.compile(r"^[A-Z]{2}[A-Z0-9]{6}$")


@dataclass(frozen=True)
class Office:
    code: str
    name: str
    time_zone: ZoneInfo

    def local_date(self, moment: datetime) -> date:
        """The date at this office at `moment` (an aware datetime; naive is taken as UTC)."""
        if moment.tzinfo is None:
            moment = moment.replace(tzinfo=UTC)
        return moment.astimezone(self.time_zone).date()


@dataclass(frozen=True)
class OfficeRegister:
    version: str
    offices: Mapping[str, Office]

    def __contains__(self, code: object) -> bool:
        return code in self.offices

    def get(self, code: object) -> Office | None:
        return self.offices.get(code) if isinstance(code, str) else None

    def local_date(self, code: object, moment: datetime) -> date:
        """The date at office `code` at `moment`; the UTC date for an office not in the
        register (which validation refuses)."""
        office = self.get(code)
        if office is None:
            return (moment if moment.tzinfo else moment.replace(tzinfo=UTC)).astimezone(
                UTC).date()
        return office.local_date(moment)


def load_offices(directory: str | os.PathLike[str] | None = None) -> OfficeRegister:
    """The office register of the reference data folder (parsed once per folder)."""
    return _load(data_dir(directory))


@lru_cache(maxsize=8)
def _load(root: Path) -> OfficeRegister:
    table = read_annotated_csv(root / "offices.csv")
    table.require_columns("code", "name", "time_zone")
    version = table.require("version")
    found: dict[str, Office] = {}
    for line, row in table.rows:
        code = row["code"]
        if not _CODE.match(code):
            raise ReferenceDataInvalid(table.source, f"line {line}: bad office code {code!r}")
        if code in found:
            raise ReferenceDataInvalid(table.source, f"line {line}: {code} repeated")
        try:
            zone = ZoneInfo(row["time_zone"])
        except (ZoneInfoNotFoundError, ValueError):
            raise ReferenceDataInvalid(
                table.source, f"line {line}: unknown time zone {row['time_zone']!r}") from None
        found[code] = Office(code, row["name"], zone)
    return OfficeRegister(version, MappingProxyType(found))

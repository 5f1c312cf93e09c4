"""Low-value reliefs: dated measures of the tariff (`tariff/reliefs.csv`).

A relief says: a consignment whose intrinsic value is at most `threshold` (in `currency`)
pays none of what it `relieves` (customs duty, import VAT at the border), unless one of its
items is of a commodity code the relief excludes (excise goods, in the UK sample). Which
measure applies is decided by the acceptance date, as for the tariff: another country's rule,
or a change of threshold, is a new row, not a change of code. Applying it is the duty
assessment's work (`services/payment/domain/duty.py`).
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from functools import lru_cache
from pathlib import Path

from .errors import ReferenceDataInvalid
from .files import data_dir, parse_date, parse_decimal, read_annotated_csv

RELIEVABLE = ("duty", "vat")
_CODE = re.compile(r"[A-Z0-9][A-Z0-9-]{0,34}\Z")
_PREFIX = re.compile(r"[0-9]{2,10}\Z")


@dataclass(frozen=True)
class LowValueRelief:
    code: str
    valid_from: date
    valid_to: date | None  # None: until the next measure
    threshold: Decimal
    currency: str
    relieves: frozenset[str]  # of RELIEVABLE
    excluded_prefixes: tuple[str, ...]
    legal_basis: str

    def excludes(self, hs_code: str) -> bool:
        return any(hs_code.startswith(prefix) for prefix in self.excluded_prefixes)


@dataclass(frozen=True)
class Reliefs:
    version: str
    measures: tuple[LowValueRelief, ...]  # by valid_from

    def on(self, day: date) -> LowValueRelief | None:
        """The measure in force on `day`, if any (the latest begun: an open measure ends
        where the next begins)."""
        found = None
        for measure in self.measures:
            if measure.valid_from <= day and (measure.valid_to is None
                                              or day <= measure.valid_to):
                found = measure
        return found


NO_RELIEFS = Reliefs("none", ())


def load_reliefs(directory: str | os.PathLike[str] | None = None) -> Reliefs:
    """The low-value reliefs of the reference data folder (parsed once per folder; none
    when the folder has no `tariff/reliefs.csv`)."""
    return _load(data_dir(directory))


@lru_cache(maxsize=8)
def _load(root: Path) -> Reliefs:
    path = root / "tariff" / "reliefs.csv"
    if not path.exists():
        return NO_RELIEFS
    table = read_annotated_csv(path)
    table.require_columns("code", "valid_from", "valid_to", "threshold", "currency",
                          "relieves", "excluded_prefixes", "legal_basis")
    measures: list[LowValueRelief] = []
    for line, row in table.rows:
        where = f"{table.source} line {line}"
        measures.append(_measure(row, where, table.source))
    measures.sort(key=lambda m: m.valid_from)
    _no_overlap(measures, table.source)
    return Reliefs(table.require("version"), tuple(measures))


def _measure(row: Mapping[str, str], where: str, source: str) -> LowValueRelief:
    code = row["code"]
    if not _CODE.match(code):
        raise ReferenceDataInvalid(source, f"{where}: bad relief code {code!r}")
    relieves = frozenset(row["relieves"].split())
    if not relieves or not relieves <= set(RELIEVABLE):
        raise ReferenceDataInvalid(source, f"{where}: relieves {row['relieves']!r}: name "
                                   f"one or more of {', '.join(RELIEVABLE)}")
    prefixes = tuple(row["excluded_prefixes"].split())
    bad = [p for p in prefixes if not _PREFIX.match(p)]
    if bad:
        raise ReferenceDataInvalid(source, f"{where}: excluded prefixes {bad} are not 2 to "
                                   "10 digits")
    threshold = parse_decimal(row["threshold"], where, "threshold")
    if threshold <= 0:
        raise ReferenceDataInvalid(source, f"{where}: the threshold must be positive")
    if not re.fullmatch(r"[A-Z]{3}", row["currency"]):
        raise ReferenceDataInvalid(source, f"{where}: bad currency {row['currency']!r}")
    valid_to = parse_date(row["valid_to"], where, "valid_to") if row["valid_to"] else None
    return LowValueRelief(code, parse_date(row["valid_from"], where, "valid_from"), valid_to,
                          threshold, row["currency"], relieves, prefixes,
                          row["legal_basis"].strip())


def _no_overlap(measures: Sequence[LowValueRelief], source: str) -> None:
    """An open measure (no `valid_to`) ends where the next begins; a closed one must end
    before the next begins."""
    for earlier, later in zip(measures, measures[1:], strict=False):
        if earlier.valid_from == later.valid_from or (
                earlier.valid_to is not None and earlier.valid_to >= later.valid_from):
            raise ReferenceDataInvalid(source, f"{earlier.code} and {later.code} overlap: "
                                       "close the earlier one before the later starts")

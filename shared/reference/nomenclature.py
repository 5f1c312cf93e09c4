"""The HS 2022 nomenclature (codes and descriptions, no rates), as copied into `data/hs2022/`,
and the rule that tells a commodity code from a statistical aggregate.

The copied file is UN Comtrade's, unchanged, and Comtrade adds rows of its own that classify
no goods: section `TOTAL` holds `TOTAL` (all commodities) and `99` / `9999` / `999999`
("Commodities not specified according to kind"). The loaders here leave them out, and the
tariff (`tariff.py`) refuses them as tariff lines whatever a tariff file says.
"""

from __future__ import annotations

import csv
import os
import re
from collections.abc import Mapping
from functools import lru_cache
from pathlib import Path
from types import MappingProxyType

from .files import data_dir

HS_FILE = Path("hs2022") / "harmonized-system.csv"

#: Chapters the Harmonized System reserves for the contracting parties' own use. Statistics
#: and national tariffs file there what is no kind of goods: UN Comtrade's 99 / 9999 / 999999
#: "commodities not specified according to kind", the EU Combined Nomenclature's chapter 99
#: special codes and chapter 98 "complete industrial plant". No HS subheading is in them.
RESERVED_CHAPTERS: Mapping[str, str] = MappingProxyType(
    {
        "98": "chapter 98 is reserved for national use (statistical codes such as complete "
        "industrial plant); it has no HS subheading",
        "99": "chapter 99 is reserved for national and statistical use (UN Comtrade's 999999 "
        '"commodities not specified according to kind", special national codes); it has no '
        "HS subheading",
    }
)

#: Labels of totals and aggregation levels in trade statistics (Comtrade's `TOTAL`, `AG2`,
#: `AG4`, `AG6`, `ALL`), compared case-insensitively.
_AGGREGATE_LABEL = re.compile(r"(?:TOTAL|ALL|AG[0-9]+)", re.IGNORECASE)


def statistical_aggregate(code: str) -> str | None:
    """Why `code` is a statistical aggregate rather than a tariff line, or None.

    Aggregates: the labels of totals and aggregation levels (`TOTAL`, `AG2`, `AG4`, `AG6`)
    and every code of the reserved chapters 98 and 99 (`99`, `9999`, `999999`, `9999xx`,
    national codes such as `99050000`). A real chapter or heading (`85`, `8517`) is no
    aggregate here, just not a commodity code (`tariff.is_commodity_code`).

    >>> statistical_aggregate("8517130000") is None
    True
    >>> statistical_aggregate("999999")[:10]
    'chapter 99'
    """
    text = code.strip()
    if _AGGREGATE_LABEL.fullmatch(text):
        return f"{text!r} names a total or an aggregation level of trade statistics"
    if not text.isascii() or not text.isdigit():
        return None  # not a code at all: malformed, which is another refusal
    return RESERVED_CHAPTERS.get(text[:2])


def hs_subheadings(directory: str | os.PathLike[str] | None = None) -> Mapping[str, str]:
    """Every HS 2022 subheading (5,612 codes of six digits) -> its description: the level-6
    rows of the file, less Comtrade's `999999` (a statistical aggregate)."""
    return _load_level(data_dir(directory), "6")


def hs_headings(directory: str | os.PathLike[str] | None = None) -> Mapping[str, str]:
    """Every HS 2022 heading -> its description (less Comtrade's `9999`)."""
    return _load_level(data_dir(directory), "4")


@lru_cache(maxsize=16)
def _load_level(root: Path, level: str) -> Mapping[str, str]:
    with (root / HS_FILE).open(encoding="utf-8-sig", newline="") as handle:
        rows = {
            row["hscode"]: row["description"]
            for row in csv.DictReader(handle)
            if row["level"] == level and not _is_aggregate_row(row)
        }
    return MappingProxyType(rows)


def _is_aggregate_row(row: Mapping[str, str]) -> bool:
    """Comtrade's own rows (section TOTAL), and any other aggregate."""
    return row["section"] == "TOTAL" or statistical_aggregate(row["hscode"]) is not None

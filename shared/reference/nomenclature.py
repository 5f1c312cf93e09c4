"""The HS 2022 nomenclature (codes and descriptions, no rates), as copied into `data/hs2022/`."""

from __future__ import annotations

import csv
import os
from collections.abc import Mapping
from functools import lru_cache
from pathlib import Path
from types import MappingProxyType

from .files import data_dir

HS_FILE = Path("hs2022") / "harmonized-system.csv"


def hs_subheadings(directory: str | os.PathLike[str] | None = None) -> Mapping[str, str]:
    """Every level-6 code of HS 2022 (5,613 rows, six digits each) -> its description."""
    return _load_level(data_dir(directory), "6")


def hs_headings(directory: str | os.PathLike[str] | None = None) -> Mapping[str, str]:
    """Every level-4 heading of HS 2022 -> its description."""
    return _load_level(data_dir(directory), "4")


@lru_cache(maxsize=16)
def _load_level(root: Path, level: str) -> Mapping[str, str]:
    with (root / HS_FILE).open(encoding="utf-8-sig", newline="") as handle:
        rows = {
            row["hscode"]: row["description"]
            for row in csv.DictReader(handle)
            if row["level"] == level
        }
    return MappingProxyType(rows)

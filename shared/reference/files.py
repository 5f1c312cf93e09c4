"""Where the reference data lives, and the one file format it is kept in.

Every versioned reference file (tariff, exchange rates) is a CSV with a preamble::

    # SAMPLE RATES: free text is a note for the reader
    # version: 2026-01
    # valid_from: 2026-01-01
    code,scheme,ad_valorem_pct,...
    010121,,0,...

Lines before the header that start with ``#`` form the preamble; ``# key: value`` lines (keys
of letters, digits, ``_ . -``) are metadata, anything else is a note. The rest is plain CSV
(UTF-8, header row first).
"""

from __future__ import annotations

import csv
import io
import os
import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date
from decimal import Decimal, InvalidOperation
from pathlib import Path

from .errors import ReferenceDataInvalid

ENV_VAR = "REFERENCE_DATA_DIR"
PACKAGED_DATA_DIR = Path(__file__).resolve().parent / "data"

_KEY = re.compile(r"^([A-Za-z][A-Za-z0-9_.\-]*):\s*(.*)$")


def data_dir(directory: str | os.PathLike[str] | None = None) -> Path:
    """The reference-data folder: `directory` if given, else `$REFERENCE_DATA_DIR`, else the
    data packaged with this module (`shared/reference/data`)."""
    if directory is not None:
        return Path(directory).resolve()
    from_env = os.environ.get(ENV_VAR, "").strip()
    if from_env:
        return Path(from_env).resolve()
    return PACKAGED_DATA_DIR


@dataclass(frozen=True)
class AnnotatedCsv:
    """A parsed reference file: its preamble metadata and notes, and its rows with line numbers."""

    source: str
    metadata: Mapping[str, str]
    notes: tuple[str, ...]
    columns: tuple[str, ...]
    rows: tuple[tuple[int, Mapping[str, str]], ...]

    def require(self, key: str) -> str:
        value = self.metadata.get(key, "").strip()
        if not value:
            raise ReferenceDataInvalid(self.source, f"preamble has no {key!r}")
        return value

    def require_columns(self, *names: str) -> None:
        missing = [name for name in names if name not in self.columns]
        if missing:
            raise ReferenceDataInvalid(self.source, f"missing column(s) {', '.join(missing)}")


def parse_annotated_csv(text: str, source: str) -> AnnotatedCsv:
    """Parse the text of a reference file (see the module docstring)."""
    lines = text.lstrip("\ufeff").splitlines(keepends=True)
    metadata: dict[str, str] = {}
    notes: list[str] = []
    index = 0
    while index < len(lines) and (lines[index].startswith("#") or not lines[index].strip()):
        body = lines[index].lstrip("#").strip()
        index += 1
        if not body:
            continue
        match = _KEY.match(body)
        if match:
            key = match.group(1)
            if key in metadata:
                raise ReferenceDataInvalid(source, f"preamble repeats {key!r}")
            metadata[key] = match.group(2).strip()
        else:
            notes.append(body)
    reader = csv.reader(io.StringIO("".join(lines[index:])))
    try:
        header = next(reader)
    except StopIteration:
        raise ReferenceDataInvalid(source, "no header row") from None
    columns = tuple(name.strip() for name in header)
    rows: list[tuple[int, Mapping[str, str]]] = []
    for offset, record in enumerate(reader):
        line_number = index + 2 + offset
        if not record:
            continue
        if len(record) != len(columns):
            raise ReferenceDataInvalid(
                source, f"line {line_number}: {len(record)} fields, expected {len(columns)}"
            )
        rows.append(
            (line_number, dict(zip(columns, (cell.strip() for cell in record), strict=True)))
        )
    return AnnotatedCsv(source, metadata, tuple(notes), columns, tuple(rows))


def read_annotated_csv(path: Path) -> AnnotatedCsv:
    return parse_annotated_csv(path.read_text(encoding="utf-8"), str(path))


def parse_date(text: str, source: str, what: str) -> date:
    try:
        return date.fromisoformat(text)
    except ValueError:
        raise ReferenceDataInvalid(source, f"{what}: {text!r} is not a date (YYYY-MM-DD)") from None


def parse_decimal(text: str, source: str, what: str) -> Decimal:
    """A finite, non-negative decimal written as digits (no exponent, no sign)."""
    if not re.fullmatch(r"\d+(\.\d+)?", text):
        raise ReferenceDataInvalid(source, f"{what}: {text!r} is not a non-negative decimal")
    try:
        return Decimal(text)
    except InvalidOperation:  # pragma: no cover - the pattern already guarantees it
        raise ReferenceDataInvalid(source, f"{what}: {text!r} is not a decimal") from None

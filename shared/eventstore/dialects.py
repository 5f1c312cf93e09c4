"""What differs between the two backends at the driver level, said once: the parameter mark
and how a time is stored and read back.

PostgreSQL stores `timestamptz` (sessions run in UTC, so values come back in UTC). SQLite
stores a time as SQLAlchemy's text format in UTC, `YYYY-MM-DD HH:MM:SS.ffffff` (the tables
were created through SQLAlchemy, so existing files keep that format). Times travel through
the store as `isoformat` text (`YYYY-MM-DDTHH:MM:SS.ffffff+00:00`) or aware datetimes.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from shared.events.envelope import as_utc, isoformat


def mark(dialect: str) -> str:
    """The driver's parameter mark."""
    return "%s" if dialect == "postgresql" else "?"


def stored_time(iso: str) -> str:
    """SQLite's stored text of a time from its canonical `isoformat` text."""
    return iso[:10] + " " + iso[11:26]


def sqlite_time(value: datetime | str | None) -> str | None:
    """A time (datetime or ISO 8601 text) as SQLite stores it."""
    if value is None:
        return None
    if type(value) is str:
        if len(value) == 32 and value.endswith("+00:00"):
            return stored_time(value)
        value = datetime.fromisoformat(value)
    return stored_time(isoformat(value))  # type: ignore[arg-type]


def time_param(dialect: str, value: datetime | str | None) -> Any:
    """A time as a statement parameter of `dialect`."""
    if dialect == "postgresql":
        return value
    return sqlite_time(value)


def read_time(value: Any) -> datetime:
    """A stored time (either backend's driver value) as an aware UTC datetime."""
    if type(value) is str:
        return datetime.fromisoformat(value).replace(tzinfo=UTC)
    moment: datetime = value
    return moment if moment.tzinfo is UTC else as_utc(moment)


def iso_from_stored(value: Any) -> str | None:
    """A stored time as `isoformat` text (None stays None)."""
    if value is None:
        return None
    if type(value) is str and len(value) == 26:  # SQLite: 'YYYY-MM-DD HH:MM:SS.ffffff'
        return value[:10] + "T" + value[11:] + "+00:00"
    return isoformat(read_time(value))

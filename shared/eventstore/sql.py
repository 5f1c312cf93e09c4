"""Driver-level SQL of the append hot path, written once per dialect.

Appending is the store's hottest path: the statements below skip SQLAlchemy's compilation and
cache-key work, and on PostgreSQL the events' INSERT and the log-head UPDATE travel together
in one statement (a data-modifying CTE), so an append costs two round trips plus the commit.
The shape of the tables is defined by the migrations; `tables.py` mirrors them for reads.
"""

from __future__ import annotations

from datetime import datetime
from functools import lru_cache
from typing import Any

from shared.events.envelope import as_utc

COLUMNS = (
    "position", "event_id", "stream", "category", "stream_version", "type", "version",
    "correlation_id", "causation_id", "actor", "occurred_at", "recorded_at", "data", "hash",
)
SQLITE_MAX_ROWS = 1000  # 14 columns x 1000 rows stays under SQLite's 32,766 variables


class AppendSQL:
    def __init__(self, dialect: str) -> None:
        self.dialect = dialect
        mark = "%s" if dialect == "postgresql" else "?"
        self.mark = mark
        lock = " FOR UPDATE" if dialect == "postgresql" else ""
        self.head = (
            "SELECT h.position, h.hash, (SELECT COALESCE(MAX(e.stream_version), 0) "
            f"FROM events e WHERE e.stream = {mark}) FROM event_log_head h WHERE h.id = 1{lock}"
        )
        self.update_head = f"UPDATE event_log_head SET position = {mark}, hash = {mark} WHERE id = 1"

    @lru_cache(maxsize=64)  # noqa: B019 - one instance per dialect, lives as long as the process
    def insert(self, rows: int) -> str:
        row = "(" + ", ".join([self.mark] * len(COLUMNS)) + ")"
        values = ", ".join([row] * rows)
        statement = f"INSERT INTO events ({', '.join(COLUMNS)}) VALUES {values}"
        if self.dialect == "postgresql":
            return f"WITH appended AS ({statement}) {self.update_head}"
        return statement

    def time(self, value: datetime) -> Any:
        """A time as the column stores it (SQLite: SQLAlchemy's text format, in UTC)."""
        value = as_utc(value)
        if self.dialect == "postgresql":
            return value
        return value.replace(tzinfo=None).strftime("%Y-%m-%d %H:%M:%S.%f")


_BY_DIALECT: dict[str, AppendSQL] = {}


def append_sql(dialect: str) -> AppendSQL:
    if dialect not in _BY_DIALECT:
        _BY_DIALECT[dialect] = AppendSQL(dialect)
    return _BY_DIALECT[dialect]

"""Driver-level SQL of the append hot path, written once per dialect.

Appending and reading are the store's hottest paths: the statements below skip SQLAlchemy's
compilation, cache-key and result-processing work. On PostgreSQL a standalone append is one
call of `clearance_append` (migration 0003, one round trip); the statements here serve
SQLite and the log-head lock. Reads select whole event rows with `SELECT_EVENTS` and turn
driver rows into `RecordedEvent`s with `row_reader` (one json.loads per page, cheap times).
The shape of the tables is defined by the migrations; `tables.py` mirrors them.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping, Sequence
from datetime import UTC, datetime
from functools import lru_cache
from typing import Any

from shared.events.envelope import RecordedEvent, as_utc

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
        return stored_time(value.isoformat(timespec="microseconds"))


def stored_time(iso: str) -> str:
    """SQLite's stored text of a time (SQLAlchemy's `YYYY-MM-DD HH:MM:SS.ffffff`, in UTC) from
    its canonical `isoformat` text (`YYYY-MM-DDTHH:MM:SS.ffffff+00:00`)."""
    return iso[:10] + " " + iso[11:26]


_BY_DIALECT: dict[str, AppendSQL] = {}


def append_sql(dialect: str) -> AppendSQL:
    if dialect not in _BY_DIALECT:
        _BY_DIALECT[dialect] = AppendSQL(dialect)
    return _BY_DIALECT[dialect]


SELECT_EVENTS = f"SELECT {', '.join(COLUMNS)} FROM events"

RowReader = Callable[[Sequence[Sequence[Any]]], list[RecordedEvent]]


def row_reader(dialect: str) -> RowReader:
    """Driver rows (in `COLUMNS` order) -> RecordedEvents, for one dialect. The rows' data
    texts are decoded with one json.loads of them all, as one JSON array."""
    loads = json.loads
    if dialect == "postgresql":
        def time(value: Any) -> datetime:
            moment: datetime = value
            if moment.tzinfo is UTC:  # the direct pool's sessions run in UTC
                return moment
            return as_utc(moment)
    else:
        parse = datetime.fromisoformat

        def time(value: Any) -> datetime:  # SQLAlchemy's text format, stored in UTC
            return parse(value).replace(tzinfo=UTC)

    def read(rows: Sequence[Sequence[Any]]) -> list[RecordedEvent]:
        if not rows:
            return []
        datas = loads("[" + ",".join([row[12] for row in rows]) + "]")
        return [
            RecordedEvent(
                position=position, event_id=event_id, type=type_, version=version,
                stream=stream, stream_version=stream_version, correlation_id=correlation_id,
                causation_id=causation_id, actor=actor, occurred_at=time(occurred_at),
                recorded_at=time(recorded_at), data=data, hash=hash_)
            for (position, event_id, stream, _category, stream_version, type_, version,
                 correlation_id, causation_id, actor, occurred_at, recorded_at, _text, hash_),
            data in zip(rows, datas, strict=True)]

    return read


def dialect_insert(dialect: str, table: Any) -> Any:
    """An INSERT of `table` with the dialect's ON CONFLICT clauses (PostgreSQL or SQLite)."""
    from sqlalchemy.dialects import postgresql, sqlite

    return postgresql.insert(table) if dialect == "postgresql" else sqlite.insert(table)


INSERT_CHUNK = 500  # rows per statement (SQLite allows 32,766 parameters)


def insert_rows(connection: Any, table: Any, rows: Sequence[Mapping[str, Any]], *,
                conflict: str | None = None) -> None:
    """INSERT `rows` (mappings with the same keys) into a read model on a SQLAlchemy
    connection: one driver-level statement per 500 rows, so the hot path compiles nothing.
    With `conflict` (a unique column), a row whose key exists is skipped (ON CONFLICT DO
    NOTHING); without it a taken key raises SQLAlchemy's IntegrityError."""
    if not rows:
        return
    mark = append_sql(connection.dialect.name).mark
    columns = list(rows[0])
    row_marks = "(" + ", ".join([mark] * len(columns)) + ")"
    for start in range(0, len(rows), INSERT_CHUNK):
        chunk = rows[start:start + INSERT_CHUNK]
        sql = (f"INSERT INTO {table.name} ({', '.join(columns)})"
               f" VALUES {', '.join([row_marks] * len(chunk))}")
        if conflict is not None:
            sql += f" ON CONFLICT ({conflict}) DO NOTHING"
        connection.exec_driver_sql(sql, tuple(row[c] for row in chunk for c in columns))

"""The append paths: events in, positions, stream versions and chain hashes out.

Every append locks the single log-head row, so positions are assigned (and become visible) in
commit order, and each event gets the previous event's hash for the chain.

- PostgreSQL: one call of `clearance_append` (migration 0003) per append: the header text is
  made here (`hashing.header_pieces`), the database joins in the position and stream version,
  hashes, inserts and moves the head in one round trip. The function runs with the schema
  owner's rights (SECURITY DEFINER, migration 0005): the services' role reads the log and
  calls it, and can neither insert a row of its own nor move the head.
- SQLite: read the head, chain, insert and move the head inside the caller's write
  transaction (BEGIN IMMEDIATE holds the file's write lock, which serialises appends).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import UTC
from functools import lru_cache
from typing import Any, NoReturn

from shared.events.envelope import NewEvent, RecordedEvent, as_utc, category_of, utcnow
from shared.events.registry import EventRegistry

from .dialects import stored_time
from .errors import DuplicateEventId, EventStoreError, WrongExpectedVersion
from .hashing import canonical_json, header_pieces, header_text, link

Decoder = Callable[[RecordedEvent], Any]
COLUMNS = (
    "position", "event_id", "stream", "category", "stream_version", "type", "version",
    "correlation_id", "causation_id", "actor", "occurred_at", "recorded_at", "data", "hash",
)


def prepare(registry: EventRegistry | None, stream: str,
            new_events: Sequence[NewEvent]) -> tuple[str, list[str]]:
    """Validate the events against the registry (nothing invalid is appended); the stream's
    category and each event's canonical data text."""
    category = category_of(stream)
    data_texts: list[str] = []
    for event in new_events:
        if registry is not None:
            registry.validate(event.type, event.version, event.data)
            if registry.category(event.type) != category:
                raise EventStoreError(
                    f"{event.type} belongs to category {registry.category(event.type)!r},"
                    f" not to stream {stream!r}"
                )
        data = event.data
        data_texts.append(canonical_json(data if type(data) is dict else dict(data)))
    return category, data_texts


# -- PostgreSQL -------------------------------------------------------------------------------
PG_APPEND = (
    "SELECT first_position, first_version, hashes FROM clearance_append("
    "%s, %s, %s, %s, %s, %s::text[], %s::text[], %s::integer[], %s::text[], %s::text[], "
    "%s::text[], %s::timestamptz[], %s::text[], %s::text[], %s::text[])"
)
# The log-head row lock as a SECURITY DEFINER function (migration 0005): SELECT ... FOR UPDATE
# needs UPDATE privilege, which the services' role does not have on the head.
PG_LOCK_HEAD = "SELECT clearance_lock_appends()"


def append_pg(cursor: Any, stream: str, category: str, new_events: Sequence[NewEvent],
              data_texts: list[str], expected_version: int | None,
              decoder: Decoder | None = None) -> list[RecordedEvent]:
    """One `clearance_append` call on a psycopg2 cursor."""
    import psycopg2

    recorded_at = utcnow()
    occurred = [as_utc(e.occurred_at) for e in new_events]
    heads_a: list[str] = []
    heads_c: list[str] = []
    head_b = ""
    for event, occurred_at in zip(new_events, occurred, strict=True):
        a, head_b, c = header_pieces(
            event_id=event.event_id, stream=stream, type=event.type, version=event.version,
            correlation_id=event.correlation_id, causation_id=event.causation_id,
            actor=event.actor, occurred_at=occurred_at, recorded_at=recorded_at)
        heads_a.append(a)
        heads_c.append(c)
    try:
        cursor.execute(PG_APPEND, (
            stream, category, -1 if expected_version is None else expected_version, recorded_at,
            head_b, [e.event_id for e in new_events], [e.type for e in new_events],
            [e.version for e in new_events], [e.correlation_id for e in new_events],
            [e.causation_id for e in new_events], [e.actor for e in new_events], occurred,
            data_texts, heads_a, heads_c))
        first_position, first_version, hashes = cursor.fetchone()
    except psycopg2.IntegrityError as exc:
        integrity_error(exc, stream, expected_version)
    if first_position is None:
        assert expected_version is not None
        raise WrongExpectedVersion(stream, expected_version, int(first_version))
    return [
        _typed(RecordedEvent(
            position=first_position + i, event_id=event.event_id, type=event.type,
            version=event.version, stream=stream, stream_version=first_version + i,
            correlation_id=event.correlation_id, causation_id=event.causation_id,
            actor=event.actor, occurred_at=occurred_at, recorded_at=recorded_at,
            data=dict(event.data), hash=hashes[i], decoder=decoder,
        ), event)
        for i, (event, occurred_at) in enumerate(zip(new_events, occurred, strict=True))
    ]


def _typed(recorded: RecordedEvent, event: NewEvent) -> RecordedEvent:
    """The recorded event, with the payload it was made from when that is known."""
    if event.payload is not None:
        recorded.with_payload(event.payload)
    return recorded


# -- SQLite -----------------------------------------------------------------------------------
SQLITE_HEAD = (
    "SELECT h.position, h.hash, (SELECT COALESCE(MAX(e.stream_version), 0) "
    "FROM events e WHERE e.stream = ?) FROM event_log_head h WHERE h.id = 1"
)
SQLITE_MOVE_HEAD = "UPDATE event_log_head SET position = ?, hash = ? WHERE id = 1"


@lru_cache(maxsize=1)
def _sqlite_insert() -> str:
    return (f"INSERT INTO events ({', '.join(COLUMNS)}) "
            f"VALUES ({', '.join(['?'] * len(COLUMNS))})")


def append_sqlite(connection: Any, stream: str, category: str, new_events: Sequence[NewEvent],
                  data_texts: list[str], expected_version: int | None,
                  decoder: Decoder | None = None) -> list[RecordedEvent]:
    """Read the head, chain, insert and move the head, inside the caller's write transaction.

    Per event this does the least Python it can: each time is formatted once (`isoformat`,
    the stored text sliced from it), the hashed header is written directly (`header_text`),
    and the rows go in with one execute (one row) or executemany."""
    import sqlite3

    position, previous_hash, actual_version = connection.execute(SQLITE_HEAD,
                                                                 (stream,)).fetchone()
    if expected_version is not None and actual_version != expected_version:
        raise WrongExpectedVersion(stream, expected_version, actual_version)
    recorded_at = utcnow()
    recorded_text = recorded_at.isoformat(timespec="microseconds")
    stored_recorded_at = stored_time(recorded_text)
    rows: list[tuple[Any, ...]] = []
    recorded: list[RecordedEvent] = []
    for offset, (event, data_text) in enumerate(zip(new_events, data_texts, strict=True),
                                                start=1):
        occurred_at = event.occurred_at
        if occurred_at.tzinfo is not UTC:
            occurred_at = as_utc(occurred_at)
        occurred_text = occurred_at.isoformat(timespec="microseconds")
        event_position = position + offset
        stream_version = actual_version + offset
        event_id, type_, version = event.event_id, event.type, event.version
        correlation_id, causation_id, actor = event.correlation_id, event.causation_id, event.actor
        previous_hash = link(previous_hash, header_text(
            event_position, event_id, stream, stream_version, type_, version, correlation_id,
            causation_id, actor, occurred_text, recorded_text), data_text)
        rows.append((event_position, event_id, stream, category, stream_version, type_, version,
                     correlation_id, causation_id, actor, stored_time(occurred_text),
                     stored_recorded_at, data_text, previous_hash))
        recorded.append(_typed(RecordedEvent(
            position=event_position, event_id=event_id, type=type_, version=version,
            stream=stream, stream_version=stream_version, correlation_id=correlation_id,
            causation_id=causation_id, actor=actor, occurred_at=occurred_at,
            recorded_at=recorded_at, data=dict(event.data), hash=previous_hash,
            decoder=decoder,
        ), event))
    try:
        if len(rows) == 1:
            connection.execute(_sqlite_insert(), rows[0])
        else:
            connection.executemany(_sqlite_insert(), rows)
    except sqlite3.IntegrityError as exc:
        integrity_error(exc, stream, expected_version if expected_version is not None
                        else actual_version)
    connection.execute(SQLITE_MOVE_HEAD, (recorded[-1].position, previous_hash))
    return recorded


def integrity_error(exc: Exception, stream: str, expected_version: int | None) -> NoReturn:
    if "event_id" in str(exc):
        raise DuplicateEventId(str(exc)) from exc
    # A concurrent append to the same stream won the (stream, stream_version) key.
    raise WrongExpectedVersion(stream, expected_version or 0, None) from exc

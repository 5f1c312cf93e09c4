"""The event store: one append-only, hash-chained, gap-free log shared by the four services.

    store = EventStore("sqlite:///var/clearance.db", registry)
    store.append("declaration-C1", [event], expected_version=0)
    store.read_stream("declaration-C1")
    store.read_all(after=0, limit=500)          # the global order, gap-free
    store.read_correlation("C1")                # one consignment across every service

Appends lock the single log-head row (PostgreSQL `SELECT ... FOR UPDATE`; on SQLite the
`BEGIN IMMEDIATE` write lock does the same), so positions are assigned, and become visible,
in commit order: a reader tailing `position > last_seen` never misses an event. The same lock
gives each event the previous event's hash for the tamper-evident chain.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from datetime import timedelta
from typing import Any

from sqlalchemy import Connection, func, select
from sqlalchemy.dialects import postgresql as pg_dialect
from sqlalchemy.dialects import sqlite as sqlite_dialect
from sqlalchemy.exc import DBAPIError, IntegrityError

from shared.events.envelope import NewEvent, RecordedEvent, as_utc, category_of, utcnow
from shared.events.registry import EventRegistry
from shared.observability.metrics import metrics

from .engine import Engines, create_engines, url_from_env
from .errors import EventsImmutable, EventStoreError, WrongExpectedVersion
from .hashing import canonical_json, chain_hash
from .migrate import upgrade
from .sql import COLUMNS, SQLITE_MAX_ROWS, AppendSQL, append_sql
from .tables import checkpoints, events, inbox, leases

AppendListener = Callable[[Sequence[RecordedEvent]], None]


class DuplicateEventId(EventStoreError):
    """An event id that is already in the log."""


class EventStore:
    def __init__(
        self,
        url: str | None = None,
        registry: EventRegistry | None = None,
        *,
        migrate: bool = True,
        pool_size: int = 5,
    ) -> None:
        self.url = url or url_from_env()
        self.registry = registry
        self.engines: Engines = create_engines(self.url, pool_size=pool_size)
        self._listeners: list[AppendListener] = []
        if migrate:
            upgrade(self.engines)

    @property
    def dialect(self) -> str:
        return self.engines.dialect

    def close(self) -> None:
        self.engines.dispose()

    def on_append(self, listener: AppendListener) -> None:
        """Call `listener` with the events of each committed append made through this object."""
        self._listeners.append(listener)

    # -- writing ------------------------------------------------------------------------
    def append(
        self, stream: str, new_events: Sequence[NewEvent], expected_version: int | None
    ) -> list[RecordedEvent]:
        """Append all of `new_events` or none. `expected_version` is the stream's current
        version (0 for a new stream); None appends whatever the version is."""
        with self.transaction() as tx:
            return tx.append(stream, new_events, expected_version)

    @contextmanager
    def transaction(self) -> Iterator[Transaction]:
        """A write transaction: appends, inbox records and read-model updates commit together."""
        appended: list[RecordedEvent] = []
        try:
            with self.engines.writer.begin() as connection:
                yield Transaction(self, connection, appended)
        except DBAPIError as exc:
            if "immutable" in str(exc.orig):
                raise EventsImmutable(str(exc.orig)) from exc
            raise
        if appended:
            self._committed(appended)

    def _committed(self, appended: Sequence[RecordedEvent]) -> None:
        counts: dict[str, int] = {}
        for event in appended:
            counts[event.category] = counts.get(event.category, 0) + 1
        for category, count in counts.items():
            metrics().appended.labels(category).inc(count)
        for listener in self._listeners:
            listener(appended)

    # -- reading ------------------------------------------------------------------------
    def read_stream(
        self, stream: str, from_version: int = 1, limit: int | None = None
    ) -> list[RecordedEvent]:
        query = (
            select(events)
            .where(events.c.stream == stream, events.c.stream_version >= from_version)
            .order_by(events.c.stream_version)
        )
        if limit is not None:
            query = query.limit(limit)
        return self._fetch(query)

    def read_all(
        self,
        after: int = 0,
        limit: int = 1000,
        categories: Sequence[str] | None = None,
        up_to: int | None = None,
    ) -> list[RecordedEvent]:
        """Events after global position `after`, in order, at most `limit` of them."""
        query = select(events).where(events.c.position > after)
        if categories:
            query = query.where(events.c.category.in_(list(categories)))
        if up_to is not None:
            query = query.where(events.c.position <= up_to)
        return self._fetch(query.order_by(events.c.position).limit(limit))

    def iter_all(
        self, after: int = 0, page: int = 1000, categories: Sequence[str] | None = None
    ) -> Iterator[list[RecordedEvent]]:
        """The whole log after `after`, page by page."""
        while True:
            batch = self.read_all(after, page, categories)
            if not batch:
                return
            yield batch
            after = batch[-1].position

    def read_correlation(
        self, correlation_id: str, up_to: int | None = None
    ) -> list[RecordedEvent]:
        """Every event of one consignment, from all services, in log order."""
        query = select(events).where(events.c.correlation_id == correlation_id)
        if up_to is not None:
            query = query.where(events.c.position <= up_to)
        return self._fetch(query.order_by(events.c.position))

    def stream_version(self, stream: str) -> int:
        query = select(func.coalesce(func.max(events.c.stream_version), 0)).where(
            events.c.stream == stream
        )
        with self.engines.reader.connect() as connection:
            return int(connection.execute(query).scalar_one())

    def last_position(self) -> int:
        with self.engines.reader.connect() as connection:
            value = connection.execute(select(func.max(events.c.position))).scalar_one()
        return int(value or 0)

    def _fetch(self, query: Any) -> list[RecordedEvent]:
        with self.engines.reader.connect() as connection:
            return [_recorded(row) for row in connection.execute(query).mappings()]

    # -- inbox --------------------------------------------------------------------------
    def inbox_contains(self, consumer: str, event_id: str) -> bool:
        query = select(inbox.c.event_id).where(
            inbox.c.consumer == consumer, inbox.c.event_id == event_id
        )
        with self.engines.reader.connect() as connection:
            return connection.execute(query).first() is not None

    # -- relay bookkeeping: checkpoints and leases ----------------------------------------
    def checkpoint(self, name: str) -> int:
        with self.engines.reader.connect() as connection:
            value = connection.execute(
                select(checkpoints.c.position).where(checkpoints.c.name == name)
            ).scalar_one_or_none()
        return int(value or 0)

    def save_checkpoint(
        self, name: str, position: int, *, lease: str | None = None, owner: str | None = None
    ) -> bool:
        """Move a checkpoint forward (never back). With `lease`/`owner`, only while `owner`
        still holds the lease (a fence against a replica whose lease was taken over)."""
        with self.engines.writer.begin() as connection:
            if lease is not None:
                holder = connection.execute(
                    select(leases.c.owner, leases.c.expires_at).where(leases.c.name == lease)
                ).first()
                if holder is None or holder.owner != owner:
                    return False
            statement = self._upsert(checkpoints).values(
                name=name, position=position, updated_at=utcnow()
            )
            excluded = statement.excluded
            connection.execute(
                statement.on_conflict_do_update(
                    index_elements=[checkpoints.c.name],
                    set_={"position": excluded.position, "updated_at": excluded.updated_at},
                    where=checkpoints.c.position < excluded.position,
                )
            )
        return True

    def try_acquire_lease(self, name: str, owner: str, ttl: timedelta) -> bool:
        """Take or renew the lease `name` for `owner`; False while someone else holds it."""
        now = utcnow()
        statement = self._upsert(leases).values(name=name, owner=owner, expires_at=now + ttl)
        excluded = statement.excluded
        statement = statement.on_conflict_do_update(
            index_elements=[leases.c.name],
            set_={"owner": excluded.owner, "expires_at": excluded.expires_at},
            where=(leases.c.owner == excluded.owner) | (leases.c.expires_at < now),
        ).returning(leases.c.owner)
        with self.engines.writer.begin() as connection:
            return connection.execute(statement).first() is not None

    def release_lease(self, name: str, owner: str) -> None:
        with self.engines.writer.begin() as connection:
            connection.execute(
                leases.delete().where(leases.c.name == name, leases.c.owner == owner)
            )

    def _upsert(self, table: Any) -> Any:
        if self.dialect == "postgresql":
            return pg_dialect.insert(table)
        return sqlite_dialect.insert(table)


class Transaction:
    """One write transaction of the store (see `EventStore.transaction`)."""

    def __init__(self, store: EventStore, connection: Connection, appended: list[RecordedEvent]):
        self.store = store
        self.connection = connection
        self._appended = appended

    def append(
        self, stream: str, new_events: Sequence[NewEvent], expected_version: int | None
    ) -> list[RecordedEvent]:
        if not new_events:
            return []
        category = category_of(stream)
        registry = self.store.registry
        prepared: list[tuple[NewEvent, str]] = []
        for event in new_events:
            if registry is not None:
                registry.validate(event.type, event.version, event.data)
                if registry.category(event.type) != category:
                    raise EventStoreError(
                        f"{event.type} belongs to category {registry.category(event.type)!r},"
                        f" not to stream {stream!r}"
                    )
            prepared.append((event, canonical_json(dict(event.data))))

        sql = append_sql(self.store.dialect)
        head = self.connection.exec_driver_sql(sql.head, (stream,)).one()
        position, previous_hash, actual_version = int(head[0]), str(head[1]), int(head[2])
        if expected_version is not None and actual_version != expected_version:
            raise WrongExpectedVersion(stream, expected_version, actual_version)

        recorded_at = utcnow()
        stored_recorded_at = sql.time(recorded_at)
        params: list[Any] = []
        recorded: list[RecordedEvent] = []
        for offset, (event, data_text) in enumerate(prepared, start=1):
            occurred_at = as_utc(event.occurred_at)
            event_position = position + offset
            stream_version = actual_version + offset
            previous_hash = chain_hash(
                previous_hash, position=event_position, event_id=event.event_id, stream=stream,
                stream_version=stream_version, type=event.type, version=event.version,
                correlation_id=event.correlation_id, causation_id=event.causation_id,
                actor=event.actor, occurred_at=occurred_at, recorded_at=recorded_at,
                data_text=data_text,
            )
            params.extend((
                event_position, event.event_id, stream, category, stream_version, event.type,
                event.version, event.correlation_id, event.causation_id, event.actor,
                sql.time(occurred_at), stored_recorded_at, data_text, previous_hash,
            ))
            recorded.append(RecordedEvent(
                position=event_position, event_id=event.event_id, type=event.type,
                version=event.version, stream=stream, stream_version=stream_version,
                correlation_id=event.correlation_id, causation_id=event.causation_id,
                actor=event.actor, occurred_at=occurred_at, recorded_at=recorded_at,
                data=dict(event.data), hash=previous_hash,
            ))
        try:
            self._insert(sql, params, len(recorded), recorded[-1].position, previous_hash)
        except IntegrityError as exc:
            if "event_id" in str(exc.orig):
                raise DuplicateEventId(str(exc.orig)) from exc
            # A concurrent append to the same stream won the (stream, stream_version) key.
            raise WrongExpectedVersion(stream, expected_version or actual_version, None) from exc
        self._appended.extend(recorded)
        return recorded

    def _insert(self, sql: AppendSQL, params: list[Any], rows: int, last_position: int,
                last_hash: str) -> None:
        if sql.dialect == "postgresql":
            self.connection.exec_driver_sql(
                sql.insert(rows), tuple(params) + (last_position, last_hash))
            return
        width = len(COLUMNS)
        for first in range(0, rows, SQLITE_MAX_ROWS):
            chunk = min(SQLITE_MAX_ROWS, rows - first)
            self.connection.exec_driver_sql(
                sql.insert(chunk), tuple(params[first * width:(first + chunk) * width]))
        self.connection.exec_driver_sql(sql.update_head, (last_position, last_hash))

    def lock_appends(self) -> None:
        """Hold back every append until this transaction ends (locks the log head; on SQLite
        the transaction's write lock does it already). Used to swap rebuilt projections."""
        self.connection.exec_driver_sql(append_sql(self.store.dialect).head, ("",)).one()

    def read_all(self, after: int, limit: int = 1000) -> list[RecordedEvent]:
        """Like `EventStore.read_all`, on this transaction's connection."""
        query = select(events).where(events.c.position > after).order_by(events.c.position)
        return [_recorded(row) for row in self.connection.execute(query.limit(limit)).mappings()]

    def record_inbox(self, consumer: str, event_id: str, position: int) -> bool:
        """Record that `consumer` handled `event_id`; False if it already had (a duplicate)."""
        statement = (
            self.store._upsert(inbox)
            .values(consumer=consumer, event_id=event_id, position=position,
                    processed_at=utcnow())
            .on_conflict_do_nothing(index_elements=[inbox.c.consumer, inbox.c.event_id])
        )
        return bool(self.connection.execute(statement).rowcount == 1)


def _recorded(row: Mapping[Any, Any]) -> RecordedEvent:
    return RecordedEvent(
        position=int(row["position"]),
        event_id=row["event_id"],
        type=row["type"],
        version=int(row["version"]),
        stream=row["stream"],
        stream_version=int(row["stream_version"]),
        correlation_id=row["correlation_id"],
        causation_id=row["causation_id"],
        actor=row["actor"],
        occurred_at=as_utc(row["occurred_at"]),
        recorded_at=as_utc(row["recorded_at"]),
        data=json.loads(row["data"]),
        hash=row["hash"],
    )

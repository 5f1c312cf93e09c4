"""The event store: one append-only, hash-chained, gap-free log shared by the four services.

    store = EventStore("sqlite:///var/clearance.db", registry)
    store.append("declaration-C1", [event], expected_version=0)
    store.read_stream("declaration-C1")          # events whose .payload is typed
    store.read_all(after=0, limit=500)           # the global order, gap-free
    with store.transaction() as tx:              # appends, inbox and read models together
        tx.append(...); STATUS.update(tx, rows)

The work is done by one module per concern: `append.py` (the append paths), `reader.py` (log
reads), `bookkeeping.py` (inbox, checkpoints, leases), `readmodels.py` (projection tables),
over the two connection paths of `connections.py`.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from datetime import timedelta
from pathlib import Path
from typing import Any, TypeVar

from sqlalchemy import Engine
from sqlalchemy.engine import make_url

from shared.events.envelope import NewEvent, RecordedEvent
from shared.events.registry import EventRegistry
from shared.observability.metrics import Metrics, metrics

from . import bookkeeping, holding
from .append import PG_LOCK_HEAD, append_pg, append_sqlite, prepare
from .connections import DirectPool, schema_engine, shown, url_from_env
from .errors import EventsImmutable, StoreMissing
from .migrate import current_revision, require_current, upgrade
from .reader import LogReader, ScannedEvent, fetch

T = TypeVar("T")
AppendListener = Callable[[Sequence[RecordedEvent]], None]


def _is_immutability_error(exc: BaseException) -> bool:
    import psycopg2

    return isinstance(exc, sqlite3.DatabaseError | psycopg2.Error) and "immutable" in str(exc)


class _Catalogue:
    """The default registry: the deployment's catalogue (`shared.events.catalog`)."""


CATALOGUE: Any = _Catalogue()


def _registry(registry: EventRegistry | None | _Catalogue) -> EventRegistry | None:
    if isinstance(registry, _Catalogue):
        from shared.events.catalog import registry as catalogue

        return catalogue()
    return registry


class EventStore:
    """The log at `url` (default EVENT_STORE_URL). Appends are checked against `registry`
    (default: the deployment's catalogue) and reads decode typed payloads with it; with None,
    events of any type are stored unchecked and read untyped (benchmarks of the bare log).

    With `migrate` (the default: library code, tests, the embedded SQLite store) the schema is
    brought to the head revision on opening, which on PostgreSQL needs the schema owner (a
    no-op for any role when it is already there). Services on PostgreSQL open with
    `migrate=False` and call `require_current_schema()`: the owner migrates once, with
    `clearance migrate` (see `migrate.py`)."""

    def __init__(self, url: str | None = None,
                 registry: EventRegistry | None = CATALOGUE, *,
                 migrate: bool = True) -> None:
        registry = _registry(registry)
        self.url = url or url_from_env()
        self.pool = DirectPool(self.url)
        self.dialect = self.pool.dialect
        self._engine: Engine | None = None
        self.log = LogReader(self.pool.run, self.dialect, registry)
        self._listeners: list[AppendListener] = []
        self._metrics: Metrics | None = None
        self._appended_counters: dict[str, Any] = {}  # category -> its labelled counter
        if migrate:
            upgrade(self.schema_engine)

    @classmethod
    def for_service(cls, url: str | None = None,
                    registry: EventRegistry | None = CATALOGUE) -> EventStore:
        """The store as a service opens it: SQLite (embedded, single user) is migrated as
        before; PostgreSQL is never migrated here, and SchemaNotCurrent (naming `clearance
        migrate`) when its schema is not at the head revision."""
        url = url or url_from_env()
        store = cls(url, registry, migrate=False)
        try:
            if store.dialect == "sqlite":
                upgrade(store.schema_engine)
            else:
                store.require_current_schema()
        except BaseException:
            store.close()
            raise
        return store

    def require_current_schema(self) -> None:
        """SchemaNotCurrent (naming `clearance migrate`) unless the schema is at the head
        revision."""
        require_current(self.schema_engine, shown(self.url))

    @classmethod
    def open_existing(cls, url: str | None = None,
                      registry: EventRegistry | None = CATALOGUE) -> EventStore:
        """The store at `url` (default EVENT_STORE_URL) for reading: never created, never
        migrated. StoreMissing (naming the URL) when there is no database there or it holds
        no event log."""
        url = url or url_from_env()
        parsed = make_url(url)
        if parsed.get_backend_name() == "sqlite" and (
                not parsed.database or not Path(parsed.database).is_file()):
            raise StoreMissing(f"no event store at {shown(url)}: the file does not exist "
                               "(set EVENT_STORE_URL)")
        store = cls(url, registry, migrate=False)
        try:
            revision = current_revision(store.schema_engine)
        except Exception as exc:  # noqa: BLE001 - reported with the URL
            store.close()
            reason = str(getattr(exc, "orig", exc)).strip().splitlines()[0]
            raise StoreMissing(f"no event store at {shown(url)}: {reason}") from None
        if revision is None:
            store.close()
            raise StoreMissing(f"no event store at {shown(url)}: the database holds no event "
                               "log (set EVENT_STORE_URL)")
        return store

    @property
    def registry(self) -> EventRegistry | None:
        return self.log.registry

    @registry.setter
    def registry(self, value: EventRegistry | None) -> None:
        self.log.registry = value

    def _decoder(self) -> Callable[[RecordedEvent], Any] | None:
        registry = self.registry
        return None if registry is None else registry.decode

    @property
    def schema_engine(self) -> Engine:
        """SQLAlchemy, for schema work only (see `connections.py`)."""
        if self._engine is None:
            self._engine = schema_engine(self.url)
        return self._engine

    def close(self) -> None:
        self.pool.dispose()
        if self._engine is not None:
            self._engine.dispose()
            self._engine = None

    def run(self, work: Callable[[Any], T]) -> T:
        """`work(connection)` on a pooled connection, each statement committed on its own."""
        return self.pool.run(work)

    def ping(self) -> None:
        """Raise if the database does not answer."""
        self.run(lambda connection: fetch(connection, "SELECT 1"))

    def on_append(self, listener: AppendListener) -> None:
        """Call `listener` with the events of each committed append made through this object."""
        self._listeners.append(listener)

    # -- writing ------------------------------------------------------------------------
    def append(self, stream: str, new_events: Sequence[NewEvent],
               expected_version: int | None) -> list[RecordedEvent]:
        """Append all of `new_events` or none. `expected_version` is the stream's current
        version (0 for a new stream); None appends whatever the version is. One round trip on
        PostgreSQL; one BEGIN IMMEDIATE transaction on SQLite."""
        if not new_events:
            return []
        category, data_texts = prepare(self.registry, stream, new_events)
        if self.dialect == "postgresql":
            def pg(connection: Any) -> list[RecordedEvent]:
                cursor = connection.cursor()
                try:
                    return append_pg(cursor, stream, category, new_events, data_texts,
                                     expected_version, self._decoder())
                finally:
                    cursor.close()

            recorded = self.pool.run(pg)
        else:
            def lite(connection: Any) -> list[RecordedEvent]:
                connection.execute("BEGIN IMMEDIATE")
                try:
                    result = append_sqlite(connection, stream, category, new_events,
                                           data_texts, expected_version, self._decoder())
                    connection.execute("COMMIT")
                except BaseException:
                    if connection.in_transaction:
                        connection.execute("ROLLBACK")
                    raise
                return result

            recorded = self.pool.run(lite)
        self._committed(recorded, category)
        return recorded

    @contextmanager
    def transaction(self) -> Iterator[Transaction]:
        """A write transaction: appends, inbox records and read-model updates commit together
        (SQLite: BEGIN IMMEDIATE, the file's write lock from the start)."""
        connection = self._begin()
        tx = Transaction(self, connection)
        try:
            yield tx
            _execute(connection, "COMMIT")
        except BaseException as exc:
            _rollback(self.pool, connection)
            connection = None
            if _is_immutability_error(exc):
                raise EventsImmutable(str(exc).strip()) from exc
            raise
        finally:
            if tx.holds_head:
                holding.ended()
            if connection is not None:
                self.pool.give_back(connection)
        if tx.appended:
            self._committed(tx.appended)

    def _begin(self) -> Any:
        begin = "BEGIN" if self.dialect == "postgresql" else "BEGIN IMMEDIATE"
        connection, pooled = self.pool.take()
        try:
            _execute(connection, begin)
        except Exception:
            self.pool.discard(connection)
            if not pooled or self.dialect != "postgresql":
                raise
            connection = self.pool.connect()  # the pooled one was broken: nothing was done
            _execute(connection, begin)
        return connection

    def _committed(self, appended: Sequence[RecordedEvent], category: str | None = None) -> None:
        """Count the appended events (`category`: all of one append's stream) and tell the
        listeners."""
        current = metrics()
        if current is not self._metrics:  # the process's metrics were replaced (tests do)
            self._metrics, self._appended_counters = current, {}
        if category is not None:
            counts = {category: len(appended)}
        else:
            counts = {}
            for event in appended:
                counts[event.category] = counts.get(event.category, 0) + 1
        counters = self._appended_counters
        for name, count in counts.items():
            counter = counters.get(name)
            if counter is None:
                counter = counters[name] = current.appended.labels(name)
            counter.inc(count)
        for listener in self._listeners:
            listener(appended)

    # -- reading (see reader.py) ----------------------------------------------------------
    def read_stream(self, stream: str, from_version: int = 1,
                    limit: int | None = None) -> list[RecordedEvent]:
        return self.log.read_stream(stream, from_version, limit)

    def read_all(self, after: int = 0, limit: int = 1000,
                 categories: Sequence[str] | None = None,
                 up_to: int | None = None, *, previous: bool = False) -> list[RecordedEvent]:
        return self.log.read_all(after, limit, categories, up_to, previous=previous)

    def iter_all(self, after: int = 0, page: int = 1000,
                 categories: Sequence[str] | None = None) -> Iterator[list[RecordedEvent]]:
        return self.log.iter_all(after, page, categories)

    def read_correlation(self, correlation_id: str,
                         up_to: int | None = None) -> list[RecordedEvent]:
        return self.log.read_correlation(correlation_id, up_to)

    def scan(self, after: int, up_to: int, page: int,
             fields: Mapping[str, Sequence[str]]) -> Iterator[list[ScannedEvent]]:
        """See `LogReader.scan`: lean rows with partial typed payloads, read ahead on
        PostgreSQL."""
        return self.log.scan(after, up_to, page, fields, run_ahead=self.pool.run)

    def stream_version(self, stream: str) -> int:
        return self.log.stream_version(stream)

    def of_types_in_streams(self, event_types: Sequence[str],
                            streams: Sequence[str]) -> list[RecordedEvent]:
        return self.log.of_types_in_streams(event_types, streams)

    def last_position(self) -> int:
        return self.log.last_position()

    def count(self, after: int = 0, categories: Sequence[str] | None = None) -> int:
        return self.log.count(after, categories)

    # -- bookkeeping (see bookkeeping.py) ---------------------------------------------------
    def inbox_contains(self, consumer: str, event_id: str) -> bool:
        return self.run(lambda c: bookkeeping.inbox_contains(c, self.dialect, consumer,
                                                             event_id))

    def checkpoint(self, name: str) -> int:
        return self.run(lambda c: bookkeeping.checkpoint(c, self.dialect, name))

    def save_checkpoint(self, name: str, position: int, *, lease: str | None = None,
                        owner: str | None = None) -> bool:
        """Move a checkpoint forward (never back); with `lease`/`owner` only while `owner`
        still holds the lease."""
        return self.run(lambda c: bookkeeping.save_checkpoint(c, self.dialect, name, position,
                                                              lease, owner))

    def try_acquire_lease(self, name: str, owner: str, ttl: timedelta) -> bool:
        """Take or renew the lease `name` for `owner`; False while someone else holds it."""
        return self.run(lambda c: bookkeeping.acquire_lease(c, self.dialect, name, owner, ttl))

    def release_lease(self, name: str, owner: str) -> None:
        self.run(lambda c: bookkeeping.release_lease(c, self.dialect, name, owner))


class Transaction:
    """One write transaction of the store (see `EventStore.transaction`)."""

    def __init__(self, store: EventStore, connection: Any) -> None:
        self.store = store
        self.connection = connection
        self.dialect = store.dialect
        self.appended: list[RecordedEvent] = []
        self.holds_head = False  # the log-head lock, taken by the first append (PostgreSQL)
        self.log = LogReader(self.run, self.dialect, store.registry)

    def run(self, work: Callable[[Any], T]) -> T:
        """`work(connection)` inside this transaction."""
        return work(self.connection)

    def execute(self, sql: str, params: Sequence[Any] = ()) -> list[Any]:
        """One statement in this transaction (schema moves such as a rebuild's swap); its
        rows, if it returns any."""
        cursor = self.connection.cursor()
        try:
            cursor.execute(sql, tuple(params))
            return list(cursor.fetchall()) if cursor.description else []
        finally:
            cursor.close()

    def append(self, stream: str, new_events: Sequence[NewEvent],
               expected_version: int | None) -> list[RecordedEvent]:
        if not new_events:
            return []
        category, data_texts = prepare(self.store.registry, stream, new_events)
        if self.dialect == "postgresql":
            self._hold_head()
            cursor = self.connection.cursor()
            try:
                recorded = append_pg(cursor, stream, category, new_events, data_texts,
                                     expected_version, self.store._decoder())
            finally:
                cursor.close()
        else:
            recorded = append_sqlite(self.connection, stream, category, new_events, data_texts,
                                     expected_version, self.store._decoder())
        self.appended.extend(recorded)
        return recorded

    def _hold_head(self) -> None:
        """This transaction is about to take the log-head lock, which it keeps to its end."""
        if not self.holds_head:
            self.holds_head = True
            holding.started()

    def lock_appends(self) -> None:
        """Hold back every append until this transaction ends (PostgreSQL: the log-head row
        lock; SQLite: the transaction's write lock does it already)."""
        if self.dialect == "postgresql":
            self._hold_head()
            self.execute(PG_LOCK_HEAD)

    def read_all(self, after: int, limit: int = 1000) -> list[RecordedEvent]:
        """Like `EventStore.read_all`, inside this transaction."""
        return self.log.read_all(after, limit)

    def last_position(self) -> int:
        return self.log.last_position()

    def record_inbox(self, consumer: str, event_id: str, position: int) -> bool:
        """Record that `consumer` handled `event_id`; False if it already had (a duplicate)."""
        return (consumer, event_id) in self.record_inbox_many([(consumer, event_id, position)])

    def record_inbox_many(self, handled: Sequence[tuple[str, str, int]]) -> set[tuple[str, str]]:
        """See `bookkeeping.record_inbox`."""
        return bookkeeping.record_inbox(self.connection, self.dialect, handled)


def _execute(connection: Any, sql: str) -> None:
    if isinstance(connection, sqlite3.Connection):
        connection.execute(sql)
        return
    cursor = connection.cursor()
    try:
        cursor.execute(sql)
    finally:
        cursor.close()


def _rollback(pool: DirectPool, connection: Any) -> None:
    try:
        _execute(connection, "ROLLBACK")
    except Exception:  # noqa: BLE001 - a broken connection: not pooled again
        pool.discard(connection)
        return
    pool.give_back(connection)

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
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, NoReturn, cast

from sqlalchemy import Connection, func, select
from sqlalchemy.engine import make_url
from sqlalchemy.exc import DBAPIError

from shared.events.envelope import (
    NewEvent,
    RecordedEvent,
    as_utc,
    category_of,
    isoformat,
    utcnow,
)
from shared.events.registry import EventRegistry
from shared.observability.metrics import Metrics, metrics

from . import holding
from .direct import DirectPool
from .engine import Engines, create_engines, url_from_env
from .errors import EventsImmutable, EventStoreError, WrongExpectedVersion
from .hashing import canonical_json, header_pieces, header_text, link
from .migrate import current_revision, upgrade
from .sql import (
    SELECT_EVENTS,
    AppendSQL,
    append_sql,
    dialect_insert,
    row_reader,
    stored_time,
)
from .tables import checkpoints, events, leases

AppendListener = Callable[[Sequence[RecordedEvent]], None]
SCAN_READERS = 2  # PostgreSQL pages a scan reads ahead, each on its own connection
# (position, event_id, type, correlation_id, occurred_at isoformat text, data: JSON text, or
# with picked fields a dict or None); a tuple or a list of those six; see EventStore.scan
LogRow = tuple[int, str, str, str, str, Any]


class DuplicateEventId(EventStoreError):
    """An event id that is already in the log."""


class StoreMissing(EventStoreError):
    """No event log at the URL a reader was given (it is not created for a reader)."""


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
        self._metrics: Metrics | None = None
        self._appended_counters: dict[str, Any] = {}  # category -> its labelled counter
        self.direct = DirectPool(self.url, self.engines.dialect)
        self._sql = append_sql(self.engines.dialect)
        self._rows = row_reader(self.engines.dialect)
        if migrate:
            upgrade(self.engines)

    @classmethod
    def open_existing(cls, url: str | None = None,
                      registry: EventRegistry | None = None) -> EventStore:
        """The store at `url` (default EVENT_STORE_URL) for reading: never created, never
        migrated. StoreMissing (naming the URL) when there is no database there or it holds
        no event log."""
        url = url or url_from_env()
        shown = make_url(url).render_as_string(hide_password=True)
        parsed = make_url(url)
        if parsed.get_backend_name() == "sqlite" and (
                not parsed.database or not Path(parsed.database).is_file()):
            raise StoreMissing(f"no event store at {shown}: the file does not exist "
                               "(set EVENT_STORE_URL)")
        store = cls(url, registry, migrate=False)
        try:
            revision = current_revision(store.engines)
        except DBAPIError as exc:
            store.close()
            raise StoreMissing(f"no event store at {shown}: {str(exc.orig).strip()}") from None
        if revision is None:
            store.close()
            raise StoreMissing(f"no event store at {shown}: the database holds no event log "
                               "(set EVENT_STORE_URL)")
        return store

    @property
    def dialect(self) -> str:
        return self.engines.dialect

    def close(self) -> None:
        self.direct.dispose()
        self.engines.dispose()

    def on_append(self, listener: AppendListener) -> None:
        """Call `listener` with the events of each committed append made through this object."""
        self._listeners.append(listener)

    # -- writing ------------------------------------------------------------------------
    def append(
        self, stream: str, new_events: Sequence[NewEvent], expected_version: int | None
    ) -> list[RecordedEvent]:
        """Append all of `new_events` or none. `expected_version` is the stream's current
        version (0 for a new stream); None appends whatever the version is.

        One round trip on PostgreSQL (`clearance_append`, committed on its own); on SQLite one
        `BEGIN IMMEDIATE` transaction on a driver connection."""
        if not new_events:
            return []
        category, data_texts = _prepare(self.registry, stream, new_events)
        if self.dialect == "postgresql":
            recorded = self.direct.run(lambda connection: _append_pg(
                connection.cursor(), stream, category, new_events, data_texts,
                expected_version))
        else:
            pool = self.direct
            connection = pool.take()
            try:
                recorded = _append_sqlite(connection, self._sql, stream, category, new_events,
                                          data_texts, expected_version)
            except BaseException:
                pool.discard_if_broken(connection)
                raise
            pool.give_back(connection)
        self._committed(recorded, category)
        return recorded

    @contextmanager
    def transaction(self) -> Iterator[Transaction]:
        """A write transaction: appends, inbox records and read-model updates commit together."""
        appended: list[RecordedEvent] = []
        tx: Transaction | None = None
        try:
            with self.engines.writer.begin() as connection:
                tx = Transaction(self, connection, appended)
                yield tx
        except DBAPIError as exc:
            if "immutable" in str(exc.orig):
                raise EventsImmutable(str(exc.orig)) from exc
            raise
        finally:
            if tx is not None and tx.holds_head:
                holding.ended()
        if appended:
            self._committed(appended)

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

    # -- reading ------------------------------------------------------------------------
    def read_stream(
        self, stream: str, from_version: int = 1, limit: int | None = None
    ) -> list[RecordedEvent]:
        m = self._sql.mark
        sql = f"{SELECT_EVENTS} WHERE stream = {m} AND stream_version >= {m} ORDER BY stream_version"
        params: tuple[Any, ...] = (stream, from_version)
        if limit is not None:
            sql += f" LIMIT {m}"
            params += (limit,)
        return self._select(sql, params)

    def read_all(
        self,
        after: int = 0,
        limit: int = 1000,
        categories: Sequence[str] | None = None,
        up_to: int | None = None,
    ) -> list[RecordedEvent]:
        """Events after global position `after`, in order, at most `limit` of them."""
        m = self._sql.mark
        sql = f"{SELECT_EVENTS} WHERE position > {m}"
        params: tuple[Any, ...] = (after,)
        if categories:
            sql += f" AND category IN ({', '.join([m] * len(categories))})"
            params += tuple(categories)
        if up_to is not None:
            sql += f" AND position <= {m}"
            params += (up_to,)
        return self._select(sql + f" ORDER BY position LIMIT {m}", params + (limit,))

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

    def scan(self, after: int, up_to: int, page: int = 5000,
             fields: Mapping[str, Sequence[str]] | None = None) -> Iterator[list[LogRow]]:
        """The log after position `after` up to `up_to`, page by page, as lean rows
        (position, event_id, type, correlation_id, occurred_at, data): occurred_at as its
        canonical `isoformat` text, data as the stored JSON text, undecoded. What a
        projection rebuild folds: no RecordedEvent, no datetime per event.

        With `fields` (event type -> the top-level data fields wanted), data is only those
        of the fields present, `{k: data[k] for k in fields[type] if k in data}` (a dict),
        and None for other types. On PostgreSQL the database picks them out (jsonb) and sends
        the page as one JSON array, so the big payloads (whole documents) are never decoded
        here and a page costs one json.loads; a page the database cannot convert to jsonb
        (a NUL character, an unpaired surrogate) is read whole and picked here instead.

        Each page is the position window (after, after + page]: positions are gap-free, so it
        holds `page` events, and the statement stays one short primary-key range whatever
        the planner knows of the table (with no statistics yet, `position > x ORDER BY
        position LIMIT n` may sort everything after x for every page). On PostgreSQL the
        next `SCAN_READERS` pages are read (each on its own connection, on helper threads)
        while the caller works on the current one."""
        m = self._sql.mark
        postgresql = self.dialect == "postgresql"
        if postgresql:
            at = ("to_char(occurred_at AT TIME ZONE 'UTC', "
                  "'YYYY-MM-DD\"T\"HH24:MI:SS.US\"+00:00\"')")
        else:
            at = "occurred_at"
        whole = (f"SELECT position, event_id, type, correlation_id, {at}, data FROM events "
                 f"WHERE position > {m} AND position <= {m} ORDER BY position")
        picked = _pg_pick_fields(fields, at) if postgresql and fields is not None else None
        windows = [(start, min(start + page, up_to)) for start in range(after, up_to, page)]

        def select(connection: Any, sql: str, window: tuple[int, int]) -> list[Any]:
            cursor = connection.cursor()
            try:
                cursor.execute(sql, window)
                rows: list[Any] = cursor.fetchall()
                return rows
            finally:
                cursor.close()

        def work(connection: Any, window: tuple[int, int]) -> list[LogRow]:
            if picked is not None:
                import psycopg2

                try:
                    page_json: str | None = select(connection, picked, window)[0][0]
                except psycopg2.DataError:  # not convertible to jsonb: pick here instead
                    pass
                else:
                    return [] if page_json is None else cast(list[LogRow], json.loads(page_json))
            rows: list[LogRow] = select(connection, whole, window)
            if not postgresql:  # stored as SQLAlchemy's UTC text: 'YYYY-MM-DD HH:MM:SS.ffffff'
                rows = [(p, e, t, c, _sqlite_isoformat(o), d) for p, e, t, c, o, d in rows]
            if fields is not None:
                rows = [(p, e, t, c, o, _pick(fields.get(t), d)) for p, e, t, c, o, d in rows]
            return rows

        def read(window: tuple[int, int]) -> list[LogRow]:
            return self.direct.run(lambda connection: work(connection, window))

        if not postgresql:
            for window in windows:
                rows = read(window)
                if rows:
                    yield rows
            return
        from collections import deque
        from concurrent.futures import Future, ThreadPoolExecutor

        ahead = SCAN_READERS
        with ThreadPoolExecutor(ahead, thread_name_prefix="scan") as reader:
            upcoming: deque[Future[list[LogRow]]] = deque(
                reader.submit(read, w) for w in windows[:ahead])
            following = iter(windows[ahead:])
            while upcoming:
                rows = upcoming.popleft().result()
                next_window = next(following, None)
                if next_window is not None:
                    upcoming.append(reader.submit(read, next_window))
                if rows:
                    yield rows

    def read_correlation(
        self, correlation_id: str, up_to: int | None = None
    ) -> list[RecordedEvent]:
        """Every event of one consignment, from all services, in log order (through the
        reader engine, so its statement can be observed: the audit checks its plan)."""
        query = select(events).where(events.c.correlation_id == correlation_id)
        if up_to is not None:
            query = query.where(events.c.position <= up_to)
        with self.engines.reader.connect() as connection:
            return [_recorded(row) for row in
                    connection.execute(query.order_by(events.c.position)).mappings()]

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

    @property
    def mark(self) -> str:
        """The driver's parameter mark (`%s` on PostgreSQL, `?` on SQLite), for `query`."""
        return self._sql.mark

    def query(self, sql: str, params: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
        """The rows of one driver-level read (a read model lookup on a hot path: no
        SQLAlchemy compilation or pool checkout). Parameters use `mark`."""

        def work(connection: Any) -> list[tuple[Any, ...]]:
            cursor = connection.cursor()
            try:
                cursor.execute(sql, params)
                return [tuple(r) for r in cursor.fetchall()]
            finally:
                cursor.close()

        return self.direct.run(work)

    def _select(self, sql: str, params: tuple[Any, ...]) -> list[RecordedEvent]:
        """A driver-level SELECT of whole event rows (see `sql.SELECT_EVENTS`)."""
        rows = self._rows

        def work(connection: Any) -> list[RecordedEvent]:
            cursor = connection.cursor()
            try:
                cursor.execute(sql, params)
                return rows(cursor.fetchall())
            finally:
                cursor.close()

        return self.direct.run(work)

    # -- inbox --------------------------------------------------------------------------
    def inbox_contains(self, consumer: str, event_id: str) -> bool:
        """Whether `consumer` has handled `event_id` (one driver-level statement: consumers
        ask this for every delivery)."""
        m = self._sql.mark
        return bool(self.query(f"SELECT 1 FROM inbox WHERE consumer = {m} AND event_id = {m}",
                               (consumer, event_id)))

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
        still holds the lease (a fence against a replica whose lease was taken over).
        One driver-level statement (relays write a checkpoint per pass): the lease check is
        part of the upsert, so the fence holds at the moment of the write."""
        m = self._sql.mark
        row = f"{m}, {m}, {m}"
        params: tuple[Any, ...] = (name, position, self._sql.time(utcnow()))
        source = f"VALUES ({row})"
        if lease is not None:
            source = (f"SELECT {row} WHERE EXISTS (SELECT 1 FROM leases"
                      f" WHERE name = {m} AND owner = {m})")
            params += (lease, owner)
        sql = (f"INSERT INTO relay_checkpoints (name, position, updated_at) {source}"
               " ON CONFLICT (name) DO UPDATE SET position = excluded.position,"
               " updated_at = excluded.updated_at"
               " WHERE relay_checkpoints.position < excluded.position")

        def work(connection: Any) -> int:
            cursor = connection.cursor()
            try:
                cursor.execute(sql, params)
                return int(cursor.rowcount)
            finally:
                cursor.close()

        if self.direct.run(work) == 1 or lease is None:
            return True
        # Nothing written: the lease is not ours, or the checkpoint was already as far.
        return bool(self.query(f"SELECT 1 FROM leases WHERE name = {m} AND owner = {m}",
                               (lease, owner)))

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
        return dialect_insert(self.dialect, table)


class Transaction:
    """One write transaction of the store (see `EventStore.transaction`)."""

    def __init__(self, store: EventStore, connection: Connection, appended: list[RecordedEvent]):
        self.store = store
        self.connection = connection
        self._appended = appended
        self.holds_head = False  # the log-head lock, taken by the first append (PostgreSQL)

    def append(
        self, stream: str, new_events: Sequence[NewEvent], expected_version: int | None
    ) -> list[RecordedEvent]:
        if not new_events:
            return []
        category, data_texts = _prepare(self.store.registry, stream, new_events)
        if self.store.dialect == "postgresql":
            self._hold_head()
            cursor = self.connection.connection.dbapi_connection.cursor()  # type: ignore[union-attr]
            try:
                recorded = _append_pg(cursor, stream, category, new_events, data_texts,
                                      expected_version)
            finally:
                cursor.close()
        else:
            recorded = _append_sqlite_core(
                self.connection.connection.dbapi_connection, append_sql("sqlite"), stream,
                category, new_events, data_texts, expected_version)
        self._appended.extend(recorded)
        return recorded

    def _hold_head(self) -> None:
        """This transaction is about to take the log-head lock, which it keeps to its end."""
        if not self.holds_head:
            self.holds_head = True
            holding.started()

    def lock_appends(self) -> None:
        """Hold back every append until this transaction ends (locks the log head; on SQLite
        the transaction's write lock does it already). Used to swap rebuilt projections."""
        if self.store.dialect == "postgresql":
            self._hold_head()
        self.connection.exec_driver_sql(append_sql(self.store.dialect).head, ("",)).one()

    def read_all(self, after: int, limit: int = 1000) -> list[RecordedEvent]:
        """Like `EventStore.read_all`, on this transaction's connection."""
        query = select(events).where(events.c.position > after).order_by(events.c.position)
        return [_recorded(row) for row in self.connection.execute(query.limit(limit)).mappings()]

    def record_inbox(self, consumer: str, event_id: str, position: int) -> bool:
        """Record that `consumer` handled `event_id`; False if it already had (a duplicate)."""
        return (consumer, event_id) in self.record_inbox_many([(consumer, event_id, position)])

    def record_inbox_many(self, handled: Sequence[tuple[str, str, int]]) -> set[tuple[str, str]]:
        """Record many (consumer, event_id, position) at once, in one statement; the
        (consumer, event_id) pairs that were new (the others are duplicates, as is a pair
        repeated within `handled` after its first occurrence)."""
        rows: dict[tuple[str, str], int] = {}
        for consumer, event_id, position in handled:
            rows.setdefault((consumer, event_id), position)
        if not rows:
            return set()
        m = append_sql(self.store.dialect).mark
        now = append_sql(self.store.dialect).time(utcnow())
        values = ", ".join([f"({m}, {m}, {m}, {m})"] * len(rows))
        params: list[Any] = []
        for (consumer, event_id), position in rows.items():
            params += (consumer, event_id, position, now)
        cursor = self.connection.connection.dbapi_connection.cursor()  # type: ignore[union-attr]
        try:
            cursor.execute(
                "INSERT INTO inbox (consumer, event_id, position, processed_at)"
                f" VALUES {values} ON CONFLICT (consumer, event_id) DO NOTHING"
                " RETURNING consumer, event_id", tuple(params))
            return {(str(c), str(e)) for c, e in cursor.fetchall()}
        finally:
            cursor.close()


def _pick(wanted: Sequence[str] | None, data: str) -> dict[str, Any] | None:
    if wanted is None:
        return None
    decoded = json.loads(data)
    return {k: decoded[k] for k in wanted if k in decoded}


def _sql_text(value: str) -> str:
    return "'" + value.replace("'", "''") + "'"


def _pg_pick_fields(fields: Mapping[str, Sequence[str]], at: str) -> str:
    """The scan's statement with data reduced server-side to `fields` (see `scan`): per type,
    jsonb_build_object of the wanted fields minus those the event does not have. The page
    comes back as one JSON array of [position, event_id, type, correlation_id, occurred_at,
    data] rows: one json.loads (C) per page instead of a driver row and a loads per event."""
    cases = []
    for event_type, wanted in fields.items():
        if not wanted:
            cases.append(f"WHEN {_sql_text(event_type)} THEN '{{}}'::jsonb")
            continue
        build = ", ".join(f"{_sql_text(f)}, d -> {_sql_text(f)}" for f in wanted)
        absent = ", ".join(f"CASE WHEN d ? {_sql_text(f)} THEN NULL ELSE {_sql_text(f)} END"
                           for f in wanted)
        cases.append(f"WHEN {_sql_text(event_type)} THEN jsonb_build_object({build}) "
                     f"- array_remove(ARRAY[{absent}]::text[], NULL)")
    types = ", ".join(_sql_text(t) for t in fields) or "NULL"
    data = f"CASE type {' '.join(cases)} END" if cases else "NULL::jsonb"
    return ("SELECT json_agg(json_build_array(position, event_id, type, correlation_id, "
            f"{at}, {data}) ORDER BY position)::text FROM ("
            "SELECT position, event_id, type, correlation_id, occurred_at, "
            f"CASE WHEN type IN ({types}) THEN data::jsonb END AS d FROM events "
            "WHERE position > %s AND position <= %s OFFSET 0) e")


def _sqlite_isoformat(stored: str) -> str:
    """`isoformat` text of a time SQLite stores as SQLAlchemy's UTC text."""
    if len(stored) == 26:  # 'YYYY-MM-DD HH:MM:SS.ffffff'
        return stored[:10] + "T" + stored[11:] + "+00:00"
    return isoformat(datetime.fromisoformat(stored))


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


# -- the append paths -----------------------------------------------------------------------
def _prepare(registry: EventRegistry | None, stream: str,
             new_events: Sequence[NewEvent]) -> tuple[str, list[str]]:
    """Validate the events against the registry; the stream's category and each event's
    canonical data text."""
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


def _append_pg(cursor: Any, stream: str, category: str, new_events: Sequence[NewEvent],
               data_texts: list[str], expected_version: int | None) -> list[RecordedEvent]:
    """One `clearance_append` call (migration 0003) on a psycopg2 cursor."""
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
        _integrity(exc, stream, expected_version)
    if first_position is None:
        assert expected_version is not None
        raise WrongExpectedVersion(stream, expected_version, int(first_version))
    return [
        RecordedEvent(
            position=first_position + i, event_id=event.event_id, type=event.type,
            version=event.version, stream=stream, stream_version=first_version + i,
            correlation_id=event.correlation_id, causation_id=event.causation_id,
            actor=event.actor, occurred_at=occurred_at, recorded_at=recorded_at,
            data=dict(event.data), hash=hashes[i],
        )
        for i, (event, occurred_at) in enumerate(zip(new_events, occurred, strict=True))
    ]


PG_APPEND = (
    "SELECT first_position, first_version, hashes FROM clearance_append("
    "%s, %s, %s, %s, %s, %s::text[], %s::text[], %s::integer[], %s::text[], %s::text[], "
    "%s::text[], %s::timestamptz[], %s::text[], %s::text[], %s::text[])"
)


def _append_sqlite(connection: Any, sql: AppendSQL, stream: str, category: str,
                   new_events: Sequence[NewEvent], data_texts: list[str],
                   expected_version: int | None) -> list[RecordedEvent]:
    """A whole append transaction on a driver-level sqlite3 connection (autocommit mode)."""
    connection.execute("BEGIN IMMEDIATE")
    try:
        recorded = _append_sqlite_core(connection, sql, stream, category, new_events,
                                       data_texts, expected_version)
        connection.execute("COMMIT")
    except BaseException:
        if connection.in_transaction:
            connection.execute("ROLLBACK")
        raise
    return recorded


def _append_sqlite_core(connection: Any, sql: AppendSQL, stream: str, category: str,
                        new_events: Sequence[NewEvent], data_texts: list[str],
                        expected_version: int | None) -> list[RecordedEvent]:
    """Read the head, chain, insert and move the head, inside the caller's write transaction.

    Per event this does the least Python it can: each time is formatted once (`isoformat`,
    the stored text sliced from it), the hashed header is written directly (`header_text`),
    and the rows go in with one execute (one row) or executemany."""
    import sqlite3

    position, previous_hash, actual_version = connection.execute(sql.head, (stream,)).fetchone()
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
        recorded.append(RecordedEvent(
            position=event_position, event_id=event_id, type=type_, version=version,
            stream=stream, stream_version=stream_version, correlation_id=correlation_id,
            causation_id=causation_id, actor=actor, occurred_at=occurred_at,
            recorded_at=recorded_at, data=dict(event.data), hash=previous_hash,
        ))
    try:
        if len(rows) == 1:
            connection.execute(sql.insert(1), rows[0])
        else:
            connection.executemany(sql.insert(1), rows)
    except sqlite3.IntegrityError as exc:
        _integrity(exc, stream, expected_version if expected_version is not None
                   else actual_version)
    connection.execute(sql.update_head, (recorded[-1].position, previous_hash))
    return recorded


def _integrity(exc: Exception, stream: str, expected_version: int | None) -> NoReturn:
    if "event_id" in str(exc):
        raise DuplicateEventId(str(exc)) from exc
    # A concurrent append to the same stream won the (stream, stream_version) key.
    raise WrongExpectedVersion(stream, expected_version or 0, None) from exc

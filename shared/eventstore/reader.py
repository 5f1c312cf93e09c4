"""The log reader: streams, the global order (gap-free), one consignment, and the lean scan a
rebuild folds. Every event read carries its registry's decoder, so `event.payload` is the
typed event, upcast to the current version.
"""

from __future__ import annotations

import json
from collections import deque
from collections.abc import Callable, Iterator, Mapping, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from typing import Any, TypeVar

from shared.events.envelope import RecordedEvent
from shared.events.registry import EventRegistry

from .dialects import iso_from_stored, mark, read_time
from .tables import GENESIS_HASH

T = TypeVar("T")
Run = Callable[[Callable[[Any], T]], T]

SELECT_EVENTS = ("SELECT position, event_id, stream, stream_version, type, version, "
                 "correlation_id, causation_id, actor, occurred_at, recorded_at, data, hash "
                 "FROM events")
# The same columns and the hash of the event before each (by key: position - 1), as the
# relay reads them to publish (`RecordedEvent.previous_hash`); conditions name `e.` columns.
SELECT_EVENTS_WITH_PREVIOUS = (
    "SELECT e.position, e.event_id, e.stream, e.stream_version, e.type, e.version, "
    "e.correlation_id, e.causation_id, e.actor, e.occurred_at, e.recorded_at, e.data, e.hash, "
    "p.hash FROM events e LEFT JOIN events p ON p.position = e.position - 1")
SCAN_READERS = 2  # PostgreSQL pages a scan reads ahead, each on its own connection
# [position, event_id, type, version, correlation_id, occurred_at as isoformat text, payload]:
# the payload (current version) holds only the fields the scan was asked for (None for other
# types); `version` is the stored one. A list: the page's decoded rows, filled in place.
ScannedEvent = list[Any]


def fetch(connection: Any, sql: str, params: Sequence[Any] = ()) -> list[Any]:
    cursor = connection.cursor()
    try:
        cursor.execute(sql, tuple(params))
        rows: list[Any] = cursor.fetchall()
        return rows
    finally:
        cursor.close()


def statement(connection: Any, sql: str) -> None:
    """Execute `sql` (no parameters, no rows) on a DB-API connection."""
    cursor = connection.cursor()
    try:
        cursor.execute(sql)
    finally:
        cursor.close()


class LogReader:
    """Reads of the log on connections given by `run` (a pool's or one transaction's)."""

    def __init__(self, run: Run[Any], dialect: str, registry: EventRegistry | None) -> None:
        self.run = run
        self.dialect = dialect
        self.registry = registry
        self._m = mark(dialect)

    def events(self, rows: Sequence[Sequence[Any]]) -> list[RecordedEvent]:
        """Driver rows (in `SELECT_EVENTS` order) as events; their data decoded with one
        json.loads of the page."""
        if not rows:
            return []
        decoder = None if self.registry is None else self.registry.decode
        datas = json.loads("[" + ",".join([row[11] for row in rows]) + "]")
        time = read_time
        if len(rows[0]) > 13:  # with the previous hash (SELECT_EVENTS_WITH_PREVIOUS)
            return [
                RecordedEvent(
                    position=row[0], event_id=row[1], type=row[4], version=row[5],
                    stream=row[2], stream_version=row[3], correlation_id=row[6],
                    causation_id=row[7], actor=row[8], occurred_at=time(row[9]),
                    recorded_at=time(row[10]), data=data, hash=row[12], decoder=decoder,
                    previous_hash=(row[13] if row[13] is not None
                                   else GENESIS_HASH if row[0] == 1 else None))
                for row, data in zip(rows, datas, strict=True)]
        return [
            RecordedEvent(
                position=position, event_id=event_id, type=type_, version=version,
                stream=stream, stream_version=stream_version, correlation_id=correlation_id,
                causation_id=causation_id, actor=actor, occurred_at=time(occurred_at),
                recorded_at=time(recorded_at), data=data, hash=hash_, decoder=decoder)
            for (position, event_id, stream, stream_version, type_, version, correlation_id,
                 causation_id, actor, occurred_at, recorded_at, _text, hash_),
            data in zip(rows, datas, strict=True)]

    def select(self, where: str, params: Sequence[Any],
               select: str = SELECT_EVENTS) -> list[RecordedEvent]:
        sql = f"{select} {where}"
        found: list[RecordedEvent] = self.run(
            lambda connection: self.events(fetch(connection, sql, params)))
        return found

    def read_stream(self, stream: str, from_version: int = 1,
                    limit: int | None = None) -> list[RecordedEvent]:
        m = self._m
        where = f"WHERE stream = {m} AND stream_version >= {m} ORDER BY stream_version"
        params: list[Any] = [stream, from_version]
        if limit is not None:
            where += f" LIMIT {m}"
            params.append(limit)
        return self.select(where, params)

    def of_types_in_streams(self, event_types: Sequence[str],
                            streams: Sequence[str]) -> list[RecordedEvent]:
        """The events of `event_types` in any of `streams`, in log order: one statement (the
        (stream, version) index), whatever the number of streams."""
        if not streams or not event_types:
            return []
        m = self._m
        in_streams = ", ".join([m] * len(streams))
        of_types = ", ".join([m] * len(event_types))
        return self.select(f"WHERE stream IN ({in_streams}) AND type IN ({of_types}) "
                           "ORDER BY position", [*streams, *event_types])

    def count_types(self, event_types: Sequence[str],
                    streams: Sequence[str]) -> dict[tuple[str, str], int]:
        """How many events of each of `event_types` each of `streams` holds ((stream, type) ->
        count; absent: none): one statement on the (stream, version) index, nothing decoded."""
        if not streams or not event_types:
            return {}
        m = self._m
        in_streams = ", ".join([m] * len(streams))
        of_types = ", ".join([m] * len(event_types))
        sql = (f"SELECT stream, type, COUNT(*) FROM events WHERE stream IN ({in_streams}) "
               f"AND type IN ({of_types}) GROUP BY stream, type")
        rows = self.run(lambda connection: fetch(connection, sql, [*streams, *event_types]))
        return {(str(stream), str(type_)): int(count) for stream, type_, count in rows}

    def read_all(self, after: int = 0, limit: int = 1000,
                 categories: Sequence[str] | None = None,
                 up_to: int | None = None, *, previous: bool = False) -> list[RecordedEvent]:
        """Events after global position `after`, in order, at most `limit` of them; with
        `previous`, each with its `previous_hash` (what the relay publishes)."""
        m = self._m
        e = "e." if previous else ""  # the columns of `events e` beside its predecessor's
        where = f"WHERE {e}position > {m}"
        params: list[Any] = [after]
        if categories:
            where += f" AND {e}category IN ({', '.join([m] * len(categories))})"
            params += categories
        if up_to is not None:
            where += f" AND {e}position <= {m}"
            params.append(up_to)
        return self.select(where + f" ORDER BY {e}position LIMIT {m}", [*params, limit],
                           SELECT_EVENTS_WITH_PREVIOUS if previous else SELECT_EVENTS)

    def iter_all(self, after: int = 0, page: int = 1000,
                 categories: Sequence[str] | None = None) -> Iterator[list[RecordedEvent]]:
        """The whole log after `after`, page by page."""
        while True:
            batch = self.read_all(after, page, categories)
            if not batch:
                return
            yield batch
            after = batch[-1].position

    def read_correlation(self, correlation_id: str,
                         up_to: int | None = None) -> list[RecordedEvent]:
        """Every event of one consignment, from all services, in log order (the index
        `ix_events_correlation` answers it)."""
        m = self._m
        where = f"WHERE correlation_id = {m}"
        params: list[Any] = [correlation_id]
        if up_to is not None:
            where += f" AND position <= {m}"
            params.append(up_to)
        return self.select(where + " ORDER BY position", params)

    def stream_version(self, stream: str) -> int:
        rows = self.run(lambda c: fetch(
            c, f"SELECT COALESCE(MAX(stream_version), 0) FROM events WHERE stream = {self._m}",
            (stream,)))
        return int(rows[0][0])

    def count(self, after: int = 0, categories: Sequence[str] | None = None) -> int:
        """How many events come after position `after` (of `categories`, if given)."""
        m = self._m
        sql = f"SELECT COUNT(*) FROM events WHERE position > {m}"
        params: list[Any] = [after]
        if categories:
            sql += f" AND category IN ({', '.join([m] * len(categories))})"
            params += categories
        rows = self.run(lambda c: fetch(c, sql, params))
        return int(rows[0][0])

    def last_position(self) -> int:
        rows = self.run(lambda c: fetch(c, "SELECT MAX(position) FROM events"))
        return int(rows[0][0] or 0)

    # -- the lean scan --------------------------------------------------------------------
    def scan(self, after: int, up_to: int, page: int,
             fields: Mapping[str, Sequence[str]],
             run_ahead: Run[Any] | None = None) -> Iterator[list[ScannedEvent]]:
        """The log after `after` up to `up_to`, page by page, as lean rows whose payload holds
        only `fields[type]` (typed, upcast; see `EventRegistry.decode_partial`), None for the
        types not in `fields`. What a rebuild folds: no RecordedEvent, no decoding of the
        fields it does not read.

        On PostgreSQL the database picks the fields out (jsonb) of events already at their
        current version and sends the page as one JSON array (one json.loads per page); a
        page it cannot convert to jsonb (a NUL character, an unpaired surrogate) is read whole
        and picked here instead. Each page is the position window (after, after + page]:
        positions are gap-free, so it holds `page` events and stays one primary-key range
        whatever the planner knows of the table. On PostgreSQL the next `SCAN_READERS` pages
        are read (`run_ahead`: each on its own connection, on helper threads) while the
        caller works on the current one."""
        registry = self.registry
        if registry is None:
            raise ValueError("a scan needs the store's registry (typed payloads)")
        for event_type, names in fields.items():
            unknown = set(names) - set(registry.field_names(event_type))
            if unknown:
                raise ValueError(f"{event_type} has no field {sorted(unknown)}")
        current = {t: registry.current_version(t) for t in fields}
        postgresql = self.dialect == "postgresql"
        at = ("to_char(occurred_at AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS.US\"+00:00\"')"
              if postgresql else "occurred_at")
        m = self._m
        whole = (f"SELECT position, event_id, type, version, correlation_id, {at}, data "
                 f"FROM events WHERE position > {m} AND position <= {m} ORDER BY position")
        picked = _pg_pick_fields(fields, current, at) if postgresql else None
        windows = [(start, min(start + page, up_to)) for start in range(after, up_to, page)]

        partial = {t: registry.partial_decoder(t) for t in fields}
        iso = None if postgresql else iso_from_stored

        def typed(rows: list[Any], picked_already: bool) -> list[ScannedEvent]:
            """The page's rows with each payload typed (in place when the database sent them
            as one JSON array)."""
            if picked_already:
                out = rows
            elif iso is None:
                out = [list(row) for row in rows]
            else:
                out = [[p, e, t, v, c, iso(o), d] for p, e, t, v, c, o, d in rows]
            for row in out:
                decode = partial.get(row[2])
                if decode is None:
                    row[6] = None
                    continue
                type_, data = row[2], row[6]
                if type(data) is str:
                    data = json.loads(data)
                if row[3] != current[type_]:
                    data = registry.upcast(type_, row[3], data)
                    data = {k: data[k] for k in fields[type_] if k in data}
                elif not picked_already:
                    data = {k: data[k] for k in fields[type_] if k in data}
                row[6] = decode(data)
            return out

        def work(connection: Any, window: tuple[int, int]) -> list[ScannedEvent]:
            if picked is not None:
                import psycopg2

                try:
                    page_json: str | None = fetch(connection, picked, window)[0][0]
                except psycopg2.DataError:  # not convertible to jsonb: pick here instead
                    pass
                else:
                    return [] if page_json is None else typed(json.loads(page_json), True)
            return typed(fetch(connection, whole, window), False)

        def read(window: tuple[int, int]) -> list[ScannedEvent]:
            rows: list[ScannedEvent] = (run_ahead or self.run)(
                lambda connection: work(connection, window))
            return rows

        if not postgresql:
            for window in windows:
                rows = read(window)
                if rows:
                    yield rows
            return
        with ThreadPoolExecutor(SCAN_READERS, thread_name_prefix="scan") as reader:
            upcoming: deque[Future[list[ScannedEvent]]] = deque(
                reader.submit(read, w) for w in windows[:SCAN_READERS])
            following = iter(windows[SCAN_READERS:])
            while upcoming:
                rows = upcoming.popleft().result()
                next_window = next(following, None)
                if next_window is not None:
                    upcoming.append(reader.submit(read, next_window))
                if rows:
                    yield rows


def _sql_text(value: str) -> str:
    return "'" + value.replace("'", "''") + "'"


def _pg_pick_fields(fields: Mapping[str, Sequence[str]], current: Mapping[str, int],
                    at: str) -> str:
    """The scan's statement with data reduced server-side to `fields` for events at their
    current version (older versions come whole, to be upcast first): per type,
    jsonb_build_object of the wanted fields minus those the event does not have. The page
    comes back as one JSON array of [position, event_id, type, version, correlation_id,
    occurred_at, data] rows."""
    cases = []
    for event_type, wanted in fields.items():
        version = int(current[event_type])
        if not wanted:
            build = "'{}'::jsonb"
        else:
            pairs = ", ".join(f"{_sql_text(f)}, d -> {_sql_text(f)}" for f in wanted)
            absent = ", ".join(f"CASE WHEN d ? {_sql_text(f)} THEN NULL ELSE {_sql_text(f)} END"
                               for f in wanted)
            build = (f"jsonb_build_object({pairs}) "
                     f"- array_remove(ARRAY[{absent}]::text[], NULL)")
        cases.append(f"WHEN {_sql_text(event_type)} THEN "
                     f"CASE WHEN version = {version} THEN {build} ELSE d END")
    types = ", ".join(_sql_text(t) for t in fields) or "NULL"
    data = f"CASE type {' '.join(cases)} END" if cases else "NULL::jsonb"
    return ("SELECT json_agg(json_build_array(position, event_id, type, version, "
            f"correlation_id, {at}, {data}) ORDER BY position)::text FROM ("
            "SELECT position, event_id, type, version, correlation_id, occurred_at, "
            f"CASE WHEN type IN ({types}) THEN data::jsonb END AS d FROM events "
            "WHERE position > %s AND position <= %s OFFSET 0) e")

"""The declaration status read model (`declaration_status`), fed from the log.

The live projection hears every event type through the queue `declaration.status` (the
idempotent consumer records the inbox in the same transaction); lodgement also applies its
own two events at once, so `GET /declarations/{mrn}` answers right after `POST`. Each row keeps
the set of facts (`domain/status_view.py`) and every column is derived from it, so duplicates
and reordering change nothing and a rebuild from the log equals the live table.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import (
    BigInteger,
    Column,
    Connection,
    DateTime,
    Integer,
    MetaData,
    String,
    Table,
    Text,
    select,
)

from shared.events.envelope import RecordedEvent, as_utc, isoformat
from shared.eventstore import EventStore, Transaction

from .domain.status_view import KEPT_FIELDS, derive, fact_of

metadata = MetaData()


def status_table(name: str = "declaration_status") -> Table:
    """The table's shape (created by migration 0002); a rebuild writes a copy under `name`."""
    return Table(
        name, MetaData(),
        Column("consignment_id", String(36), primary_key=True),
        Column("mrn", String(18), nullable=True, unique=True),
        Column("lrn", String(100), nullable=False),
        Column("declarant_eori", String(20), nullable=False),
        Column("office", String(20)),
        Column("transport_mode", String(30)),
        Column("version", Integer, nullable=False),
        Column("status_name", String(60), nullable=False),
        Column("status_code", String(2), nullable=False),
        Column("lane", String(10)),
        Column("amount_due", String(40)),
        Column("amount_paid", String(40)),
        Column("currency", String(3)),
        Column("lodged_at", DateTime(timezone=True)),
        Column("released_at", DateTime(timezone=True)),
        Column("facts", Text, nullable=False),
        Column("last_position", BigInteger, nullable=False),
    )


STATUS = status_table()
CONSUMER = "declaration.status"


def project(connection: Connection, events: Sequence[RecordedEvent], table: Table = STATUS) -> None:
    """Apply events to the status rows of their consignments (inside the caller's transaction).

    Batched: one placeholder INSERT for the batch's consignments, one SELECT ... FOR UPDATE of
    their rows (in key order, so concurrent consumers lock in the same order), one UPDATE of
    the rows whose facts grew: three statements per call whatever its size."""
    new_facts: dict[str, dict[str, Any]] = {}
    for e in events:
        fact = fact_of(e.type, e.position, isoformat(e.occurred_at), e.data)
        if fact is not None:
            new_facts.setdefault(e.correlation_id, {})[e.event_id] = fact
    if not new_facts:
        return
    dbapi = connection.connection.dbapi_connection
    assert dbapi is not None
    cursor = dbapi.cursor()
    try:
        if connection.dialect.name == "postgresql":
            _merge_pg(cursor, table.name, new_facts)
        else:
            _merge_sqlite(cursor, table.name, new_facts)
    finally:
        cursor.close()


_PLACEHOLDER = ("", "", 1, "received", "02", "{}", 0)
_ROW_COLUMNS = ("mrn", "lrn", "declarant_eori", "office", "transport_mode", "version",
                "status_name", "status_code", "lane", "amount_due", "amount_paid", "currency",
                "lodged_at", "released_at", "facts", "last_position")


def _changed_rows(current: dict[str, str], new_facts: dict[str, dict[str, Any]],
                  time: Any) -> list[tuple[Any, ...]]:
    """(consignment_id, *_ROW_COLUMNS) of every row whose set of facts grows."""
    rows = []
    for consignment_id in sorted(new_facts):
        incoming = new_facts[consignment_id]
        facts = json.loads(current[consignment_id])
        if all(event_id in facts for event_id in incoming):
            continue
        facts.update(incoming)
        view = derive(facts)
        rows.append((
            consignment_id, view.mrn, view.lrn, view.declarant_eori, view.office,
            view.transport_mode, view.version, view.status.label, view.status.code, view.lane,
            view.amount_due, view.amount_paid, view.currency, time(view.lodged_at),
            time(view.released_at), _facts_text(facts), view.last_position,
        ))
    return rows


def _merge_pg(cursor: Any, name: str, new_facts: dict[str, dict[str, Any]]) -> None:
    from psycopg2.extras import execute_values

    ids = sorted(new_facts)
    execute_values(
        cursor,
        f'INSERT INTO "{name}" (consignment_id, lrn, declarant_eori, version, status_name, '
        "status_code, facts, last_position) VALUES %s ON CONFLICT (consignment_id) DO NOTHING",
        [(i, *_PLACEHOLDER) for i in ids], page_size=len(ids))
    cursor.execute(f'SELECT consignment_id, facts FROM "{name}" WHERE consignment_id = ANY(%s)'
                   " ORDER BY consignment_id FOR UPDATE", (ids,))
    current = dict(cursor.fetchall())
    rows = _changed_rows(current, new_facts, _time)
    if rows:
        _update_pg(cursor, name, rows)


_FACTS_ENCODER = json.JSONEncoder(sort_keys=True, separators=(",", ":"))


def _facts_text(facts: dict[str, Any]) -> str:
    """The stored `facts` column: json.dumps(facts, sort_keys=True, separators=(",", ":"))."""
    return _FACTS_ENCODER.encode(facts)


Write = Callable[[Connection], None]


class StatusFold:
    """The rebuild's way to fill a new, empty status table from the whole log, in log order:
    the same facts (`fact_of`) and the same rows (`derive`, `_facts_text`) as `project`, which
    the live path uses, but folded in memory from lean log rows (`EventStore.scan`).

    `prepare(rows)` folds one page and returns its write, which the caller runs in one
    transaction, in page order (possibly on another thread while the next page is prepared).
    Each page's consignments get their row written once for the page: new consignments are
    inserted whole (PostgreSQL: COPY), consignments met on an earlier page are updated. The
    facts text of recently written consignments stays in memory (bounded; strings, which the
    garbage collector does not scan); an older consignment's facts are read back from the
    table by the write itself. Only for a table no one else writes while it fills."""

    KEEP = 50_000  # consignments whose facts text stays in memory
    FIELDS = KEPT_FIELDS  # the data fields it reads, per event type (other types: none)

    def __init__(self, table: Table, dialect: str) -> None:
        self.name = table.name
        self.dialect = dialect
        self._time = _time_text if dialect == "postgresql" else _sqlite_time
        self._recent: dict[str, str] = {}  # consignment -> its facts text, oldest first
        self._written: set[str] = set()

    def apply_rows(self, connection: Connection, rows: Sequence[Sequence[Any]]) -> None:
        """Fold one page of log rows into the table (`prepare`, then its write)."""
        write = self.prepare(rows)
        if write is not None:
            write(connection)

    def prepare(self, rows: Sequence[Sequence[Any]]) -> Write | None:
        """Fold one page of log rows (position, event_id, type, correlation_id, occurred_at
        isoformat text, data as JSON text or mapping); the page's write, or None."""
        kept = KEPT_FIELDS
        loads = json.loads
        incoming: dict[str, dict[str, Any]] = {}
        for position, event_id, type_, consignment_id, at, data in rows:
            fields = kept.get(type_)
            if fields is None:
                continue
            if type(data) is str:
                data = loads(data)
            incoming.setdefault(consignment_id, {})[event_id] = {
                "type": type_, "position": position, "at": at,
                "data": {k: data[k] for k in fields if k in data}}
        if not incoming:
            return None
        recent, written = self._recent, self._written
        new_rows: list[tuple[Any, ...]] = []
        changed_rows: list[tuple[Any, ...]] = []
        older: dict[str, dict[str, Any]] = {}  # written before, facts no longer in memory
        for consignment_id in sorted(incoming):
            facts = incoming[consignment_id]
            known = recent.pop(consignment_id, None)
            if known is None and consignment_id in written:
                older[consignment_id] = facts
                continue
            if known is not None:
                facts = {**json.loads(known), **facts}
            row = self._row(consignment_id, facts)
            recent[consignment_id] = row[15]  # its facts text; most recent last
            (new_rows if known is None else changed_rows).append(row)
        written.update(incoming)
        while len(recent) > self.KEEP:
            del recent[next(iter(recent))]

        def write(connection: Connection) -> None:
            dbapi = connection.connection.dbapi_connection
            assert dbapi is not None
            cursor = dbapi.cursor()
            try:
                if older:  # read back what earlier pages wrote (this write runs after theirs)
                    stored = _read_facts(cursor, self.name, list(older), self.dialect)
                    changed_rows.extend(
                        self._row(c, {**json.loads(stored[c]), **facts})
                        for c, facts in older.items())
                self._store(cursor, new_rows, changed_rows)
            finally:
                cursor.close()

        return write

    def _row(self, consignment_id: str, facts: dict[str, Any]) -> tuple[Any, ...]:
        """(consignment_id, *_ROW_COLUMNS) as `_changed_rows` makes it."""
        view = derive(facts)
        time = self._time
        return (
            consignment_id, view.mrn, view.lrn, view.declarant_eori, view.office,
            view.transport_mode, view.version, view.status.label, view.status.code, view.lane,
            view.amount_due, view.amount_paid, view.currency, time(view.lodged_at),
            time(view.released_at), _facts_text(facts), view.last_position,
        )

    def _store(self, cursor: Any, new_rows: list[tuple[Any, ...]],
               changed_rows: list[tuple[Any, ...]]) -> None:
        if new_rows:
            if self.dialect == "postgresql":
                _copy_rows(cursor, self.name, new_rows)
            else:
                marks = ", ".join("?" * (1 + len(_ROW_COLUMNS)))
                cursor.executemany(f'INSERT INTO "{self.name}" (consignment_id, '
                                   f"{', '.join(_ROW_COLUMNS)}) VALUES ({marks})", new_rows)
        if changed_rows:
            if self.dialect == "postgresql":
                _update_pg(cursor, self.name, changed_rows)
            else:
                sets = ", ".join(f"{c} = ?" for c in _ROW_COLUMNS)
                cursor.executemany(f'UPDATE "{self.name}" SET {sets} WHERE consignment_id = ?',
                                   [(*row[1:], row[0]) for row in changed_rows])


def _read_facts(cursor: Any, name: str, ids: list[str], dialect: str) -> dict[str, str]:
    found: dict[str, str] = {}
    for first in range(0, len(ids), 500):
        chunk = ids[first:first + 500]
        if dialect == "postgresql":
            cursor.execute(f'SELECT consignment_id, facts FROM "{name}" '
                           "WHERE consignment_id = ANY(%s)", (chunk,))
        else:
            cursor.execute(f'SELECT consignment_id, facts FROM "{name}" WHERE consignment_id '
                           f"IN ({', '.join('?' * len(chunk))})", chunk)
        found.update(cursor.fetchall())
    return found


def _copy_text(value: str) -> str:
    """A text field in COPY's text format (backslash, tab, newline and carriage return
    escaped); most values have none of them, and `in` finds that at C speed."""
    if "\\" in value:
        value = value.replace("\\", "\\\\")
    if "\t" in value:
        value = value.replace("\t", "\\t")
    if "\n" in value:
        value = value.replace("\n", "\\n")
    if "\r" in value:
        value = value.replace("\r", "\\r")
    return value


def _copy_rows(cursor: Any, name: str, rows: list[tuple[Any, ...]]) -> None:
    """COPY rows (consignment_id, *_ROW_COLUMNS) into the table, in COPY's text format."""
    import io

    text = "".join(
        "\t".join([_copy_text(v) if type(v) is str else "\\N" if v is None
                   else _copy_text(str(v)) for v in row]) + "\n"
        for row in rows)
    cursor.copy_expert(f'COPY "{name}" (consignment_id, {", ".join(_ROW_COLUMNS)}) FROM STDIN',
                       io.StringIO(text))


def _update_pg(cursor: Any, name: str, rows: list[tuple[Any, ...]]) -> None:
    from psycopg2.extras import execute_values

    sets = ", ".join(f"{c} = v.{c}" for c in _ROW_COLUMNS)
    execute_values(
        cursor,
        f'UPDATE "{name}" AS t SET {sets} FROM (VALUES %s) AS v(consignment_id, '
        f"{', '.join(_ROW_COLUMNS)}) WHERE t.consignment_id = v.consignment_id",
        rows, page_size=len(rows),
        template="(%s, %s, %s, %s, %s, %s, %s::integer, %s, %s, %s, %s, %s, %s, "
                 "%s::timestamptz, %s::timestamptz, %s, %s::bigint)")


def _time_text(text: str | None) -> str | None:
    """A time for PostgreSQL's timestamptz input: its isoformat text, as it is."""
    return text


def _merge_sqlite(cursor: Any, name: str, new_facts: dict[str, dict[str, Any]]) -> None:
    ids = sorted(new_facts)
    cursor.executemany(
        f'INSERT INTO "{name}" (consignment_id, lrn, declarant_eori, version, status_name, '
        "status_code, facts, last_position) VALUES (?, ?, ?, ?, ?, ?, ?, ?) "
        "ON CONFLICT (consignment_id) DO NOTHING", [(i, *_PLACEHOLDER) for i in ids])
    current: dict[str, str] = {}
    for first in range(0, len(ids), 500):
        chunk = ids[first:first + 500]
        cursor.execute(f'SELECT consignment_id, facts FROM "{name}" WHERE consignment_id IN '
                       f"({', '.join('?' * len(chunk))})", chunk)
        current.update(cursor.fetchall())
    rows = _changed_rows(current, new_facts, _sqlite_time)
    if rows:
        sets = ", ".join(f"{c} = ?" for c in _ROW_COLUMNS)
        cursor.executemany(f'UPDATE "{name}" SET {sets} WHERE consignment_id = ?',
                           [(*row[1:], row[0]) for row in rows])


def _sqlite_time(text: str | None) -> str | None:
    """As SQLAlchemy's SQLite DateTime stores it (UTC wall time, microseconds)."""
    if text is None:
        return None
    return as_utc(datetime.fromisoformat(text)).strftime("%Y-%m-%d %H:%M:%S.%f")


def project_in(tx: Transaction, events: Sequence[RecordedEvent]) -> None:
    """Apply events now and record them in the status consumer's inbox (so the broker's later
    delivery of the same events is recognised as a duplicate)."""
    tx.record_inbox_many([(CONSUMER, event.event_id, event.position) for event in events])
    project(tx.connection, events)


def _time(text: str | None) -> datetime | None:
    return None if text is None else datetime.fromisoformat(text)


def status_by_mrn(store: EventStore, mrn: str) -> dict[str, Any] | None:
    """The contract's view of one declaration (GET /declarations/{mrn})."""
    with store.engines.reader.connect() as connection:
        row = connection.execute(select(STATUS).where(STATUS.c.mrn == mrn)).mappings().first()
    if row is None:
        return None
    return {
        "mrn": row["mrn"],
        "lrn": row["lrn"],
        "consignment_id": row["consignment_id"],
        "declarant": row["declarant_eori"],
        "office": row["office"],
        "version": row["version"],
        "status": {"name": row["status_name"], "code": row["status_code"]},
        "lane": row["lane"],
        "amount_due": row["amount_due"],
        "amount_paid": row["amount_paid"],
        "currency": row["currency"],
        "lodged_at": None if row["lodged_at"] is None else isoformat(row["lodged_at"]),
        "released_at": None if row["released_at"] is None else isoformat(row["released_at"]),
    }

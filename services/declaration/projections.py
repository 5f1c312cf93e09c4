"""The declaration status read model (`declaration_status`), fed from the log.

The live projection follows the log (`shared.messaging.follower`: the declaration service
tails the gap-free log, every service's events, with the checkpoint `follow:declaration_status`
moved in the projection's own transaction); it takes no broker delivery. Lodgement and the
other writers of this service also apply their own events at once, so `GET /declarations/{mrn}`
answers right after `POST`. Each row keeps the set of facts (`domain/status_view.py`) and every
column is derived from it, so applying an event twice changes nothing and a rebuild from the
log equals the live table.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from typing import Any

from sqlalchemy import BigInteger, Column, DateTime, Integer, MetaData, String, Table, Text

from shared.events.envelope import RecordedEvent, isoformat
from shared.eventstore import EventStore, ReadModel, Transaction
from shared.eventstore.reader import ScannedEvent
from shared.eventstore.readmodels import Db

from .domain.repayment import amount_repayable
from .domain.status_view import KEPT_FIELDS, derive, fact_of, previous_lane

NAME = "declaration_status"


def status_table(name: str = NAME) -> Table:
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


STATUS = ReadModel(NAME, status_table, key="consignment_id")
COLUMNS = STATUS.columns  # consignment_id first, facts at 15
PLACEHOLDER = {"lrn": "", "declarant_eori": "", "version": 1, "status_name": "received",
               "status_code": "02", "facts": "{}", "last_position": 0}
_FACTS_ENCODER = json.JSONEncoder(sort_keys=True, separators=(",", ":"))


def _facts_text(facts: dict[str, Any]) -> str:
    """The stored `facts` column: json.dumps(facts, sort_keys=True, separators=(",", ":"))."""
    return _FACTS_ENCODER.encode(facts)


def row_of(consignment_id: str, facts: dict[str, Any]) -> tuple[Any, ...]:
    """The whole row (values in `COLUMNS` order) derived from a consignment's facts."""
    view = derive(facts)
    return (
        consignment_id, view.mrn, view.lrn, view.declarant_eori, view.office,
        view.transport_mode, view.version, view.status.label, view.status.code, view.lane,
        view.amount_due, view.amount_paid, view.currency, view.lodged_at, view.released_at,
        _facts_text(facts), view.last_position,
    )


def facts_of(events: Sequence[RecordedEvent]) -> dict[str, dict[str, Any]]:
    """The facts the events contribute, per consignment (event id -> fact)."""
    found: dict[str, dict[str, Any]] = {}
    for e in events:
        fact = fact_of(e.type, e.position, isoformat(e.occurred_at), e.payload) \
            if e.type in KEPT_FIELDS else None
        if fact is not None:
            found.setdefault(e.correlation_id, {})[e.event_id] = fact
    return found


def scanned_facts(rows: Sequence[ScannedEvent]) -> dict[str, dict[str, Any]]:
    """`facts_of` for the lean rows of a scan (`EventStore.scan` with `KEPT_FIELDS`)."""
    found: dict[str, dict[str, Any]] = {}
    for position, event_id, type_, _version, consignment_id, at, payload in rows:
        if payload is None:
            continue
        fact = fact_of(type_, position, at, payload)
        if fact is not None:
            found.setdefault(consignment_id, {})[event_id] = fact
    return found


def project(tx: Transaction, events: Sequence[RecordedEvent], model: ReadModel = STATUS) -> None:
    """Apply events to the status rows of their consignments (inside the caller's
    transaction): one statement locks the batch's rows (created if missing), one writes those
    whose facts grew, whatever the batch's size."""
    apply_facts(tx, facts_of(events), model)


def project_scanned(tx: Transaction, rows: Sequence[ScannedEvent]) -> None:
    """`project` for the lean rows the log follower reads."""
    apply_facts(tx, scanned_facts(rows))


def apply_facts(tx: Transaction, new_facts: dict[str, dict[str, Any]],
                model: ReadModel = STATUS) -> None:
    if not new_facts:
        return
    current = model.lock(tx, list(new_facts), PLACEHOLDER, ["facts"])
    changed = []
    for consignment_id in sorted(new_facts):
        incoming = new_facts[consignment_id]
        facts = json.loads(current[consignment_id][0])
        if all(event_id in facts for event_id in incoming):
            continue
        facts.update(incoming)
        changed.append(dict(zip(COLUMNS, row_of(consignment_id, facts), strict=True)))
    model.update(tx, changed)


def lock_rows(tx: Transaction, consignment_ids: Sequence[str]) -> None:
    """Lock the status rows of these consignments (created if missing) until the transaction
    ends. A writer that will append and then `project_in` an existing consignment locks its
    row first: a row lock waited for while holding the log-head lock would stall the process
    (that wait does not yield to the green thread holding the row, see
    `shared.messaging.store_provider`)."""
    STATUS.lock(tx, list(consignment_ids), PLACEHOLDER, ["facts"])


def project_lodged(tx: Transaction, events: Sequence[RecordedEvent]) -> None:
    """Lodgement's own events (a consignment's first): its row inserted whole, one
    statement, in the transaction appending them (after the append, under the log-head lock:
    one round trip instead of `project`'s two). No row can exist before the consignment's
    first append commits; should one (another MRN's collision aside), the follower's pass
    completes it. A unique MRN already taken raises KeyTaken, as `project` would."""
    rows = [dict(zip(COLUMNS, row_of(consignment_id, facts), strict=True))
            for consignment_id, facts in sorted(facts_of(events).items())]
    STATUS.insert(tx, rows, skip_existing=True)


def project_in(tx: Transaction, events: Sequence[RecordedEvent]) -> None:
    """Apply this service's own events now, in the transaction appending them (the follower
    meets them again later: a fact already kept changes nothing)."""
    project(tx, events)


Write = Callable[[Db], None]


class StatusFold:
    """The rebuild's way to fill a new, empty status table from the whole log, in log order:
    the same facts (`fact_of`) and rows (`row_of`) as `project`, folded in memory from the
    lean scan (`EventStore.scan`: typed payloads holding just the kept fields).

    `prepare(rows)` folds one page and returns its write, which the caller runs in one
    transaction, in page order (possibly on another thread while the next page is prepared).
    New consignments are inserted whole (bulk), consignments met on an earlier page updated.
    The facts text of recently written consignments stays in memory (bounded; strings, which
    the garbage collector does not scan); an older one's is read back by the write itself.
    Only for a table no one else writes while it fills."""

    KEEP = 50_000  # consignments whose facts text stays in memory
    FIELDS = KEPT_FIELDS  # the payload fields it reads, per event type

    def __init__(self, model: ReadModel) -> None:
        self.model = model
        self._recent: dict[str, str] = {}  # consignment -> its facts text, oldest first
        self._written: set[str] = set()

    def prepare(self, rows: Sequence[ScannedEvent]) -> Write | None:
        incoming = scanned_facts(rows)
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
            row = row_of(consignment_id, facts)
            recent[consignment_id] = row[15]  # its facts text; most recent last
            (new_rows if known is None else changed_rows).append(row)
        written.update(incoming)
        while len(recent) > self.KEEP:
            del recent[next(iter(recent))]
        model = self.model

        def write(db: Db) -> None:
            if older:  # read back what earlier pages wrote (this write runs after theirs)
                stored = model.select(db, list(older), ["facts"])
                changed_rows.extend(row_of(c, {**json.loads(stored[c][0]), **facts})
                                    for c, facts in older.items())
            model.bulk_insert(db, new_rows)
            model.update(db, [dict(zip(COLUMNS, row, strict=True)) for row in changed_rows])

        return write


def status_by_mrn(store: EventStore, mrn: str) -> dict[str, Any] | None:
    """The contract's view of one declaration (GET /declarations/{mrn})."""
    row = STATUS.find(store, mrn=mrn)
    if row is None:
        return None
    facts = json.loads(row["facts"])
    return {
        "mrn": row["mrn"],
        "lrn": row["lrn"],
        "consignment_id": row["consignment_id"],
        "declarant": row["declarant_eori"],
        "office": row["office"],
        "version": row["version"],
        "declaration_version": row["version"],
        "status": {"name": row["status_name"], "code": row["status_code"]},
        "lane": row["lane"],
        "previous_lane": previous_lane(facts),
        "amount_due": row["amount_due"],
        "amount_paid": row["amount_paid"],
        "amount_repayable": amount_repayable(facts),
        "currency": row["currency"],
        "lodged_at": row["lodged_at"],
        "released_at": row["released_at"],
    }

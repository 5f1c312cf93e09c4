"""The declaration status read model (`declaration_status`), fed from the log.

The live projection hears every event type through the queue `declaration.status` (the
idempotent consumer records the inbox in the same transaction); lodgement also applies its
own two events at once, so `GET /declarations/{mrn}` answers right after `POST`. Each row keeps
the set of facts (`domain/status_view.py`) and every column is derived from it, so duplicates
and reordering change nothing and a rebuild from the log equals the live table.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
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
    update,
)
from sqlalchemy.dialects import postgresql, sqlite

from shared.events.envelope import RecordedEvent, isoformat
from shared.eventstore import EventStore, Transaction

from .domain.status_view import derive, fact_of

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
    """Apply events to the status rows of their consignments (inside the caller's transaction)."""
    by_consignment: dict[str, list[RecordedEvent]] = {}
    for event in events:
        by_consignment.setdefault(event.correlation_id, []).append(event)
    for consignment_id, consignment_events in by_consignment.items():
        facts = {
            e.event_id: fact
            for e in consignment_events
            if (fact := fact_of(e.type, e.position, isoformat(e.occurred_at), e.data)) is not None
        }
        if facts:
            _merge(connection, table, consignment_id, facts)


def _merge(connection: Connection, table: Table, consignment_id: str,
           new_facts: dict[str, Any]) -> None:
    insert = (postgresql.insert(table) if connection.dialect.name == "postgresql"
              else sqlite.insert(table))
    connection.execute(insert.values(
        consignment_id=consignment_id, lrn="", declarant_eori="", version=1,
        status_name="received", status_code="02", facts="{}", last_position=0,
    ).on_conflict_do_nothing(index_elements=["consignment_id"]))
    current = connection.execute(
        select(table.c.facts).where(table.c.consignment_id == consignment_id).with_for_update()
    ).scalar_one()
    facts = json.loads(current)
    if all(event_id in facts for event_id in new_facts):
        return
    facts.update(new_facts)
    view = derive(facts)
    connection.execute(update(table).where(table.c.consignment_id == consignment_id).values(
        mrn=view.mrn, lrn=view.lrn, declarant_eori=view.declarant_eori, office=view.office,
        transport_mode=view.transport_mode, version=view.version,
        status_name=view.status.label, status_code=view.status.code, lane=view.lane,
        amount_due=view.amount_due, amount_paid=view.amount_paid, currency=view.currency,
        lodged_at=_time(view.lodged_at), released_at=_time(view.released_at),
        facts=json.dumps(facts, sort_keys=True, separators=(",", ":")),
        last_position=view.last_position,
    ))


def project_in(tx: Transaction, events: Sequence[RecordedEvent]) -> None:
    """Apply events now and record them in the status consumer's inbox (so the broker's later
    delivery of the same events is recognised as a duplicate)."""
    for event in events:
        tx.record_inbox(CONSUMER, event.event_id, event.position)
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

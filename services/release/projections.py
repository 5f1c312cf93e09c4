"""The release service's read model `release_cases`: per consignment, the set of facts heard
(keyed by event id) and the outcome recorded (pending, held, released).

The live path (`application.Releases.hear`) merges each fact with `merge` and records the
outcome of its decision with `record_outcome`; `clearance rebuild` replays the log through
`project`, which takes the outcome from the GoodsReleased / GoodsHeld events themselves.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from typing import Any

from sqlalchemy import BigInteger, Column, Connection, MetaData, String, Table, Text, select, update

from shared.events.envelope import RecordedEvent, isoformat
from shared.eventstore.sql import dialect_insert

NAME = "release_cases"
OUTCOME_RANK = {"pending": 0, "held": 1, "released": 2}  # an outcome never goes back

# What each fact contributes to the decision (the rest of the event is not needed).
KEPT = {
    "DeclarationAccepted": ("mrn", "office", "transport_mode", "declaration_version"),
    "RiskAssessed": ("lane",),
    "ControlOrdered": ("kind",),
    "ControlCompleted": ("result",),
    "DutyAssessed": ("amount_due",),
    "PaymentReceived": ("amount", "reference"),
}
OUTCOMES = {"GoodsReleased": "released", "GoodsHeld": "held"}


def cases_table(name: str = NAME) -> Table:
    return Table(
        name, MetaData(),
        Column("consignment_id", String(36), primary_key=True),
        Column("facts", Text, nullable=False),
        Column("outcome", String(20), nullable=False),
        Column("last_position", BigInteger, nullable=False),
    )


CASES = cases_table()


def stored_fact(event: RecordedEvent) -> dict[str, Any] | None:
    fields = KEPT.get(event.type)
    if fields is None:
        return None
    return {"type": event.type, "position": event.position, "at": isoformat(event.occurred_at),
            "data": {k: event.data[k] for k in fields if k in event.data}}


def merge(connection: Connection, consignment_id: str, new_facts: Mapping[str, Any],
          table: Table = CASES) -> tuple[dict[str, Any], str]:
    """Add facts to a consignment's row (created if missing, locked for the transaction);
    the whole set of facts and the outcome recorded so far."""
    insert = dialect_insert(connection.dialect.name, table)
    connection.execute(insert.values(
        consignment_id=consignment_id, facts="{}", outcome="pending", last_position=0,
    ).on_conflict_do_nothing(index_elements=["consignment_id"]))
    row = connection.execute(
        select(table.c.facts, table.c.outcome)
        .where(table.c.consignment_id == consignment_id).with_for_update()
    ).one()
    facts: dict[str, Any] = json.loads(row.facts)
    if any(event_id not in facts for event_id in new_facts):
        facts.update(new_facts)
        connection.execute(update(table).where(table.c.consignment_id == consignment_id).values(
            facts=json.dumps(facts, sort_keys=True, separators=(",", ":")),
            last_position=max((f["position"] for f in facts.values()), default=0)))
    return facts, str(row.outcome)


def record_outcome(connection: Connection, consignment_id: str, outcome: str,
                   table: Table = CASES) -> None:
    """Record an outcome unless a stronger one is recorded already (released > held)."""
    stronger = [o for o, rank in OUTCOME_RANK.items() if rank >= OUTCOME_RANK[outcome]]
    connection.execute(update(table).where(table.c.consignment_id == consignment_id,
                                           table.c.outcome.not_in(stronger))
                       .values(outcome=outcome))


def project(connection: Connection, events: Sequence[RecordedEvent], table: Table = CASES) -> None:
    """Replay events into the table (the rebuild's path): one merge per consignment of the
    batch, then its strongest outcome."""
    facts: dict[str, dict[str, Any]] = {}
    outcomes: dict[str, str] = {}
    for event in events:
        fact = stored_fact(event)
        if fact is not None:
            facts.setdefault(event.correlation_id, {})[event.event_id] = fact
        elif event.type in OUTCOMES:
            facts.setdefault(event.correlation_id, {})
            outcome = OUTCOMES[event.type]
            known = outcomes.get(event.correlation_id, "pending")
            if OUTCOME_RANK[outcome] > OUTCOME_RANK[known]:
                outcomes[event.correlation_id] = outcome
    for consignment_id in sorted(facts):  # a fixed order: no lock cycles between writers
        merge(connection, consignment_id, facts[consignment_id], table)
        if consignment_id in outcomes:
            record_outcome(connection, consignment_id, outcomes[consignment_id], table)

"""The release service's read model `release_cases`: per consignment, the set of facts heard
(keyed by event id) and the outcome recorded (pending, held, released).

The live path (`application.Releases.hear`) merges each fact with `merge` and records the
outcome of its decision with `record_outcome`; `clearance rebuild` replays the log through
`project`, which takes the outcome from the GoodsReleased / GoodsHeld events themselves.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

from sqlalchemy import BigInteger, Column, Connection, MetaData, String, Table, Text, text
from sqlalchemy.sql.elements import TextClause

from shared.events.envelope import RecordedEvent, isoformat
from shared.eventstore.sql import append_sql

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
    the whole set of facts and the outcome recorded so far. Two statements at most: an
    upsert that locks the row and returns it, and the update when a fact is new."""
    statements = _statements(table.name)
    row = connection.execute(statements.lock, {"c": consignment_id}).one()
    facts: dict[str, Any] = json.loads(row.facts)
    if any(event_id not in facts for event_id in new_facts):
        facts.update(new_facts)
        connection.execute(statements.facts, {
            "c": consignment_id, "f": json.dumps(facts, sort_keys=True, separators=(",", ":")),
            "p": max((f["position"] for f in facts.values()), default=0)})
    return facts, str(row.outcome)


def record_outcome(connection: Connection, consignment_id: str, outcome: str,
                   table: Table = CASES) -> None:
    """Record an outcome unless a stronger one is recorded already (released > held)."""
    connection.execute(_statements(table.name).outcome[outcome], {"c": consignment_id})


def lock_cases(connection: Connection, consignment_ids: Sequence[str],
               table: Table = CASES) -> dict[str, tuple[dict[str, Any], str]]:
    """Lock the rows of many consignments (created if missing), in key order, in one
    statement: per consignment, its facts and the outcome recorded so far."""
    ids = sorted(set(consignment_ids))
    if not ids:
        return {}
    m = append_sql(connection.dialect.name).mark
    name = _statements(table.name).name
    values = ", ".join([f"({m}, '{{}}', 'pending', 0)"] * len(ids))
    rows = connection.exec_driver_sql(
        f"INSERT INTO {name} (consignment_id, facts, outcome, last_position) VALUES {values}"
        f" ON CONFLICT (consignment_id) DO UPDATE SET outcome = {name}.outcome"
        " RETURNING consignment_id, facts, outcome", tuple(ids)).all()
    return {str(c): (json.loads(f), str(o)) for c, f, o in rows}


def save_cases(connection: Connection, changes: Sequence[tuple[str, Mapping[str, Any], str]],
               table: Table = CASES) -> None:
    """Write (consignment_id, facts, outcome) of rows locked by `lock_cases` (the outcome is
    already the stronger of the recorded and the new one): one round trip."""
    if not changes:
        return
    m = append_sql(connection.dialect.name).mark
    sql = (f"UPDATE {_statements(table.name).name} SET facts = {m}, last_position = {m},"
           f" outcome = {m} WHERE consignment_id = {m}")
    params = [(json.dumps(facts, sort_keys=True, separators=(",", ":")),
               max((fact["position"] for fact in facts.values()), default=0), outcome, cid)
              for cid, facts, outcome in changes]
    cursor = connection.connection.dbapi_connection.cursor()  # type: ignore[union-attr]
    try:
        if connection.dialect.name == "postgresql":
            from psycopg2.extras import execute_batch

            execute_batch(cursor, sql, params, page_size=len(params))
        else:
            cursor.executemany(sql, params)
    finally:
        cursor.close()


@dataclass(frozen=True)
class _Statements:
    name: str
    lock: TextClause
    facts: TextClause
    outcome: dict[str, TextClause]


@lru_cache(maxsize=16)
def _statements(name: str) -> _Statements:
    """The live path's statements for one table (the table, or a rebuild's new copy), written
    once as text: the same SQL on PostgreSQL and SQLite, no per-call compilation."""
    if not name.replace("_", "").isalnum():
        raise ValueError(f"not a table name: {name!r}")
    stronger = {o: ", ".join(f"'{s}'" for s, rank in OUTCOME_RANK.items()
                             if rank >= OUTCOME_RANK[o]) for o in OUTCOME_RANK}
    return _Statements(
        name=name,
        lock=text(f"INSERT INTO {name} (consignment_id, facts, outcome, last_position)"
                  " VALUES (:c, '{}', 'pending', 0) ON CONFLICT (consignment_id)"
                  f" DO UPDATE SET outcome = {name}.outcome RETURNING facts, outcome"),
        facts=text(f"UPDATE {name} SET facts = :f, last_position = :p"
                   " WHERE consignment_id = :c"),
        outcome={o: text(f"UPDATE {name} SET outcome = '{o}' WHERE consignment_id = :c"
                         f" AND outcome NOT IN ({stronger[o]})") for o in OUTCOME_RANK},
    )


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

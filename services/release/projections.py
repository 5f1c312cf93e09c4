"""The release service's read model `release_cases`: per consignment, the set of facts heard
(keyed by event id) and the outcome recorded (pending, held, released).

Both paths lock the rows with `lock_cases` and write them with `save_cases`: the live path
(`application.Releases.hear_all`) with the outcome of its decision, `clearance rebuild`
through `project`, which takes the outcome from the GoodsReleased / GoodsHeld events.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from typing import Any

from sqlalchemy import BigInteger, Column, Connection, MetaData, String, Table, Text

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


def lock_cases(connection: Connection, consignment_ids: Sequence[str],
               table: Table = CASES) -> dict[str, tuple[dict[str, Any], str]]:
    """Lock the rows of many consignments (created if missing), in key order, in one
    statement: per consignment, its facts and the outcome recorded so far."""
    ids = sorted(set(consignment_ids))
    if not ids:
        return {}
    m = append_sql(connection.dialect.name).mark
    name = _name(table)
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
    sql = (f"UPDATE {_name(table)} SET facts = {m}, last_position = {m},"
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


def _name(table: Table) -> str:
    """The table's name, checked to be a plain identifier (it is written into the SQL)."""
    if not table.name.replace("_", "").isalnum():
        raise ValueError(f"not a table name: {table.name!r}")
    return str(table.name)


def stronger(recorded: str, new: str) -> str:
    """The outcome to keep: an outcome never goes back (released > held > pending)."""
    return new if OUTCOME_RANK[new] > OUTCOME_RANK[recorded] else recorded


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
    current = lock_cases(connection, list(facts), table)  # in key order: no lock cycles
    changes: list[tuple[str, Mapping[str, Any], str]] = []
    for consignment_id in sorted(facts):
        stored, outcome = current[consignment_id]
        new = {k: v for k, v in facts[consignment_id].items() if k not in stored}
        stored.update(new)
        kept = stronger(outcome, outcomes.get(consignment_id, "pending"))
        if new or kept != outcome:
            changes.append((consignment_id, stored, kept))
    save_cases(connection, changes, table)

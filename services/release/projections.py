"""The release service's read model `release_cases`: per consignment, the set of facts heard
(keyed by event id) and the outcome recorded (pending, held, released, cleared, refused,
invalidated).

Both paths lock the rows with `lock_cases` and write them with `save_cases`: the live path
(`application.Releases.hear_all`) with the outcome of its decision, `clearance rebuild`
through `project`, which takes the outcome from the GoodsReleased / GoodsHeld /
ReleaseRefused / DeclarationCleared events.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from typing import Any

from sqlalchemy import BigInteger, Column, MetaData, String, Table, Text

from shared.events.codec import kept_fields
from shared.events.envelope import RecordedEvent, isoformat
from shared.eventstore import ReadModel, Transaction

NAME = "release_cases"
# An outcome never goes back; refused and invalidated are final. Released and cleared goods
# still hear facts: a declaration version amended after release is cleared in turn.
OUTCOME_RANK = {"pending": 0, "held": 1, "released": 2, "refused": 2, "invalidated": 2,
                "cleared": 3}
FINAL = frozenset({"refused", "invalidated"})

# What each fact contributes to the decision: the fields of its typed payload it keeps.
KEPT = {
    "DeclarationAccepted": ("mrn", "office", "transport_mode", "declaration_version"),
    "RiskAssessed": ("lane", "declaration_version"),
    "ControlOrdered": ("kind", "declaration_version"),
    "ControlCompleted": ("result", "outcome", "additional_duty", "declaration_version"),
    "DutyAssessed": ("amount_due", "declaration_version"),
    "PaymentReceived": ("amount", "reference"),
    "DebtCharged": ("amount", "number"),
    "DebtWrittenOff": ("amount",),
    "AdditionalDebtNotified": ("amount", "cause", "declaration_version"),
    "DebtSecured": ("amount", "number"),
    "DeclarationInvalidated": ("after_release",),
}
# The events that record an outcome (DeclarationInvalidated is a fact as well: the release
# service records nothing more for it).
OUTCOMES = {"GoodsReleased": "released", "GoodsHeld": "held", "ReleaseRefused": "refused",
            "DeclarationCleared": "cleared",
            "DeclarationInvalidated": "invalidated"}
PLACEHOLDER = {"facts": "{}", "outcome": "pending", "last_position": 0}


def cases_table(name: str = NAME) -> Table:
    return Table(
        name, MetaData(),
        Column("consignment_id", String(36), primary_key=True),
        Column("facts", Text, nullable=False),
        Column("outcome", String(20), nullable=False),
        Column("last_position", BigInteger, nullable=False),
    )


CASES = ReadModel(NAME, cases_table, key="consignment_id")


def stored_fact(event: RecordedEvent) -> dict[str, Any] | None:
    fields = KEPT.get(event.type)
    if fields is None:
        return None
    return {"type": event.type, "position": event.position, "at": isoformat(event.occurred_at),
            "data": kept_fields(event.payload, fields)}


def lock_cases(tx: Transaction, consignment_ids: Sequence[str],
               model: ReadModel = CASES) -> dict[str, tuple[dict[str, Any], str]]:
    """Lock the rows of many consignments (created if missing), in key order, in one
    statement: per consignment, its facts and the outcome recorded so far."""
    rows = model.lock(tx, consignment_ids, PLACEHOLDER, ["facts", "outcome"])
    return {str(c): (json.loads(facts), str(outcome)) for c, (facts, outcome) in rows.items()}


def save_cases(tx: Transaction, changes: Sequence[tuple[str, Mapping[str, Any], str]],
               model: ReadModel = CASES) -> None:
    """Write (consignment_id, facts, outcome) of rows locked by `lock_cases` (the outcome is
    already the stronger of the recorded and the new one): one statement."""
    model.update(tx, [
        {"consignment_id": cid,
         "facts": json.dumps(facts, sort_keys=True, separators=(",", ":")),
         "outcome": outcome,
         "last_position": max((fact["position"] for fact in facts.values()), default=0)}
        for cid, facts, outcome in changes])


def stronger(recorded: str, new: str) -> str:
    """The outcome to keep: an outcome never goes back (released, refused > held >
    pending)."""
    return new if OUTCOME_RANK[new] > OUTCOME_RANK[recorded] else recorded


def project(tx: Transaction, events: Sequence[RecordedEvent], model: ReadModel = CASES) -> None:
    """Replay events into the table (the rebuild's path): one merge per consignment of the
    batch, then its strongest outcome."""
    facts: dict[str, dict[str, Any]] = {}
    outcomes: dict[str, str] = {}
    for event in events:
        fact = stored_fact(event)
        if fact is not None:
            facts.setdefault(event.correlation_id, {})[event.event_id] = fact
        if event.type in OUTCOMES:
            facts.setdefault(event.correlation_id, {})
            outcome = OUTCOMES[event.type]
            known = outcomes.get(event.correlation_id, "pending")
            if OUTCOME_RANK[outcome] > OUTCOME_RANK[known]:
                outcomes[event.correlation_id] = outcome
    current = lock_cases(tx, list(facts), model)  # in key order: no lock cycles
    changes: list[tuple[str, Mapping[str, Any], str]] = []
    for consignment_id in sorted(facts):
        stored, outcome = current[consignment_id]
        new = {k: v for k, v in facts[consignment_id].items() if k not in stored}
        stored.update(new)
        kept = stronger(outcome, outcomes.get(consignment_id, "pending"))
        if new or kept != outcome:
            changes.append((consignment_id, stored, kept))
    save_cases(tx, changes, model)

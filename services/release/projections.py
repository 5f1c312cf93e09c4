"""The release service's read models.

`release_cases`: per consignment, the set of facts heard (keyed by event id; its own agency
holds and decisions among them) and the outcome recorded (pending, held, released, cleared,
refused, invalidated).

`release_holds`: one row per partner-agency hold (`<consignment id>/<agency>`), what
`GET /holds` lists and the overdue alert counts: open, approved, refused, or closed (the
release was refused or the declaration invalidated while it was open). `project_holds`
writes it from events, on the live path (the events the transaction heard and appended) and
in a rebuild alike.

Both paths lock the rows with `lock_cases` and write them with `save_cases`: the live path
(`application.Releases.hear_all`) with the outcome of its decision, `clearance rebuild`
through `project`, which takes the outcome from the GoodsReleased / GoodsHeld /
ReleaseRefused / DeclarationCleared events.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from typing import Any

from sqlalchemy import BigInteger, Column, Integer, MetaData, String, Table, Text

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
    # The release service's own facts: the agency holds it placed, and the decisions on them.
    "AgencyHoldPlaced": ("agency",),
    "AgencyHoldDecided": ("agency", "decision", "note"),
}
OWN_FACTS = frozenset({"AgencyHoldPlaced", "AgencyHoldDecided"})
# The events that record an outcome (DeclarationInvalidated is a fact as well: the release
# service records nothing more for it).
OUTCOMES = {"GoodsReleased": "released", "GoodsHeld": "held", "ReleaseRefused": "refused",
            "DeclarationCleared": "cleared", "AgencyHoldPlaced": "held",
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


# -- partner-agency holds -------------------------------------------------------------------
HOLDS_NAME = "release_holds"
HOLD_STATES = ("open", "approved", "refused", "closed")


def holds_table(name: str = HOLDS_NAME) -> Table:
    return Table(
        name, MetaData(),
        Column("hold_id", String(60), primary_key=True),  # <consignment id>/<agency>
        Column("consignment_id", String(36), nullable=False),
        Column("agency", String(16), nullable=False),
        Column("mrn", String(18), nullable=False),
        Column("office", String(8), nullable=False),
        Column("declaration_version", Integer, nullable=False),
        Column("items", Text, nullable=False),  # JSON: the items the agency regulates
        Column("placed_at", String(40), nullable=False),  # ISO 8601, UTC
        Column("due_at", String(40), nullable=False),
        Column("state", String(10), nullable=False),
        Column("decided_at", String(40), nullable=False),  # "" while open
        Column("reference", Text, nullable=False),
        Column("note", Text, nullable=False),
        Column("decided_by", Text, nullable=False),  # the deciding agency staff's actor
        Column("last_position", BigInteger, nullable=False),
    )


HOLDS = ReadModel(HOLDS_NAME, holds_table, key="hold_id")
HOLD_EVENTS = frozenset({"AgencyHoldPlaced", "AgencyHoldDecided", "ReleaseRefused",
                         "DeclarationInvalidated"})


def hold_id(consignment_id: str, agency: str) -> str:
    return f"{consignment_id}/{agency}"


def project_holds(tx: Transaction, events: Sequence[RecordedEvent],
                  model: ReadModel = HOLDS) -> None:
    """Write the holds of `events` (in log order): a placement inserts its row, a decision
    sets its state, a refused release or an invalidation closes the consignment's holds still
    open. Events of other types cost nothing."""
    relevant = [e for e in events if e.type in HOLD_EVENTS]
    if not relevant:
        return
    placed = [e for e in relevant if e.type == "AgencyHoldPlaced"]
    model.insert(tx, [_placed_row(e) for e in placed], skip_existing=True)
    rest = [e for e in relevant if e.type != "AgencyHoldPlaced"]
    if not rest:
        return
    consignments = sorted({e.correlation_id for e in rest})
    rows = {row["hold_id"]: row for cid in consignments
            for row in model.where(tx, consignment_id=cid)}
    changed: dict[str, dict[str, Any]] = {}
    for event in rest:
        payload = event.payload
        if event.type == "AgencyHoldDecided":
            row = rows.get(hold_id(event.correlation_id, payload.agency))
            if row is None or row["state"] != "open":
                continue
            row.update(state=payload.decision, decided_at=isoformat(payload.decided_at),
                       reference=payload.reference, note=payload.note,
                       decided_by=event.actor, last_position=event.position)
            changed[row["hold_id"]] = row
        else:  # the release refused or the declaration invalidated: open holds are moot
            for row in rows.values():
                if row["consignment_id"] == event.correlation_id and row["state"] == "open":
                    row.update(state="closed", last_position=event.position)
                    changed[row["hold_id"]] = row
    model.update(tx, [changed[k] for k in sorted(changed)])


def _placed_row(event: RecordedEvent) -> dict[str, Any]:
    placed = event.payload
    return {"hold_id": hold_id(event.correlation_id, placed.agency),
            "consignment_id": event.correlation_id, "agency": placed.agency, "mrn": placed.mrn,
            "office": placed.office, "declaration_version": placed.declaration_version,
            "items": json.dumps(list(placed.items), sort_keys=True, separators=(",", ":")),
            "placed_at": isoformat(placed.placed_at), "due_at": isoformat(placed.due_at),
            "state": "open", "decided_at": "", "reference": "", "note": "", "decided_by": "",
            "last_position": event.position}

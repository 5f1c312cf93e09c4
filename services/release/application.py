"""Use cases of the release service: hear the facts of a consignment, decide, release once.

Facts arrive from three services through `release.facts`, in any order and possibly twice.
`release_cases` keeps, per consignment, the set of facts heard (keyed by event id) and the
outcome recorded; each new fact is merged under a row lock and the pure decision
(`domain/decision.py`) is taken again from the whole set. A release is appended to
`release-<consignment id>` at expected version 0 (or 1 after a hold), so the store's unique
key guarantees exactly one release per consignment even with several replicas.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

from shared.events import release as events
from shared.events.catalog import registry
from shared.events.envelope import RecordedEvent, isoformat, stream_name
from shared.eventstore import EventStore, Transaction
from shared.observability.metrics import metrics

from .domain import facts as f
from .domain.decision import Hold, ReleaseDecision, decide, release
from .domain.notification import SCHEMA_VERSION, notification_id
from .domain.state import ConsignmentState, build_state
from .projections import merge, record_outcome, stored_fact

CATEGORY = "release"
CONTROL = "control"  # one control per declaration version: ordered and completed refer to it

def domain_fact(fact_id: str, fact: Mapping[str, Any]) -> f.Fact:
    data, kind = fact["data"], fact["type"]
    if kind == "DeclarationAccepted":
        return f.DeclarationAccepted(fact_id, data["mrn"], data["office"],
                                     data["transport_mode"], datetime.fromisoformat(fact["at"]))
    if kind == "RiskAssessed":
        return f.RiskDecided(fact_id, f.Lane(data["lane"]))
    if kind == "ControlOrdered":
        return f.ControlOrdered(fact_id, CONTROL)
    if kind == "ControlCompleted":
        return f.ControlCompleted(fact_id, CONTROL, f.ControlResult(data["result"]))
    if kind == "DutyAssessed":
        return f.DutyAssessed(fact_id, Decimal(data["amount_due"]))
    if kind == "PaymentReceived":
        return f.PaymentReceived(fact_id, Decimal(data["amount"]), data["reference"])
    raise ValueError(f"no release fact for {kind}")


def state_of(consignment_id: str, facts: Mapping[str, Mapping[str, Any]]) -> ConsignmentState:
    ordered = sorted(facts.items(), key=lambda item: item[1]["position"])
    return build_state(consignment_id, [domain_fact(fid, fact) for fid, fact in ordered])


def observe_releases(appended: Sequence[RecordedEvent]) -> None:
    """Lodgement-to-release latency per lane, for each release committed in this process."""
    for event in appended:
        if event.type == events.GoodsReleased.TYPE:
            waited = (datetime.fromisoformat(event.data["released_at"])
                      - datetime.fromisoformat(event.data["lodged_at"])).total_seconds()
            metrics().release_latency.labels(event.data["lane"]).observe(max(waited, 0.0))


class Releases:
    def __init__(self, store: EventStore) -> None:
        self.store = store
        store.on_append(observe_releases)

    def hear(self, tx: Transaction, event: RecordedEvent, *, now: datetime | None = None) -> str:
        """Merge one fact, decide again from the whole set, record a release or a hold once.
        Returns the outcome. A fact already known (a redelivery, or a rebuild that ran ahead)
        is not merged twice, but the decision is still taken again."""
        fact = stored_fact(event)
        if fact is None:
            return "ignored"
        consignment_id = event.correlation_id
        facts, outcome = merge(tx.connection, consignment_id, {event.event_id: fact})
        if outcome == "released":
            return outcome
        state = state_of(consignment_id, facts)
        decision = decide(state)
        stream = stream_name(CATEGORY, consignment_id)
        if isinstance(decision, ReleaseDecision):
            released_at = now or datetime.now(UTC)
            release(state, fact_id=event.event_id, released_at=released_at)  # the guard
            accepted = state.accepted
            assert accepted is not None
            # The outcome row first, the append last: the append serialises with every other
            # append of the deployment until COMMIT, so nothing else runs after it.
            record_outcome(tx.connection, consignment_id, "released")
            tx.append(stream, [registry().new_event(
                events.GoodsReleased(consignment_id, decision.mrn, decision.office,
                                     decision.lane.value, accepted.transport_mode,
                                     accepted.lodged_at, released_at),
                correlation_id=consignment_id, actor="release-service",
                causation_id=event.event_id, occurred_at=released_at)],
                expected_version=1 if outcome == "held" else 0)
            return "released"
        if isinstance(decision, Hold) and outcome != "held" and state.accepted:
            reasons = "; ".join(f"{r.kind.value}" + (f" by {r.agency}" if r.agency else "")
                                for r in decision.reasons)
            record_outcome(tx.connection, consignment_id, "held")
            tx.append(stream, [registry().new_event(
                events.GoodsHeld(consignment_id, state.accepted.mrn, reasons),
                correlation_id=consignment_id, actor="release-service",
                causation_id=event.event_id)], expected_version=0)
            return "held"
        record_outcome(tx.connection, consignment_id, outcome)
        return outcome

    def notifications(self, after: int, limit: int) -> list[dict[str, Any]]:
        """Release notifications after a log position (for agencies that were offline)."""
        found: list[dict[str, Any]] = []
        for page in self.store.iter_all(after=after, page=1000, categories=[CATEGORY]):
            for event in page:
                if event.type == events.GoodsReleased.TYPE:
                    found.append(notification_body(event))
                    if len(found) >= limit:
                        return found
        return found


def notification_body(event: RecordedEvent) -> dict[str, Any]:
    """The public notification of a GoodsReleased event (no officer-only data)."""
    data = event.data
    return {
        "schema_version": SCHEMA_VERSION,
        "notification_id": notification_id(event.correlation_id, event.event_id),
        "mrn": data["mrn"],
        "consignment_id": event.correlation_id,
        "declaration_version": 1,
        "office": data["office"],
        "transport_mode": data["transport_mode"],
        "lane": data["lane"],
        "released_at": isoformat(datetime.fromisoformat(data["released_at"])),
        "position": event.position,
    }

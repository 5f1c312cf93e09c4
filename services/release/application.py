"""Use cases of the release service: hear the facts of a consignment, decide, release once.

Facts arrive from three services through `release.facts`, in any order and possibly twice.
`release_cases` keeps, per consignment, the set of facts heard (keyed by event id) and the
outcome recorded; each new fact is merged under a row lock and the pure decision
(`domain/decision.py`) is taken again from the whole set. A release (or a refusal, after a
control's `refuse_release`) is appended to `release-<consignment id>` at expected version 0
(or 1 after a hold), so the store's unique key guarantees exactly one release or refusal per
consignment even with several replicas; nothing is decided after a refusal.

Released goods are cleared (`DeclarationCleared`, status 09) once every debt on the
declaration is paid or charged to a deferment account: in the same append as the release
when it was settled before, or when the fact that settles it is heard after a release on a
guarantee. A post-release amendment (UCC
art. 173(3)) makes a new declaration version: it is cleared in turn once its debt is paid.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

from shared.events import release as events
from shared.events.catalog import registry
from shared.events.declaration import DeclarationAccepted, DeclarationInvalidated
from shared.events.envelope import NewEvent, RecordedEvent, actor_text, stream_name
from shared.eventstore import EventStore, Transaction
from shared.identity import Caller
from shared.observability.metrics import metrics

from .domain import facts as f
from .domain.decision import (
    Clearance,
    Hold,
    Invalidated,
    Refused,
    ReleaseDecision,
    clearance,
    decide,
    refuse,
    release,
)
from .domain.notification import release_notification
from .domain.state import ConsignmentState, build_state
from .projections import FINAL, lock_cases, save_cases, stored_fact

CATEGORY = "release"
SERVICE_ACTOR = actor_text(Caller.service(CATEGORY).actor())
CONTROL = "control"  # one control per declaration version: ordered and completed refer to it

def version(data: Mapping[str, Any]) -> int:
    """The declaration version a stored fact is about (1 when stored before versions)."""
    return int(data.get("declaration_version", 1))


def domain_fact(fact_id: str, fact: Mapping[str, Any]) -> f.Fact:
    data, kind = fact["data"], fact["type"]
    if kind == "DeclarationAccepted":
        return f.DeclarationAccepted(fact_id, data["mrn"], data["office"],
                                     data["transport_mode"], datetime.fromisoformat(fact["at"]),
                                     version(data))
    if kind == "RiskAssessed":
        return f.RiskDecided(fact_id, f.Lane(data["lane"]), version(data))
    if kind == "ControlOrdered":
        return f.ControlOrdered(fact_id, CONTROL, version(data))
    if kind == "ControlCompleted":
        # Facts stored before ControlCompleted version 3 have no outcome: a customs hold.
        outcome = data.get("outcome")
        return f.ControlCompleted(fact_id, CONTROL, f.ControlResult(data["result"]),
                                  declaration_version=version(data),
                                  outcome=None if outcome is None else f.ControlOutcome(outcome),
                                  additional_duty=Decimal(data.get("additional_duty", "0")))
    if kind == "DutyAssessed":
        return f.DutyAssessed(fact_id, Decimal(data["amount_due"]), version(data))
    if kind == "PaymentReceived":
        return f.PaymentReceived(fact_id, Decimal(data["amount"]), data["reference"])
    if kind in ("DebtCharged", "DebtWrittenOff"):  # each its own (an amendment may add one)
        return f.DebtSettled(fact_id, Decimal(data["amount"]), fact_id)
    if kind == "AdditionalDebtNotified":
        return f.DebtNotified(fact_id, Decimal(data["amount"]), data["cause"], version(data))
    if kind == "DebtSecured":
        return f.GuaranteeSecured(fact_id, Decimal(data["amount"]), fact_id)
    if kind == "DeclarationInvalidated":
        return f.DeclarationInvalidated(fact_id, bool(data["after_release"]))
    raise ValueError(f"no release fact for {kind}")


def state_of(consignment_id: str, facts: Mapping[str, Mapping[str, Any]]) -> ConsignmentState:
    ordered = sorted(facts.items(), key=lambda item: item[1]["position"])
    return build_state(consignment_id, [domain_fact(fid, fact) for fid, fact in ordered])


def observe_releases(appended: Sequence[RecordedEvent]) -> None:
    """Lodgement-to-release latency per lane, for each release committed in this process."""
    for event in appended:
        if event.type == events.GoodsReleased.TYPE:
            released: events.GoodsReleased = event.payload
            waited = (released.released_at - released.lodged_at).total_seconds()
            metrics().release_latency.labels(released.lane).observe(max(waited, 0.0))


class Releases:
    def __init__(self, store: EventStore) -> None:
        self.store = store
        store.on_append(observe_releases)

    def hear(self, tx: Transaction, event: RecordedEvent, *, now: datetime | None = None) -> str:
        """Hear one fact (see `hear_all`); its consignment's outcome, or "ignored" when the
        event is not a release fact."""
        return self.hear_all(tx, [event], now=now).get(event.correlation_id, "ignored")

    def hear_all(self, tx: Transaction, heard: Sequence[RecordedEvent], *,
                 now: datetime | None = None) -> dict[str, str]:
        """Merge facts, decide again from each consignment's whole set, record a release or a
        hold once. Returns the outcome per consignment heard. A fact already known (a
        redelivery, or a rebuild that ran ahead) is not merged twice, but the decision is
        still taken again. Whatever the number of facts: one statement locks the rows, one
        writes those that changed, then the releases and holds are appended."""
        incoming: dict[str, dict[str, Any]] = {}
        cause: dict[str, str] = {}
        for event in heard:
            fact = stored_fact(event)
            if fact is not None:
                incoming.setdefault(event.correlation_id, {})[event.event_id] = fact
                cause[event.correlation_id] = event.event_id  # the last one heard
        if not incoming:
            return {}
        current = lock_cases(tx, list(incoming))
        outcomes: dict[str, str] = {}
        changes: list[tuple[str, Mapping[str, Any], str]] = []
        appends: list[Appending] = []
        for consignment_id in sorted(incoming):
            facts, outcome = current[consignment_id]
            grown = any(event_id not in facts for event_id in incoming[consignment_id])
            facts.update({k: v for k, v in incoming[consignment_id].items() if k not in facts})
            decided = outcome
            if outcome not in FINAL:
                decided, append = self._decide(tx, consignment_id, facts, outcome,
                                               cause[consignment_id], now)
                if append is not None:
                    appends.append(append)
            if grown or decided != outcome:
                changes.append((consignment_id, facts, decided))
            outcomes[consignment_id] = decided
        save_cases(tx, changes)
        # The appends last: each serialises with every other append of the deployment until
        # COMMIT, so nothing else runs after them.
        for stream, new_events, expected_version in appends:
            if expected_version is None:  # a clearance after the release: after what is there
                expected_version = tx.log.stream_version(stream)
            tx.append(stream, new_events, expected_version=expected_version)
        _not_superseded(tx, [new.payload for _, appended, _ in appends for new in appended
                             if isinstance(new.payload, events.GoodsReleased)])
        return outcomes

    def _decide(self, tx: Transaction, consignment_id: str,
                facts: Mapping[str, Mapping[str, Any]], outcome: str, cause: str,
                now: datetime | None) -> tuple[str, Appending | None]:
        """The outcome of one consignment's facts, and the events to append for it if any."""
        state = state_of(consignment_id, facts)
        stream = stream_name(CATEGORY, consignment_id)
        if outcome in ("released", "cleared"):
            # Released goods are cleared once the debt of the declaration version in force is
            # paid: released on a guarantee, or amended after release (UCC art. 173(3)).
            if outcome == "cleared" and state.declaration_version == 1:
                return outcome, None  # the only version there is was cleared
            cleared = clearance(state, released=True)
            if cleared is None or (outcome == "cleared" and cleared.declaration_version
                                   in _cleared_versions(tx, stream)):
                return outcome, None
            return "cleared", (stream, [_cleared(cleared, cause, now or datetime.now(UTC))],
                               None)
        decision = decide(state)
        if isinstance(decision, ReleaseDecision):
            released_at = now or datetime.now(UTC)
            release(state, fact_id=cause, released_at=released_at)  # the guard
            accepted = state.accepted
            assert accepted is not None
            new = [registry().new_event(
                events.GoodsReleased(consignment_id, decision.mrn, decision.declaration_version,
                                     decision.office, decision.lane.value,
                                     accepted.transport_mode, accepted.lodged_at, released_at),
                correlation_id=consignment_id, actor=SERVICE_ACTOR,
                causation_id=cause, occurred_at=released_at)]
            cleared = clearance(state, released=True)  # the debt was paid before release
            if cleared is not None:
                new.append(_cleared(cleared, cause, released_at))
            return ("released" if cleared is None else "cleared"), (
                stream, new, 1 if outcome == "held" else 0)
        if isinstance(decision, Refused) and state.accepted:
            refused_at = now or datetime.now(UTC)
            refuse(state, fact_id=cause, refused_at=refused_at)  # the guard
            return "refused", (stream, [registry().new_event(
                events.ReleaseRefused(consignment_id, state.accepted.mrn,
                                      state.declaration_version, state.accepted.office,
                                      decision.control_fact_id, refused_at),
                correlation_id=consignment_id, actor=SERVICE_ACTOR,
                causation_id=cause, occurred_at=refused_at)], 1 if outcome == "held" else 0)
        if isinstance(decision, Invalidated):
            return "invalidated", None  # the declaration service recorded it
        if isinstance(decision, Hold) and outcome != "held" and state.accepted:
            reasons = "; ".join(f"{r.kind.value}" + (f" by {r.agency}" if r.agency else "")
                                for r in decision.reasons)
            return "held", (stream, [registry().new_event(
                events.GoodsHeld(consignment_id, state.accepted.mrn, reasons),
                correlation_id=consignment_id, actor=SERVICE_ACTOR,
                causation_id=cause)], 0)
        return outcome, None

    def notifications(self, after: int, limit: int) -> list[dict[str, Any]]:
        """Release notifications after a log position (for agencies that were offline).
        Each is rendered anew from its GoodsReleased event, so history comes in the current
        schema version (2, no lane) even for releases first published as version 1."""
        found: list[dict[str, Any]] = []
        for page in self.store.iter_all(after=after, page=1000, categories=[CATEGORY]):
            for event in page:
                if event.type == events.GoodsReleased.TYPE:
                    found.append(notification_body(event))
                    if len(found) >= limit:
                        return found
        return found


# Events to append to one release stream, at the expected version (None: the stream's
# current version, read under the case's row lock).
Appending = tuple[str, list[NewEvent], int | None]


def _cleared_versions(tx: Transaction, stream: str) -> set[int]:
    """The declaration versions a release stream records as cleared (read under the case's
    row lock; only for a case cleared before whose declaration was amended since)."""
    return {e.payload.declaration_version for e in tx.log.read_stream(stream)
            if isinstance(e.payload, events.DeclarationCleared)}


def _cleared(cleared: Clearance, cause: str, cleared_at: datetime) -> NewEvent:
    return registry().new_event(
        events.DeclarationCleared(cleared.consignment_id, cleared.mrn,
                                  cleared.declaration_version, cleared.amount_due,
                                  cleared.amount_paid, cleared_at),
        correlation_id=cleared.consignment_id, actor=SERVICE_ACTOR, causation_id=cause,
        occurred_at=cleared_at)


class ChangedMeanwhile(Exception):
    """A declaration was invalidated or amended while its release was being recorded: the
    batch is undone and heard again (by then with the new facts among them)."""


def _not_superseded(tx: Transaction, released: Sequence[events.GoodsReleased]) -> None:
    """Raise ChangedMeanwhile if a declaration released in this transaction has, in the log,
    a DeclarationInvalidated, or a DeclarationAccepted of a later version than the one
    released. Called after the appends, which hold the deployment's append lock to COMMIT, so
    an invalidation or amendment is either committed before (and seen here) or waits and then
    sees this release (see `Declarations.invalidate` and `Declarations.amend`)."""
    if not released:
        return
    # Version N is the Nth acceptance in the declaration stream: counting them is enough,
    # and nothing is read or decoded but the counts.
    stream_of = {stream_name("declaration", r.consignment_id): r for r in released}
    counts = tx.log.count_types((DeclarationInvalidated.TYPE, DeclarationAccepted.TYPE),
                                list(stream_of))
    changed = sorted(r.consignment_id for stream, r in stream_of.items()
                     if counts.get((stream, DeclarationInvalidated.TYPE))
                     or counts.get((stream, DeclarationAccepted.TYPE), 0)
                     > r.declaration_version)
    if changed:
        raise ChangedMeanwhile(", ".join(changed))


def notification_body(event: RecordedEvent) -> dict[str, Any]:
    """The public notification of a GoodsReleased event (see `release_notification`)."""
    released: events.GoodsReleased = event.payload
    return release_notification(released, release_event_id=event.event_id,
                                position=event.position)

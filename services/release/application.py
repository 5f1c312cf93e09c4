"""Use cases of the release service: hear the facts of a consignment, decide, release once.

Facts arrive from three services through `release.facts`, in any order and possibly twice.
`release_cases` keeps, per consignment, the set of facts heard (keyed by event id) and the
outcome recorded; each new fact is merged under a row lock and the pure decision
(`domain/decision.py`) is taken again from the whole set. A release (or a refusal, after a
control's `refuse_release`) is appended to `release-<consignment id>` at expected version 0
(or 1 after a hold), so the store's unique key guarantees exactly one release or refusal per
consignment even with several replicas; nothing is decided after a refusal.

Partner agencies (single window): when a declaration version is accepted, every agency of
the register (`shared/reference/agencies.py`) whose interest covers one of its items holds the
goods (`AgencyHoldPlaced`, one per agency and consignment, with the items it regulates and
its time limit), appended to the release stream with the outcome; the release waits for
every hold to be decided. The agency decides over HTTP (`decide_hold`): approved lifts its
hold (the goods are released at once when nothing else is pending), refused refuses the
release (final, `ReleaseRefused` naming the agency). A hold, once placed, stands until it is
decided: an amendment that drops the agency's items does not lift it. The holds are facts of
the case like any other, and rows of `release_holds` (`GET /holds`).

Released goods are cleared (`DeclarationCleared`, status 09) once every debt on the
declaration is paid or charged to a deferment account: in the same append as the release
when it was settled before, or when the fact that settles it is heard after a release on a
guarantee. A post-release amendment (UCC
art. 173(3)) makes a new declaration version: it is cleared in turn once its debt is paid.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

from shared.events import release as events
from shared.events.catalog import registry
from shared.events.codec import kept_fields
from shared.events.declaration import DeclarationAccepted, DeclarationInvalidated
from shared.events.envelope import NewEvent, RecordedEvent, actor_text, isoformat, stream_name
from shared.eventstore import EventStore, Transaction
from shared.identity import Caller
from shared.observability.metrics import metrics
from shared.reference.agencies import AgencyRegister, load_register

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
from .domain.notification import hold_request, refusal_notice, release_notification
from .domain.state import ConsignmentState, build_state
from .projections import (
    FINAL,
    HOLDS,
    KEPT,
    OWN_FACTS,
    hold_id,
    lock_cases,
    project_holds,
    save_cases,
    stored_fact,
)

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
    if kind == "AgencyHoldPlaced":
        return f.HoldPlaced(fact_id, data["agency"], data["agency"])
    if kind == "AgencyHoldDecided":
        if data["decision"] == "approved":
            return f.HoldLifted(fact_id, data["agency"])
        return f.HoldRefused(fact_id, data["agency"], data["agency"], data.get("note", ""))
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


class UnknownHold(Exception):
    """No hold of this agency on a declaration with this MRN (404)."""


class NotYourHold(Exception):
    """Agency staff may decide only their own agency's holds (403)."""


class HoldAlreadyDecided(Exception):
    """The hold was decided already: a decision is final (409)."""


class HoldClosed(Exception):
    """The release was refused or the declaration invalidated: nothing left to decide
    (409)."""


class Releases:
    def __init__(self, store: EventStore, register: AgencyRegister | None = None) -> None:
        self.store = store
        self.register = register if register is not None else load_register()
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
        accepted: dict[str, RecordedEvent] = {}  # the latest version accepted, per case
        for event in heard:
            fact = stored_fact(event)
            if fact is not None:
                incoming.setdefault(event.correlation_id, {})[event.event_id] = fact
                cause[event.correlation_id] = event.event_id  # the last one heard
            if event.type == DeclarationAccepted.TYPE:
                known = accepted.get(event.correlation_id)
                if known is None or (event.payload.declaration_version
                                     > known.payload.declaration_version):
                    accepted[event.correlation_id] = event
        if not incoming:
            return {}
        current = lock_cases(tx, list(incoming))
        outcomes: dict[str, str] = {}
        changes: list[tuple[str, dict[str, Any], str]] = []
        appends: list[Appending] = []
        for consignment_id in sorted(incoming):
            facts, outcome = current[consignment_id]
            grown = any(event_id not in facts for event_id in incoming[consignment_id])
            facts.update({k: v for k, v in incoming[consignment_id].items() if k not in facts})
            decided = outcome
            placing: list[NewEvent] = []
            if outcome not in FINAL:
                if outcome in ("pending", "held") and consignment_id in accepted:
                    placing = self._holds_to_place(facts, accepted[consignment_id], now)
                decided, append = self._decide(tx, consignment_id, facts, outcome,
                                               cause[consignment_id], now, placing)
                if append is not None:
                    appends.append(append)
            if grown or placing or decided != outcome:  # holds placed: own facts to keep
                changes.append((consignment_id, facts, decided))
            outcomes[consignment_id] = decided
        self._record(tx, changes, appends, heard)
        return outcomes

    def decide_hold(self, mrn: str, agency: str, decision: str, reference: str, note: str,
                    caller: Caller, *, now: datetime | None = None) -> dict[str, Any]:
        """Agency `agency`'s decision on its hold of the declaration `mrn`, by its own staff:
        approved lifts the hold (and releases the goods if nothing else is pending), refused
        refuses the release (final). The hold as it now stands."""
        if caller.agency != agency:
            raise NotYourHold(f"agency staff decide only their own agency's holds, not {agency}")
        found = HOLDS.where(self.store, mrn=mrn, agency=agency)
        if not found:
            raise UnknownHold(f"no hold of {agency} on {mrn}")
        consignment_id = str(found[0]["consignment_id"])
        decided_at = now or datetime.now(UTC)
        with self.store.transaction() as tx:
            facts, outcome = lock_cases(tx, [consignment_id])[consignment_id]
            placed = [k for k, v in facts.items()
                      if v["type"] == "AgencyHoldPlaced" and v["data"]["agency"] == agency]
            if not placed:
                raise UnknownHold(f"no hold of {agency} on {mrn}")
            if any(v["type"] == "AgencyHoldDecided" and v["data"]["agency"] == agency
                   for v in facts.values()):
                raise HoldAlreadyDecided(f"{agency} decided on {mrn} already")
            if outcome in FINAL:
                raise HoldClosed(f"{mrn}: the release was {outcome}; nothing left to decide")
            new = registry().new_event(
                events.AgencyHoldDecided(consignment_id, mrn, agency, decision, reference, note,
                                         decided_at),
                correlation_id=consignment_id, actor=actor_text(caller.actor()),
                causation_id=min(placed), occurred_at=decided_at)
            facts[new.event_id] = provisional_fact(new)
            decided, append = self._decide(tx, consignment_id, facts, outcome, new.event_id,
                                           decided_at, [new])
            assert append is not None  # the decision at least
            self._record(tx, [(consignment_id, facts, decided)], [append], [])
        return self.holds(caller, state="all", hold=hold_id(consignment_id, agency))[0]

    def holds(self, caller: Caller, *, state: str = "open", hold: str | None = None,
              now: datetime | None = None) -> list[dict[str, Any]]:
        """The holds a caller may see, in state `state` (`open`, `approved`, `refused`,
        `closed`, or `all`): an agency's staff its own agency's; an officer those at its
        offices; an auditor every one. Oldest first; `overdue`: open past its time limit."""
        where: dict[str, Any] = {}
        if hold is not None:
            where["hold_id"] = hold
        if state != "all":
            where["state"] = state
        if agency_staff(caller):
            where["agency"] = caller.agency or ""
        rows = HOLDS.where(self.store, **where)
        if not caller.has("auditor") and not (caller.has("agency") and caller.agency):
            rows = [r for r in rows if r["office"] in caller.offices]
        moment = isoformat(now or datetime.now(UTC))
        return [hold_view(row, moment) for row in sorted(
            rows, key=lambda r: (r["placed_at"], r["hold_id"]))]

    def overdue(self, *, now: datetime | None = None) -> dict[str, int]:
        """Open holds past their time limit, per agency of the register (0 for none)."""
        moment = isoformat(now or datetime.now(UTC))
        counts = dict.fromkeys(self.register.codes(), 0)
        for row in HOLDS.where(self.store, state="open"):
            if row["due_at"] < moment:
                counts[row["agency"]] = counts.get(row["agency"], 0) + 1
        return counts

    def _holds_to_place(self, facts: dict[str, Any], accepted: RecordedEvent,
                        now: datetime | None) -> list[NewEvent]:
        """The holds to place for the agencies whose interest covers an item of the accepted
        declaration version and that hold nothing yet; each is added to `facts` (at position
        0 until appended)."""
        payload: DeclarationAccepted = accepted.payload
        document = payload.document
        items = document.get("items") or []
        wanted = self.register.interested(office=payload.office,
                                          procedure=str(document.get("type", "")), items=items)
        if not wanted:
            return []
        holding = {v["data"]["agency"] for v in facts.values() if v["type"] == "AgencyHoldPlaced"}
        placed_at = now or datetime.now(UTC)
        placing = []
        for code, numbers in wanted.items():
            agency = self.register.agency(code)
            if code in holding or agency is None:
                continue
            held = [held_item(number, items[number - 1]) for number in numbers]
            new = registry().new_event(
                events.AgencyHoldPlaced(payload.consignment_id, payload.mrn,
                                        payload.declaration_version, payload.office,
                                        payload.transport_mode, code, held,
                                        self.register.version, placed_at,
                                        placed_at + agency.time_limit),
                correlation_id=payload.consignment_id, actor=SERVICE_ACTOR,
                causation_id=accepted.event_id, occurred_at=placed_at)
            facts[new.event_id] = provisional_fact(new)
            placing.append(new)
        return placing

    def _record(self, tx: Transaction, changes: Sequence[tuple[str, dict[str, Any], str]],
                appends: Sequence[Appending], heard: Sequence[RecordedEvent]) -> None:
        """Write the cases that changed, append, and project the holds. A case whose own
        facts (holds placed or decided) are appended now is written after the append, with
        their positions in the log."""
        own = {new.event_id for _, new_events, _ in appends for new in new_events
               if new.type in OWN_FACTS}
        later = {cid for cid, facts, _ in changes if own.intersection(facts)}
        save_cases(tx, [c for c in changes if c[0] not in later])
        # The appends last: each serialises with every other append of the deployment until
        # COMMIT, so little else runs after them.
        recorded: list[RecordedEvent] = []
        for stream, new_events, expected_version in appends:
            if expected_version is None:  # after what is there, read under the row lock
                expected_version = tx.log.stream_version(stream)
            recorded.extend(tx.append(stream, new_events, expected_version=expected_version))
        if later:
            positions = {r.event_id: r.position for r in recorded}
            for cid, facts, _ in changes:
                if cid in later:
                    for event_id in own.intersection(facts):
                        facts[event_id]["position"] = positions[event_id]
            save_cases(tx, [c for c in changes if c[0] in later])
        project_holds(tx, [*heard, *recorded])
        _not_superseded(tx, [r.payload for r in recorded
                             if isinstance(r.payload, events.GoodsReleased)])

    def _decide(self, tx: Transaction, consignment_id: str,
                facts: Mapping[str, Mapping[str, Any]], outcome: str, cause: str,
                now: datetime | None, placing: Sequence[NewEvent] = ()
                ) -> tuple[str, Appending | None]:
        """The outcome of one consignment's facts, and the events to append for it if any:
        `placing` (the release service's own new facts, already among `facts`) first."""
        state = state_of(consignment_id, facts)
        stream = stream_name(CATEGORY, consignment_id)
        # Own facts already in the stream: append after them (read under the row lock).
        own_before = any(v["type"] in OWN_FACTS and v["position"] for v in facts.values())
        expected: int | None = None if own_before else (1 if outcome == "held" else 0)
        decided, new = self._outcome(tx, state, stream, outcome, cause, now)
        if new is None and not placing:
            return decided, None
        if decided in ("cleared", "released") and outcome in ("released", "cleared"):
            expected = None  # a clearance after the release
        return decided, (stream, [*placing, *(new or [])], expected)

    def _outcome(self, tx: Transaction, state: ConsignmentState, stream: str, outcome: str,
                 cause: str, now: datetime | None) -> tuple[str, list[NewEvent] | None]:
        """The outcome of a case's facts and the events that record it (None: nothing)."""
        consignment_id = state.consignment_id
        if outcome in ("released", "cleared"):
            # Released goods are cleared once the debt of the declaration version in force is
            # paid: released on a guarantee, or amended after release (UCC art. 173(3)).
            if outcome == "cleared" and state.declaration_version == 1:
                return outcome, None  # the only version there is was cleared
            cleared = clearance(state, released=True)
            if cleared is None or (outcome == "cleared" and cleared.declaration_version
                                   in _cleared_versions(tx, stream)):
                return outcome, None
            return "cleared", [_cleared(cleared, cause, now or datetime.now(UTC))]
        agencies = sorted(hold.agency for hold in state.holds)
        decision = decide(state)
        if isinstance(decision, ReleaseDecision):
            released_at = now or datetime.now(UTC)
            release(state, fact_id=cause, released_at=released_at)  # the guard
            accepted = state.accepted
            assert accepted is not None
            new = [registry().new_event(
                events.GoodsReleased(consignment_id, decision.mrn, decision.declaration_version,
                                     decision.office, decision.lane.value,
                                     accepted.transport_mode, accepted.lodged_at, released_at,
                                     agencies),
                correlation_id=consignment_id, actor=SERVICE_ACTOR,
                causation_id=cause, occurred_at=released_at)]
            cleared = clearance(state, released=True)  # the debt was paid before release
            if cleared is not None:
                new.append(_cleared(cleared, cause, released_at))
            return ("released" if cleared is None else "cleared"), new
        if isinstance(decision, Refused) and state.accepted:
            refused_at = now or datetime.now(UTC)
            refuse(state, fact_id=cause, refused_at=refused_at)  # the guard
            by_agency = decision.agency is not None
            return "refused", [registry().new_event(
                events.ReleaseRefused(consignment_id, state.accepted.mrn,
                                      state.declaration_version, state.accepted.office,
                                      "agency" if by_agency else "control",
                                      decision.control_fact_id, decision.agency,
                                      decision.note, agencies, refused_at),
                correlation_id=consignment_id, actor=SERVICE_ACTOR,
                causation_id=cause, occurred_at=refused_at)]
        if isinstance(decision, Invalidated):
            return "invalidated", None  # the declaration service recorded it
        if isinstance(decision, Hold) and state.accepted:
            customs = [r for r in decision.reasons if r.kind.by_customs]
            if customs and outcome != "held":
                reasons = "; ".join(r.kind.value for r in customs)
                return "held", [registry().new_event(
                    events.GoodsHeld(consignment_id, state.accepted.mrn, reasons),
                    correlation_id=consignment_id, actor=SERVICE_ACTOR, causation_id=cause)]
            return "held", None  # an agency's hold: its AgencyHoldPlaced says so
        return outcome, None

    def notifications(self, after: int, limit: int, caller: Caller) -> dict[str, Any]:
        """The messages after a log position, at most `limit` in all, for an agency that was
        offline: `notifications` (releases), `hold_requests` and `refusals`, and `next_after`
        (the last position among them, or `after`). Each is rendered anew from its event, so
        history comes in the current schema versions (release notifications: 2, no lane, even
        for releases first published as version 1).

        Agency staff get only their agency's own feed, when it is in the register (releases
        and refusals of the consignments it had a hold on, its hold requests); an agency not in
        the register is a plain listener: every release notification, nothing else. Officers
        and auditors get everything."""
        found = self._messages(after, limit, caller.agency if agency_staff(caller) else None)
        positions = [m["position"] for messages in found.values() for m in messages]
        return {**found, "next_after": max(positions, default=after)}

    def _messages(self, after: int, limit: int,
                  agency: str | None) -> dict[str, list[dict[str, Any]]]:
        """The three lists of `notifications`: every message, or `agency`'s own feed."""
        own = agency if agency is not None and self.register.agency(agency) else None
        every = agency is None
        found: dict[str, list[dict[str, Any]]] = {
            "notifications": [], "hold_requests": [], "refusals": []}
        count = 0
        for page in self.store.iter_all(after=after, page=1000, categories=[CATEGORY]):
            for event in page:
                if count >= limit:
                    return found
                payload = event.payload
                if event.type == events.GoodsReleased.TYPE:
                    if own is None or own in payload.agencies:
                        found["notifications"].append(notification_body(event))
                        count += 1
                elif event.type == events.AgencyHoldPlaced.TYPE:
                    if every or (own is not None and payload.agency == own):
                        found["hold_requests"].append(hold_request(
                            payload, event_id=event.event_id, position=event.position))
                        count += 1
                elif event.type == events.ReleaseRefused.TYPE:
                    if every or (own is not None and own in payload.agencies):
                        found["refusals"].append(refusal_notice(
                            payload, event_id=event.event_id, position=event.position))
                        count += 1
        return found


# Events to append to one release stream, at the expected version (None: the stream's
# current version, read under the case's row lock).
Appending = tuple[str, list[NewEvent], int | None]


def agency_staff(caller: Caller) -> bool:
    """Whether the caller reads as a partner agency's staff only (its own holds and feed), not
    also as customs (an officer or an auditor)."""
    return caller.has("agency") and not caller.has("officer", "auditor")


def provisional_fact(new: NewEvent) -> dict[str, Any]:
    """The stored fact of one of the release service's own new events, at position 0 until
    it is appended (`Releases._record` sets the position)."""
    return {"type": new.type, "position": 0, "at": isoformat(new.occurred_at),
            "data": kept_fields(new.payload, KEPT[new.type])}


def held_item(number: int, item: Mapping[str, Any]) -> dict[str, Any]:
    """What an agency is shown of one declaration item it regulates (no value, no parties)."""
    return {"item": number, "hs_code": str(item.get("hs_code", "")),
            "description": str(item.get("description", "")),
            "origin": str(item.get("origin", "")), "quantity": str(item.get("quantity", "")),
            "unit": str(item.get("unit", "")), "net_mass_kg": str(item.get("net_mass_kg", ""))}


def hold_view(row: Mapping[str, Any], now: str) -> dict[str, Any]:
    """A row of `release_holds` as `GET /holds` shows it (`now`: ISO 8601 UTC)."""
    return {"mrn": row["mrn"], "consignment_id": row["consignment_id"],
            "agency": row["agency"], "office": row["office"],
            "declaration_version": row["declaration_version"],
            "items": json.loads(row["items"]), "placed_at": row["placed_at"],
            "due_at": row["due_at"], "state": row["state"],
            "overdue": row["state"] == "open" and row["due_at"] < now,
            "decided_at": row["decided_at"] or None, "reference": row["reference"],
            "note": row["note"]}


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

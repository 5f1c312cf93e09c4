"""Use cases of the risk service: assess an accepted declaration, record a control result.

The decision itself is pure (`domain/assessment.py`); this layer gathers its inputs (the
declaration's facts from the DeclarationAccepted event, the exchange rate valid on the
acceptance date, the configured rule set and AEO register) and appends the decision with its
working to `risk-<consignment id>`. Control state is folded from that stream; the table
`risk_cases` only maps MRNs to consignments for `POST /controls/{mrn}`.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path
from typing import Any

from shared.events import risk as events
from shared.events.catalog import registry
from shared.events.declaration import DeclarationAccepted, DeclarationInvalidated
from shared.events.envelope import NewEvent, RecordedEvent, actor_text, stream_name
from shared.eventstore import EventStore, Transaction
from shared.identity import Caller
from shared.messaging.writes import AnyWrite, Append, Together
from shared.reference import ExchangeRates
from shared.settings import DEFAULTS

from .domain import (
    MISSING_KEY,
    SAMPLE_AEO_DIR,
    SAMPLE_RULESET_DIR,
    AeoRegister,
    ControlKind,
    ControlOutcome,
    ControlResult,
    ControlState,
    DeclarationFacts,
    DrawKey,
    DrawKeyError,
    Finding,
    FindingCategory,
    ItemFacts,
    Lane,
    RuleSet,
    assess,
    fold,
    keyed_draw,
    load_aeo_register,
    load_ruleset,
    order_control,
    record_result,
)
from .domain import ControlCompleted as DomainCompleted
from .domain import ControlOrdered as DomainOrdered
from .domain.access import may_control
from .projections import CASES, project

CATEGORY = "risk"
SERVICE_ACTOR = actor_text(Caller.service(CATEGORY).actor())
DEFAULT_RULESET = DEFAULTS["RISK_RULESET_VERSION"]
DEFAULT_AEO_REGISTER = DEFAULTS["RISK_AEO_VERSION"]


def unknown(mrn: str) -> str:
    """The one answer for a declaration that is unknown or not the caller's: the same words,
    so that an MRN cannot be probed."""
    return f"no declaration with MRN {mrn} (or not assessed yet)"


class UnknownDeclaration(LookupError):
    """No risk case for this MRN (not accepted, or not assessed yet)."""


class InvalidatedDeclaration(Exception):
    """The declaration was invalidated (UCC art. 174): no control result is recorded on it."""


@dataclass(frozen=True)
class RiskReference:
    ruleset: RuleSet
    aeo: AeoRegister
    rates: ExchangeRates
    draw_key: DrawKey

    @classmethod
    def load(cls, config: Mapping[str, Any], rates: ExchangeRates) -> RiskReference:
        """The configured reference data and the draw's secret key. DrawKeyError (the
        service does not start) when RISK_DRAW_KEY is unset, short or malformed: a draw
        without the key would be one any trader can compute in advance."""
        rules_dir = Path(config.get("RISK_RULESET_DIR") or SAMPLE_RULESET_DIR)
        aeo_dir = Path(config.get("RISK_AEO_DIR") or SAMPLE_AEO_DIR)
        return cls(
            load_ruleset(rules_dir, str(config.get("RISK_RULESET_VERSION") or DEFAULT_RULESET)),
            load_aeo_register(aeo_dir,
                              str(config.get("RISK_AEO_VERSION") or DEFAULT_AEO_REGISTER)),
            rates,
            draw_key_of(config),
        )


def draw_key_of(config: Mapping[str, Any]) -> DrawKey:
    """The draw key of RISK_DRAW_KEY / RISK_DRAW_KEY_ID; DrawKeyError with the reason when
    there is none or it is unusable."""
    key = DrawKey.from_settings(config)
    if key is None:
        raise DrawKeyError(MISSING_KEY)
    return key


def declaration_facts(accepted: DeclarationAccepted, rates: ExchangeRates) -> DeclarationFacts:
    document = accepted.document
    rate = rates.rate(document["currency"], accepted.acceptance_date)
    return DeclarationFacts(
        consignment_id=accepted.consignment_id,
        office=accepted.office,
        declarant_eori=accepted.declarant_eori,
        importer_eori=document["importer"]["eori"],
        currency=document["currency"],
        exchange_rate=rate.rate,
        items=tuple(
            ItemFacts(item["hs_code"], item["origin"], Decimal(item["net_mass_kg"]),
                      Decimal(item["value"]))
            for item in document["items"]
        ),
    )


class Risk:
    def __init__(self, store: EventStore, reference: RiskReference) -> None:
        self.store = store
        self.reference = reference

    def assessment(self, accepted: DeclarationAccepted, cause: RecordedEvent) -> list[AnyWrite]:
        """Decide the lane of an accepted declaration: the writes that record it (computed
        outside any transaction; the consumer commits them with its inbox record)."""
        ruleset = self.reference.ruleset
        facts = declaration_facts(accepted, self.reference.rates)
        key = self.reference.draw_key
        decision = assess(facts, ruleset, self.reference.aeo, accepted.acceptance_date,
                          keyed_draw(key, accepted.consignment_id, ruleset.version))
        hits = [{"rule_id": h.rule_id, "lane": h.lane.value, "score": h.score,
                 "rationale": h.rationale} for h in decision.hits if h.selected]
        assessed = events.RiskAssessed(
            consignment_id=accepted.consignment_id, mrn=accepted.mrn, lane=decision.lane.value,
            score=decision.score, rules_hit=hits, ruleset_version=ruleset.version,
            aeo_status=None if decision.aeo is None else decision.aeo.status.value,
            draw=decision.random.to_dict(), decision=decision.to_dict(), draw_key_id=key.key_id,
            declaration_version=accepted.declaration_version,
        )
        new = [self._new(assessed, cause)]
        version = accepted.declaration_version
        stream = stream_name(CATEGORY, accepted.consignment_id)
        if decision.lane in (Lane.YELLOW, Lane.RED):
            # An amended version (2, 3, ...) may find the control of an older one still open:
            # the new control supersedes it (domain/controls.py).
            controls = (ControlState(accepted.consignment_id) if version == 1 else fold(
                accepted.consignment_id, _control_events(self.store.read_stream(stream))))
            ordered = order_control(controls, decision.lane,
                                    control_id=f"{accepted.consignment_id}/{version}",
                                    declaration_version=version)
            new.append(self._new(events.ControlOrdered(
                accepted.consignment_id, accepted.mrn, ordered.kind.value, decision.lane.value,
                version), cause))
        # The first version opens the stream (a redelivery finds it taken); an amendment's is
        # kept once by the consumer's inbox, recorded in the same transaction.
        return [Together(_project, new),
                Append(stream, new, expected_version=0 if version == 1 else None)]

    def record_control(self, mrn: str, caller: Caller, result: str,
                       findings: Sequence[Mapping[str, str]], outcome: str | None,
                       additional_duty: Decimal) -> dict[str, Any]:
        """An officer's result for the open control of `mrn`, with its findings and, when
        non-compliant, the outcome that follows (NoOpenControl when no control is open;
        InvalidControlResult when they do not agree; InvalidatedDeclaration when the
        declaration was invalidated; as UnknownDeclaration when the declaration is not at
        one of the officer's offices)."""
        consignment_id = self._consignment(mrn)
        office, invalidated = self._declaration(consignment_id)
        if not may_control(caller, office):
            raise UnknownDeclaration(unknown(mrn))  # as if there were none
        if invalidated:
            raise InvalidatedDeclaration(f"{mrn} was invalidated: its control is closed")
        officer = caller.sub
        stream = stream_name(CATEGORY, consignment_id)
        history = self.store.read_stream(stream)
        state = fold(consignment_id, _control_events(history))
        completed = record_result(
            state, ControlResult(result),
            findings=[Finding(FindingCategory(f["category"]), f["text"]) for f in findings],
            outcome=None if outcome is None else ControlOutcome(outcome),
            additional_duty=additional_duty, officer=officer)
        recorded = events.ControlCompleted(
            consignment_id, mrn, completed.result.value,
            [finding.to_dict() for finding in completed.findings],
            None if completed.outcome is None else completed.outcome.value,
            completed.additional_duty,
            # the version the control was ordered for (an open control is the current one)
            state.open_control.declaration_version if state.open_control else 1)
        event = registry().new_event(recorded, correlation_id=consignment_id,
                                     actor=actor_text(caller.actor()))
        self.store.append(stream, [event], expected_version=len(history))
        return {"mrn": mrn, "consignment_id": consignment_id, "result": recorded.result,
                "findings": recorded.findings, "outcome": recorded.outcome,
                "additional_duty": format(recorded.additional_duty, "f"), "officer": officer}

    def _consignment(self, mrn: str) -> str:
        found = CASES.find(self.store, mrn=mrn)
        if found is None:
            raise UnknownDeclaration(unknown(mrn))
        return str(found["consignment_id"])

    def _declaration(self, consignment_id: str) -> tuple[str, bool]:
        """The office of declaration and whether the declaration was invalidated (from the
        log: the declaration's stream)."""
        history = [e.payload for e in self.store.read_stream(
            stream_name("declaration", consignment_id))]
        office = next((p.office for p in history if isinstance(p, DeclarationAccepted)), None)
        if office is None:
            raise UnknownDeclaration(f"consignment {consignment_id} has no accepted declaration")
        return office, any(isinstance(p, DeclarationInvalidated) for p in history)

    @staticmethod
    def _new(payload: Any, cause: RecordedEvent) -> Any:
        return registry().new_event(payload, correlation_id=cause.correlation_id,
                                    actor=SERVICE_ACTOR, causation_id=cause.event_id)


def _control_events(history: list[RecordedEvent]) -> list[DomainOrdered | DomainCompleted]:
    """The stream's control events as the domain's events (a control's id: its ordering
    event's id; completion refers to the control opened last)."""
    result: list[DomainOrdered | DomainCompleted] = []
    current = ""
    for event in history:
        match event.payload:
            case events.ControlOrdered() as ordered:
                current = event.event_id
                result.append(DomainOrdered(ordered.consignment_id, current,
                                            ControlKind(ordered.kind), Lane(ordered.lane),
                                            ordered.declaration_version))
            case events.ControlCompleted() as completed:
                result.append(DomainCompleted(
                    completed.consignment_id, current, ControlResult(completed.result),
                    tuple(Finding.from_dict(f) for f in completed.findings),
                    None if completed.outcome is None else ControlOutcome(completed.outcome),
                    completed.additional_duty, event.author["sub"]))
    return result


def _project(tx: Transaction, batches: list[list[NewEvent]]) -> None:
    project(tx, [event for batch in batches for event in batch])

"""Decision replay: re-derive every recorded risk decision and duty assessment.

Each decision records its inputs and the reference versions it was taken with (rule-set and
AEO-register versions and the random draw; tariff version, exchange rate and its date,
rounding rule). Replaying takes the reference data of those versions as it stands now and
re-runs the pure decision: a mismatch means the decision was altered, or the reference data of
that version was changed after the fact (which must never happen: versions are immutable).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path
from typing import Any

from services.payment.domain.duty import assessment_from_dict, assessment_to_dict
from services.payment.domain.duty import reassess as reassess_duty
from services.payment.domain.errors import PaymentDomainError
from services.risk.domain import (
    SAMPLE_AEO_DIR,
    SAMPLE_RULESET_DIR,
    RiskDecision,
    RiskDomainError,
    load_aeo_register,
    load_ruleset,
)
from services.risk.domain import reassess as reassess_risk
from shared.events.envelope import RecordedEvent
from shared.events.payment import DutyAssessed
from shared.events.risk import RiskAssessed
from shared.eventstore import EventStore
from shared.reference import ReferenceData, ReferenceDataError, load_reference_data

Progress = Callable[[int, int], None]


@dataclass(frozen=True)
class Mismatch:
    position: int
    consignment_id: str
    event_type: str
    detail: str


@dataclass
class DecisionReport:
    risk_checked: int = 0
    duty_checked: int = 0
    mismatches: list[Mismatch] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.mismatches

    def to_json(self) -> dict[str, Any]:
        return {"ok": self.ok, "risk_decisions_checked": self.risk_checked,
                "duty_assessments_checked": self.duty_checked,
                "mismatches": [vars(m) for m in self.mismatches]}


@dataclass(frozen=True)
class ReplayReference:
    """Where the reference data of every version is (the services' own settings)."""

    data: ReferenceData
    ruleset_dir: Path
    aeo_dir: Path

    @classmethod
    def from_settings(cls, settings: Mapping[str, str | None]) -> ReplayReference:
        return cls(load_reference_data(settings.get("REFERENCE_DATA_DIR") or None),
                   Path(settings.get("RISK_RULESET_DIR") or SAMPLE_RULESET_DIR),
                   Path(settings.get("RISK_AEO_DIR") or SAMPLE_AEO_DIR))


CHECKED = (RiskAssessed.TYPE, DutyAssessed.TYPE)


def replay_decisions(store: EventStore, reference: ReplayReference, *,
                     progress: Progress | None = None) -> DecisionReport:
    report = DecisionReport()
    rulesets = cache(lambda version: load_ruleset(reference.ruleset_dir, version))
    registers = cache(lambda version: load_aeo_register(reference.aeo_dir, version))
    seen = 0
    for page in store.iter_all(page=2000, categories=["risk", "payment"]):
        for event in page:
            match event.payload if event.type in CHECKED else None:
                case RiskAssessed() as assessed:
                    report.risk_checked += 1
                    _check_risk(event, assessed, rulesets, registers, report)
                case DutyAssessed() as duty:
                    report.duty_checked += 1
                    _check_duty(event, duty, reference.data, report)
        seen += len(page)
        if progress is not None:
            progress(seen, page[-1].position)
    return report


def _check_risk(event: RecordedEvent, assessed: RiskAssessed, rulesets: Any, registers: Any,
                report: DecisionReport) -> None:
    try:
        recorded = RiskDecision.from_dict(assessed.decision)
        again = reassess_risk(recorded, rulesets(recorded.ruleset_version),
                              registers(recorded.aeo_register_version))
    except (RiskDomainError, KeyError, ValueError) as error:
        report.mismatches.append(_mismatch(event, f"cannot replay: {error}"))
        return
    if again != recorded:
        report.mismatches.append(_mismatch(
            event, f"re-derived lane {again.lane.value} (score {again.score}) differs from the "
                   f"recorded {recorded.lane.value} (score {recorded.score})"))
    elif assessed.lane != recorded.lane.value:
        report.mismatches.append(_mismatch(
            event, f"event says lane {assessed.lane}, its working says {recorded.lane.value}"))


def _check_duty(event: RecordedEvent, duty: DutyAssessed, data: ReferenceData,
                report: DecisionReport) -> None:
    working = duty.working
    try:
        recorded = assessment_from_dict(working)
        again = reassess_duty(working, data.tariff, data.rates)
    except (PaymentDomainError, ReferenceDataError, KeyError, ValueError) as error:
        report.mismatches.append(_mismatch(event, f"cannot replay: {error}"))
        return
    if assessment_to_dict(again) != dict(working):
        report.mismatches.append(_mismatch(
            event, f"tariff {recorded.tariff_version} / rates {recorded.rates_version} now give "
                   f"{again.total_due} {again.national_currency}; recorded "
                   f"{recorded.total_due}"))
    elif duty.amount_due != recorded.total_due:
        report.mismatches.append(_mismatch(
            event, f"event says {duty.amount_due} due, its working says "
                   f"{recorded.total_due}"))


def _mismatch(event: RecordedEvent, detail: str) -> Mismatch:
    return Mismatch(event.position, event.correlation_id, event.type, detail)

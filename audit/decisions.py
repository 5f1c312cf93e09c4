"""Decision replay: re-derive every recorded risk decision and duty assessment.

Each decision records its inputs and the reference versions it was taken with (rule-set and
AEO-register versions and the random draw; tariff version, exchange rate and its date,
rounding rule). Replaying takes the reference data of those versions as it stands now and
re-runs the pure decision: a mismatch means the decision was altered, or the reference data of
that version was changed after the fact (which must never happen: versions are immutable).

The random draw of a risk decision is re-derived too, from the consignment id and rule-set
version: under the secret key the decision names (`draw_key_id`, RiskAssessed version 2) when
the auditor holds that key (`RISK_DRAW_KEY`, and `RISK_DRAW_KEY_ID` if the key's id was set by
hand), or with the public salt for a legacy decision (no key id). A decision drawn under
another key than the one given (or with no key given) is reported as *not re-derivable*: its
draw cannot be checked here, which says nothing against the decision; the rest of its working
is still re-derived from the recorded draw, and a difference there is a mismatch.
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
from services.risk.development import read_dev_draw_key
from services.risk.domain import (
    SAMPLE_AEO_DIR,
    SAMPLE_RULESET_DIR,
    Draw,
    DrawKey,
    RiskDecision,
    RiskDomainError,
    derived_key_id,
    keyed_draw,
    load_aeo_register,
    load_ruleset,
    seeded_draw,
)
from services.risk.domain import reassess as reassess_risk
from shared.events.envelope import RecordedEvent
from shared.events.payment import DutyAssessed
from shared.events.risk import RiskAssessed
from shared.eventstore import EventStore
from shared.identity.development import default_var
from shared.reference import ReferenceData, ReferenceDataError, load_reference_data

Progress = Callable[[int, int], None]


@dataclass(frozen=True)
class Mismatch:
    position: int
    consignment_id: str
    event_type: str
    detail: str


@dataclass(frozen=True)
class NotRederivable:
    """A risk decision whose draw was made under a key the replay was not given."""

    position: int
    consignment_id: str
    draw_key_id: str
    detail: str


@dataclass
class DecisionReport:
    risk_checked: int = 0
    duty_checked: int = 0
    draws_rederived: int = 0
    mismatches: list[Mismatch] = field(default_factory=list)
    not_rederivable: list[NotRederivable] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        """No mismatch, and every draw re-derived (a draw that could not be checked leaves
        the replay incomplete: not OK, though nothing is known against the decision)."""
        return not self.mismatches and not self.not_rederivable

    def to_json(self) -> dict[str, Any]:
        return {"ok": self.ok, "risk_decisions_checked": self.risk_checked,
                "duty_assessments_checked": self.duty_checked,
                "draws_rederived": self.draws_rederived,
                "mismatches": [vars(m) for m in self.mismatches],
                "draws_not_rederivable": [vars(n) for n in self.not_rederivable]}


@dataclass(frozen=True)
class ReplayReference:
    """Where the reference data of every version is (the services' own settings), and the
    draw key the auditor holds (None: keyed draws cannot be re-derived)."""

    data: ReferenceData
    ruleset_dir: Path
    aeo_dir: Path
    draw_key: DrawKey | None = None

    @classmethod
    def from_settings(cls, settings: Mapping[str, str | None]) -> ReplayReference:
        """The draw key: RISK_DRAW_KEY (and RISK_DRAW_KEY_ID); without it, the development
        key `make run` made under the var folder (CLEARANCE_VAR), if there is one, which
        re-derives only decisions drawn with it. DrawKeyError (a ValueError naming the
        problem) when RISK_DRAW_KEY is set but short or malformed."""
        key = DrawKey.from_settings(settings)
        if key is None:
            key = read_dev_draw_key(Path(settings.get("CLEARANCE_VAR") or default_var()))
        return cls(load_reference_data(settings.get("REFERENCE_DATA_DIR") or None),
                   Path(settings.get("RISK_RULESET_DIR") or SAMPLE_RULESET_DIR),
                   Path(settings.get("RISK_AEO_DIR") or SAMPLE_AEO_DIR),
                   key)


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
                    _check_risk(event, assessed, rulesets, registers, reference.draw_key,
                                report)
                case DutyAssessed() as duty:
                    report.duty_checked += 1
                    _check_duty(event, duty, reference.data, report)
        seen += len(page)
        if progress is not None:
            progress(seen, page[-1].position)
    return report


def _check_risk(event: RecordedEvent, assessed: RiskAssessed, rulesets: Any, registers: Any,
                key: DrawKey | None, report: DecisionReport) -> None:
    try:
        recorded = RiskDecision.from_dict(assessed.decision)
        again = reassess_risk(recorded, rulesets(recorded.ruleset_version),
                              registers(recorded.aeo_register_version))
    except (RiskDomainError, KeyError, ValueError) as error:
        report.mismatches.append(_mismatch(event, f"cannot replay: {error}"))
        return
    if not _check_draw(event, assessed, recorded, key, report):
        return
    if again != recorded:
        report.mismatches.append(_mismatch(
            event, f"re-derived lane {again.lane.value} (score {again.score}) differs from the "
                   f"recorded {recorded.lane.value} (score {recorded.score})"))
    elif assessed.lane != recorded.lane.value:
        report.mismatches.append(_mismatch(
            event, f"event says lane {assessed.lane}, its working says {recorded.lane.value}"))


def _check_draw(event: RecordedEvent, assessed: RiskAssessed, recorded: RiskDecision,
                key: DrawKey | None, report: DecisionReport) -> bool:
    """Re-derive the decision's draw (see the module docstring); False when it differs from
    the recorded one (a mismatch, reported here)."""
    if assessed.draw != recorded.random.to_dict():
        report.mismatches.append(_mismatch(
            event, "the event's draw differs from the draw in its working"))
        return False
    key_id = assessed.draw_key_id
    expected: Draw
    if key_id is None:
        expected = seeded_draw(recorded.consignment_id, recorded.ruleset_version)
        how = "the public salt (a decision recorded before the keyed draw)"
    elif key is not None and key.answers_to(key_id):
        expected = keyed_draw(key, recorded.consignment_id, recorded.ruleset_version)
        how = f"draw key {key_id}"
        if key_id == key.key_id != derived_key_id(key.secret):
            how += " (its id was set by hand: check that the key given is the key of that id)"
    else:
        given = ("no draw key was given (set RISK_DRAW_KEY)" if key is None
                 else f"the key given is {key.key_id}")
        report.not_rederivable.append(NotRederivable(
            event.position, event.correlation_id, key_id,
            f"draw not re-derivable: made with draw key {key_id}, {given}; the rest of the "
            "decision is re-derived from its recorded draw"))
        return True
    if expected != recorded.random.draw:
        report.mismatches.append(_mismatch(
            event, f"the recorded draw (seed {recorded.random.draw.seed[:16]}..., value "
                   f"{recorded.random.draw.value}) is not the one {how} gives for consignment "
                   f"{recorded.consignment_id} under rule set {recorded.ruleset_version} "
                   f"(value {expected.value})"))
        return False
    report.draws_rederived += 1
    return True


def _check_duty(event: RecordedEvent, duty: DutyAssessed, data: ReferenceData,
                report: DecisionReport) -> None:
    working = duty.working
    try:
        recorded = assessment_from_dict(working)
        again = reassess_duty(working, data.tariff, data.rates, data.reliefs)
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

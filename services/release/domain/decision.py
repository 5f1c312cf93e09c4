"""The release decision: guard, record, apply.

`decide(state)` reads the set of facts and answers one of:

- `Released`: already released (exactly one release per consignment);
- `Refused`: a control's outcome, or a partner agency's decision, refused release (final:
  never released after it);
- `Invalidated`: the declaration was invalidated (final: never released after it);
- `Hold`: a customs hold (a non-compliant control with no outcome decided, recorded before
  outcomes existed) or an agency hold not lifted;
- `Pending(reasons)`: a release condition does not hold yet;
- `ReleaseDecision`: every condition holds (risk closed, debt paid or secured, no hold).

The risk is closed by a green or blue lane, or by a control that is compliant or
non-compliant with outcome `release` or `release_after_payment`. The debt is the assessed
duty plus the additional duty of a release after payment; a guarantee secures the assessed
duty only, the additional duty must be paid.

`release(state, fact_id=..., released_at=...)` re-checks that answer and returns the
`GoodsReleased` fact to record, `refuse(state, fact_id=..., refused_at=...)` the
`ReleaseRefused` fact; `state.apply` of a fact is the only change.

`clearance(state, released=...)` answers whether released goods are cleared (status 09):
every debt on the declaration paid (or charged to a deferment account, which counts as paid
here and in the release decision), and the declaration not invalidated. A debt secured by a
guarantee releases the goods but does not clear them: the payment does.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from enum import Enum

from .errors import AlreadyReleased, NotRefusable, NotReleasable
from .facts import (
    ControlCompleted,
    ControlOutcome,
    ControlResult,
    GoodsReleased,
    Lane,
    ReleaseRefused,
)
from .state import ConsignmentState


class PendingReason(Enum):
    """Why a consignment is not released yet, in the order they are reported."""

    NOT_ACCEPTED = "not_accepted"
    RISK_NOT_DECIDED = "risk_not_decided"
    CONTROL_NOT_COMPLETED = "control_not_completed"
    DUTY_NOT_ASSESSED = "duty_not_assessed"
    DEBT_NOT_SETTLED = "debt_not_settled"


class HoldKind(Enum):
    CONTROL_NON_COMPLIANT = "control_non_compliant"  # customs' own hold, no outcome decided
    AGENCY_HOLD = "agency_hold"

    @property
    def by_customs(self) -> bool:
        return self is HoldKind.CONTROL_NON_COMPLIANT


class RiskBasis(Enum):
    """How the risk outcome was closed."""

    GREEN = "green"
    BLUE = "blue"
    CONTROL_COMPLIANT = "control_compliant"
    CONTROL_RELEASE = "control_release"  # non-compliant, released
    CONTROL_RELEASE_AFTER_PAYMENT = "control_release_after_payment"


class DebtBasis(Enum):
    """How the debt was settled: nothing due, paid in full, or (partly) secured."""

    NOTHING_DUE = "nothing_due"
    PAID = "paid"
    SECURED = "secured"


@dataclass(frozen=True)
class HoldReason:
    kind: HoldKind
    reference: str  # the control id or the hold id
    agency: str = ""
    detail: str = ""


@dataclass(frozen=True)
class Hold:
    consignment_id: str
    reasons: tuple[HoldReason, ...]


@dataclass(frozen=True)
class Pending:
    consignment_id: str
    reasons: tuple[PendingReason, ...]


@dataclass(frozen=True)
class Released:
    consignment_id: str
    fact_id: str
    released_at: datetime


@dataclass(frozen=True)
class Refused:
    """Release refused by the fact `control_fact_id`: a control's, or with `agency` that
    agency's decision (`note`: its words to customs); `refused_at` None until the refusal is
    recorded (`refuse`)."""

    consignment_id: str
    control_fact_id: str
    refused_at: datetime | None = None
    agency: str | None = None
    note: str = ""


@dataclass(frozen=True)
class Invalidated:
    """The declaration was invalidated before release: nothing is released (the fact is the
    declaration service's; the release service records nothing more)."""

    consignment_id: str
    fact_id: str


@dataclass(frozen=True)
class ReleaseDecision:
    """Every release condition holds; record it with `release`."""

    consignment_id: str
    mrn: str
    office: str
    lane: Lane
    declaration_version: int
    risk_basis: RiskBasis
    debt_basis: DebtBasis
    amount_due: Decimal
    amount_paid: Decimal  # paid, or charged to a deferment account
    amount_secured: Decimal
    additional_duty: Decimal = Decimal(0)


Outcome = ReleaseDecision | Hold | Pending | Released | Refused | Invalidated


@dataclass(frozen=True)
class Clearance:
    """Released goods whose every debt is paid: the declaration is cleared."""

    consignment_id: str
    mrn: str
    declaration_version: int
    amount_due: Decimal  # the assessed duty plus any additional duty
    amount_paid: Decimal


def decide(state: ConsignmentState) -> Outcome:
    """The release outcome from the set of facts known (order and duplicates do not matter)."""
    released = state.released
    if released is not None:
        return Released(state.consignment_id, released.fact_id, released.released_at)
    refused, refusing = state.refused, state.refusing_control
    if refused is not None:
        return Refused(state.consignment_id, refused.control_fact_id, refused.refused_at)
    if refusing is not None:
        return Refused(state.consignment_id, refusing.fact_id)
    by_agency = state.refusing_agency
    if by_agency is not None:
        return Refused(state.consignment_id, by_agency.fact_id, agency=by_agency.agency,
                       note=by_agency.note)
    invalidated = state.invalidated
    if invalidated is not None:
        return Invalidated(state.consignment_id, invalidated.fact_id)

    holds = [
        HoldReason(HoldKind.CONTROL_NON_COMPLIANT, control.control_id)
        for control in state.controls_completed
        if control.customs_hold
    ] + [
        HoldReason(HoldKind.AGENCY_HOLD, hold.hold_id, hold.agency, hold.reason)
        for hold in state.active_holds
    ]
    if holds:
        return Hold(state.consignment_id, tuple(holds))

    pending: list[PendingReason] = []
    accepted = state.accepted
    if accepted is None:
        pending.append(PendingReason.NOT_ACCEPTED)

    risk = state.risk
    risk_basis: RiskBasis | None = None
    if risk is None:
        pending.append(PendingReason.RISK_NOT_DECIDED)
    elif not risk.lane.needs_control:
        risk_basis = RiskBasis(risk.lane.value)
    else:
        risk_basis = _control_basis(state.controls_completed)
        if risk_basis is None:
            pending.append(PendingReason.CONTROL_NOT_COMPLETED)

    duty = state.duty
    paid, secured, additional = state.amount_settled, state.amount_secured, state.additional_duty
    debt_basis: DebtBasis | None = None
    if duty is None:
        pending.append(PendingReason.DUTY_NOT_ASSESSED)
    else:
        debt_basis = _debt_basis(max(duty.amount_due, Decimal(0)), additional, paid, secured)
        if debt_basis is None:
            pending.append(PendingReason.DEBT_NOT_SETTLED)

    if pending or accepted is None or risk is None or duty is None:
        return Pending(state.consignment_id, tuple(pending))
    assert risk_basis is not None and debt_basis is not None
    return ReleaseDecision(
        consignment_id=state.consignment_id,
        mrn=accepted.mrn,
        office=accepted.office,
        lane=risk.lane,
        declaration_version=state.declaration_version,
        risk_basis=risk_basis,
        debt_basis=debt_basis,
        amount_due=duty.amount_due,
        amount_paid=paid,
        amount_secured=secured,
        additional_duty=additional,
    )


def _control_basis(completed: list[ControlCompleted]) -> RiskBasis | None:
    """How the completed controls close the risk, or None (no control closes it yet)."""
    closing = [c for c in completed if c.closes_risk]
    if any(c.result is ControlResult.COMPLIANT for c in closing):
        return RiskBasis.CONTROL_COMPLIANT
    if any(c.outcome is ControlOutcome.RELEASE_AFTER_PAYMENT for c in closing):
        return RiskBasis.CONTROL_RELEASE_AFTER_PAYMENT
    return RiskBasis.CONTROL_RELEASE if closing else None


def _debt_basis(due: Decimal, additional: Decimal, paid: Decimal,
                secured: Decimal) -> DebtBasis | None:
    """How the debt (the assessed `due` plus the `additional` duty) is settled, or None. A
    guarantee secures the assessed duty only: the additional duty must be paid."""
    total = due + additional
    if total <= 0:
        return DebtBasis.NOTHING_DUE
    if paid >= total:
        return DebtBasis.PAID
    if paid + min(secured, due) >= total:
        return DebtBasis.SECURED
    return None


def clearance(state: ConsignmentState, *, released: bool) -> Clearance | None:
    """The clearance of the declaration when its goods are `released` (recorded, or being
    recorded with this decision), it is not invalidated, and every debt on it (the latest
    version's assessed duty plus the additional duty of a release after payment) is paid;
    otherwise None. A guarantee does not clear: it secures a debt still to be paid."""
    accepted, duty = state.accepted, state.duty
    if not released or accepted is None or duty is None or state.invalidated is not None:
        return None
    due = max(duty.amount_due, Decimal(0)) + state.additional_duty + state.checked_debt
    paid = state.amount_settled
    if paid < due:
        return None
    return Clearance(state.consignment_id, accepted.mrn, state.declaration_version, due, paid)


def release(state: ConsignmentState, *, fact_id: str, released_at: datetime) -> GoodsReleased:
    """Guard and record: the `GoodsReleased` fact, when `decide` says every condition holds.

    Raises `AlreadyReleased` after a release and `NotReleasable` (with the outcome) otherwise.
    """
    if released_at.tzinfo is None:
        raise ValueError("released_at must be timezone-aware")
    outcome = decide(state)
    if isinstance(outcome, Released):
        raise AlreadyReleased(f"{state.consignment_id} was released already", outcome)
    if not isinstance(outcome, ReleaseDecision):
        raise NotReleasable(f"{state.consignment_id} cannot be released: {outcome}", outcome)
    return GoodsReleased(fact_id=fact_id, released_at=released_at)


def refuse(state: ConsignmentState, *, fact_id: str, refused_at: datetime) -> ReleaseRefused:
    """Guard and record: the `ReleaseRefused` fact, when a control refused release and the
    refusal is not recorded yet. Raises `NotRefusable` (with the outcome) otherwise."""
    if refused_at.tzinfo is None:
        raise ValueError("refused_at must be timezone-aware")
    outcome = decide(state)
    if not isinstance(outcome, Refused) or outcome.refused_at is not None:
        raise NotRefusable(f"{state.consignment_id}: no refusal to record: {outcome}", outcome)
    return ReleaseRefused(fact_id=fact_id, control_fact_id=outcome.control_fact_id,
                          refused_at=refused_at)

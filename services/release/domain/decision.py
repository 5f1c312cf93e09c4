"""The release decision: guard, record, apply.

`decide(state)` reads the set of facts and answers one of:

- `Released`: already released (exactly one release per consignment);
- `Hold`: a non-compliant control, or an agency hold not lifted;
- `Pending(reasons)`: a release condition does not hold yet;
- `ReleaseDecision`: every condition holds (risk closed, debt paid or secured, no hold).

`release(state, fact_id=..., released_at=...)` re-checks that answer and returns the
`GoodsReleased` fact to record; `state.apply` of that fact is the only change.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from enum import Enum

from .errors import AlreadyReleased, NotReleasable
from .facts import ControlResult, GoodsReleased, Lane
from .state import ConsignmentState


class PendingReason(Enum):
    """Why a consignment is not released yet, in the order they are reported."""

    NOT_ACCEPTED = "not_accepted"
    RISK_NOT_DECIDED = "risk_not_decided"
    CONTROL_NOT_COMPLETED = "control_not_completed"
    DUTY_NOT_ASSESSED = "duty_not_assessed"
    DEBT_NOT_SETTLED = "debt_not_settled"


class HoldKind(Enum):
    CONTROL_NON_COMPLIANT = "control_non_compliant"
    AGENCY_HOLD = "agency_hold"


class RiskBasis(Enum):
    """How the risk outcome was closed."""

    GREEN = "green"
    BLUE = "blue"
    CONTROL_COMPLIANT = "control_compliant"


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
    amount_paid: Decimal
    amount_secured: Decimal


Outcome = ReleaseDecision | Hold | Pending | Released


def decide(state: ConsignmentState) -> Outcome:
    """The release outcome from the set of facts known (order and duplicates do not matter)."""
    released = state.released
    if released is not None:
        return Released(state.consignment_id, released.fact_id, released.released_at)

    holds = [
        HoldReason(HoldKind.CONTROL_NON_COMPLIANT, control.control_id)
        for control in state.controls_completed
        if control.result is ControlResult.NON_COMPLIANT
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
    elif any(c.result is ControlResult.COMPLIANT for c in state.controls_completed):
        risk_basis = RiskBasis.CONTROL_COMPLIANT
    else:
        pending.append(PendingReason.CONTROL_NOT_COMPLETED)

    duty = state.duty
    paid, secured = state.amount_paid, state.amount_secured
    debt_basis: DebtBasis | None = None
    if duty is None:
        pending.append(PendingReason.DUTY_NOT_ASSESSED)
    elif duty.amount_due <= 0:
        debt_basis = DebtBasis.NOTHING_DUE
    elif paid >= duty.amount_due:
        debt_basis = DebtBasis.PAID
    elif paid + secured >= duty.amount_due:
        debt_basis = DebtBasis.SECURED
    else:
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
    )


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

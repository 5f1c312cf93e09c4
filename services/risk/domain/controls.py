"""Controls on a consignment: a documentary check (yellow) or a physical examination (red),
and its result. Guard, record, apply:

- `order_control(state, lane, control_id)` and `record_result(state, ...)` check the guards
  and return the event to record (`ControlOrdered`, `ControlCompleted`); they never change
  the state;
- `apply(state, event)` is the only way the state changes, through `_TRANSITIONS`.

Guards: a result needs an open control (`NoOpenControl`, 409); a control has one result
(`ControlAlreadyCompleted`, 409); one open control at a time (`ControlAlreadyOpen`, 409);
only yellow and red have a control (`NoControlForLane`). Consistency of a result
(`InvalidControlResult`, 422):

- compliant: no outcome, no additional duty, and findings (if any) only `no_discrepancy`
  remarks;
- non-compliant: at least one finding, each a discrepancy (not `no_discrepancy`), and the
  outcome that follows: `release`, `release_after_payment` of an `additional_duty` > 0, or
  `refuse_release`; the additional duty is 0 unless released after payment;
- the additional duty is an amount in minor units: >= 0, at most two decimals.

A non-compliant result recorded before outcomes existed (ControlCompleted version 2) reads
with outcome None: customs holds the goods, no outcome decided.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, replace
from decimal import ROUND_DOWN, Decimal
from enum import Enum
from typing import Any

from ._codec import decimal_text, to_decimal, to_str
from .errors import (
    ControlAlreadyCompleted,
    ControlAlreadyOpen,
    InvalidControlResult,
    InvalidControlTransition,
    InvalidRecord,
    NoControlForLane,
    NoOpenControl,
)
from .lanes import Lane


class ControlKind(Enum):
    DOCUMENTARY = "documentary"  # yellow
    EXAMINATION = "examination"  # red


class ControlStatus(Enum):
    OPEN = "open"
    COMPLETED = "completed"
    SUPERSEDED = "superseded"  # left open when an amendment made a new declaration version


class ControlResult(Enum):
    COMPLIANT = "compliant"
    NON_COMPLIANT = "non_compliant"


class FindingCategory(Enum):
    NO_DISCREPANCY = "no_discrepancy"  # a compliant control's remark
    CLASSIFICATION = "classification"
    VALUATION = "valuation"
    ORIGIN = "origin"
    QUANTITY = "quantity"
    DOCUMENTS = "documents"
    PROHIBITED_GOODS = "prohibited_goods"


    @property
    def is_discrepancy(self) -> bool:
        return self is not FindingCategory.NO_DISCREPANCY


class ControlOutcome(Enum):
    """What follows a non-compliant result."""

    RELEASE = "release"
    RELEASE_AFTER_PAYMENT = "release_after_payment"  # of the additional duty
    REFUSE_RELEASE = "refuse_release"  # final


KIND_FOR_LANE = {Lane.YELLOW: ControlKind.DOCUMENTARY, Lane.RED: ControlKind.EXAMINATION}
MINOR_UNITS = Decimal("0.01")


@dataclass(frozen=True)
class Finding:
    category: FindingCategory
    text: str = ""

    def to_dict(self) -> dict[str, Any]:
        return {"category": self.category.value, "text": self.text}

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Finding:
        try:
            return cls(category=FindingCategory(data["category"]), text=str(data.get("text", "")))
        except (KeyError, ValueError, TypeError) as error:
            raise InvalidRecord(f"finding: {error}") from None


@dataclass(frozen=True)
class ControlOrdered:
    """Event: a control was opened for a consignment sent to yellow or red."""

    consignment_id: str
    control_id: str
    kind: ControlKind
    lane: Lane
    declaration_version: int = 1  # the declaration version to control

    def to_dict(self) -> dict[str, Any]:
        return {
            "consignment_id": self.consignment_id,
            "control_id": self.control_id,
            "kind": self.kind.value,
            "lane": self.lane.value,
            "declaration_version": self.declaration_version,
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> ControlOrdered:
        try:
            return cls(
                consignment_id=to_str(data["consignment_id"], "consignment_id"),
                control_id=to_str(data["control_id"], "control_id"),
                kind=ControlKind(data["kind"]),
                lane=Lane(data["lane"]),
                declaration_version=int(data.get("declaration_version", 1)),
            )
        except (KeyError, ValueError) as error:
            if isinstance(error, InvalidRecord):
                raise
            raise InvalidRecord(f"ControlOrdered: {error}") from None


@dataclass(frozen=True)
class ControlCompleted:
    """Event: an officer recorded the result of a control (and, when non-compliant, what
    follows; `outcome` None: recorded before outcomes existed, a customs hold)."""

    consignment_id: str
    control_id: str
    result: ControlResult
    findings: tuple[Finding, ...]
    outcome: ControlOutcome | None
    additional_duty: Decimal
    officer: str

    def to_dict(self) -> dict[str, Any]:
        return {
            "consignment_id": self.consignment_id,
            "control_id": self.control_id,
            "result": self.result.value,
            "findings": [finding.to_dict() for finding in self.findings],
            "outcome": None if self.outcome is None else self.outcome.value,
            "additional_duty": decimal_text(self.additional_duty),
            "officer": self.officer,
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> ControlCompleted:
        try:
            return cls(
                consignment_id=to_str(data["consignment_id"], "consignment_id"),
                control_id=to_str(data["control_id"], "control_id"),
                result=ControlResult(data["result"]),
                findings=tuple(Finding.from_dict(f) for f in data["findings"]),
                outcome=None if data["outcome"] is None else ControlOutcome(data["outcome"]),
                additional_duty=to_decimal(data["additional_duty"], "additional_duty"),
                officer=str(data["officer"]),
            )
        except (KeyError, ValueError) as error:
            if isinstance(error, InvalidRecord):
                raise
            raise InvalidRecord(f"ControlCompleted: {error}") from None


ControlEvent = ControlOrdered | ControlCompleted


@dataclass(frozen=True)
class Control:
    control_id: str
    kind: ControlKind
    status: ControlStatus
    declaration_version: int = 1
    result: ControlResult | None = None
    findings: tuple[Finding, ...] = ()
    outcome: ControlOutcome | None = None
    additional_duty: Decimal = Decimal(0)
    officer: str = ""


@dataclass(frozen=True)
class ControlState:
    """Every control of one consignment, oldest first; at most the last one is open."""

    consignment_id: str
    controls: tuple[Control, ...] = ()

    @property
    def current(self) -> Control | None:
        return self.controls[-1] if self.controls else None

    @property
    def open_control(self) -> Control | None:
        current = self.current
        return current if current is not None and current.status is ControlStatus.OPEN else None


# The allowed transitions: (status of the current control or None, event type) -> new status.
_TRANSITIONS: dict[tuple[ControlStatus | None, type[ControlEvent]], ControlStatus] = {
    (None, ControlOrdered): ControlStatus.OPEN,
    (ControlStatus.COMPLETED, ControlOrdered): ControlStatus.OPEN,  # a new control (amendment)
    (ControlStatus.SUPERSEDED, ControlOrdered): ControlStatus.OPEN,
    # an amendment's new version: the open control of an older version is superseded
    (ControlStatus.OPEN, ControlOrdered): ControlStatus.OPEN,
    (ControlStatus.OPEN, ControlCompleted): ControlStatus.COMPLETED,
}


def order_control(state: ControlState, lane: Lane, control_id: str,
                  declaration_version: int = 1) -> ControlOrdered:
    """Guard and record: open the control a yellow or red decision calls for, about
    `declaration_version`. A control still open for an older version (the declaration was
    amended) is superseded by it; one open for this version is `ControlAlreadyOpen`."""
    kind = KIND_FOR_LANE.get(lane)
    if kind is None:
        raise NoControlForLane(f"the {lane.value} lane has no control")
    open_control = state.open_control
    if open_control is not None and open_control.declaration_version >= declaration_version:
        raise ControlAlreadyOpen(
            f"control {open_control.control_id} is still open for {state.consignment_id}"
        )
    return ControlOrdered(consignment_id=state.consignment_id, control_id=control_id,
                          kind=kind, lane=lane, declaration_version=declaration_version)


def record_result(
    state: ControlState,
    result: ControlResult,
    *,
    findings: Iterable[Finding] = (),
    outcome: ControlOutcome | None = None,
    additional_duty: Decimal = Decimal(0),
    officer: str = "",
    control_id: str | None = None,
) -> ControlCompleted:
    """Guard and record: the result of the open control (or of `control_id` when named)."""
    findings = tuple(findings)
    if control_id is None:
        target = state.current
    else:
        target = next((c for c in state.controls if c.control_id == control_id), None)
    if target is None or target.status is ControlStatus.SUPERSEDED:
        raise NoOpenControl(f"no control is open for {state.consignment_id}")
    if target.status is ControlStatus.COMPLETED:
        raise ControlAlreadyCompleted(
            f"control {target.control_id} of {state.consignment_id} already has a result"
        )
    _check_consistent(result, findings, outcome, additional_duty)
    return ControlCompleted(
        consignment_id=state.consignment_id,
        control_id=target.control_id,
        result=result,
        findings=findings,
        outcome=outcome,
        additional_duty=additional_duty,
        officer=officer,
    )


def _check_consistent(result: ControlResult, findings: tuple[Finding, ...],
                      outcome: ControlOutcome | None, additional_duty: Decimal) -> None:
    """`InvalidControlResult` unless the result, findings, outcome and duty agree (see the
    module docstring)."""
    if not additional_duty.is_finite() or additional_duty < 0:
        raise InvalidControlResult("the additional duty must not be negative")
    if additional_duty != additional_duty.quantize(MINOR_UNITS, rounding=ROUND_DOWN):
        raise InvalidControlResult("the additional duty has at most two decimals")
    if result is ControlResult.COMPLIANT:
        if outcome is not None:
            raise InvalidControlResult("a compliant result has no outcome (the goods follow "
                                       "the normal release conditions)")
        if additional_duty:
            raise InvalidControlResult("a compliant result has no additional duty")
        if any(f.category.is_discrepancy for f in findings):
            raise InvalidControlResult("a compliant result has no discrepancy: its findings "
                                       "are no_discrepancy remarks only")
        return
    if not findings:
        raise InvalidControlResult("a non-compliant result needs at least one finding")
    if not all(f.category.is_discrepancy for f in findings):
        raise InvalidControlResult("a non-compliant result's findings are discrepancies "
                                   "(no_discrepancy is for a compliant result)")
    if outcome is None:
        raise InvalidControlResult("a non-compliant result says what follows: release, "
                                   "release_after_payment or refuse_release")
    if outcome is ControlOutcome.RELEASE_AFTER_PAYMENT and additional_duty <= 0:
        raise InvalidControlResult("release after payment needs an additional duty above 0")
    if outcome is not ControlOutcome.RELEASE_AFTER_PAYMENT and additional_duty:
        raise InvalidControlResult(
            f"an additional duty is only for release_after_payment, not {outcome.value}")


def apply(state: ControlState, event: ControlEvent) -> ControlState:
    """The only state change: follow `_TRANSITIONS` or raise `InvalidControlTransition`."""
    current = state.current
    status = None if current is None else current.status
    target = _TRANSITIONS.get((status, type(event)))
    if target is None or event.consignment_id != state.consignment_id:
        raise InvalidControlTransition(
            f"{type(event).__name__} cannot follow control status {status}"
        )
    if isinstance(event, ControlOrdered):
        if any(c.control_id == event.control_id for c in state.controls):
            raise InvalidControlTransition(f"control {event.control_id} was already ordered")
        earlier = state.controls
        if current is not None and current.status is ControlStatus.OPEN:
            if event.declaration_version <= current.declaration_version:
                raise InvalidControlTransition(
                    f"control {current.control_id} is open for the same declaration version")
            earlier = (*earlier[:-1], replace(current, status=ControlStatus.SUPERSEDED))
        control = Control(control_id=event.control_id, kind=event.kind, status=target,
                          declaration_version=event.declaration_version)
        return replace(state, controls=(*earlier, control))
    assert current is not None
    if event.control_id != current.control_id:
        raise InvalidControlTransition(f"control {event.control_id} is not the open control")
    completed = replace(
        current,
        status=target,
        result=event.result,
        findings=event.findings,
        outcome=event.outcome,
        additional_duty=event.additional_duty,
        officer=event.officer,
    )
    return replace(state, controls=(*state.controls[:-1], completed))


def fold(consignment_id: str, events: Iterable[ControlEvent]) -> ControlState:
    """The state after applying recorded events in stream order."""
    state = ControlState(consignment_id=consignment_id)
    for event in events:
        state = apply(state, event)
    return state

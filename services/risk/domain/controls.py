"""Controls on a consignment: a documentary check (yellow) or a physical examination (red),
and its result. Guard, record, apply:

- `order_control(state, lane, control_id)` and `record_result(state, ...)` check the guards
  and return the event to record (`ControlOrdered`, `ControlCompleted`); they never change
  the state;
- `apply(state, event)` is the only way the state changes, through `_TRANSITIONS`.

Guards: a result needs an open control (`NoOpenControl`, 409); a control has one result
(`ControlAlreadyCompleted`, 409); one open control at a time (`ControlAlreadyOpen`, 409);
only yellow and red have a control (`NoControlForLane`). A compliant result has no findings
and no revenue; a non-compliant one has at least one finding (`InvalidControlResult`, 422).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, replace
from decimal import Decimal
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


class ControlResult(Enum):
    COMPLIANT = "compliant"
    NON_COMPLIANT = "non_compliant"


class FindingCategory(Enum):
    CLASSIFICATION = "classification"
    VALUATION = "valuation"
    ORIGIN = "origin"
    QUANTITY = "quantity"
    DOCUMENTS = "documents"
    PROHIBITED_GOODS = "prohibited_goods"


KIND_FOR_LANE = {Lane.YELLOW: ControlKind.DOCUMENTARY, Lane.RED: ControlKind.EXAMINATION}


@dataclass(frozen=True)
class Finding:
    category: FindingCategory
    note: str = ""

    def to_dict(self) -> dict[str, Any]:
        return {"category": self.category.value, "note": self.note}

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Finding:
        try:
            return cls(category=FindingCategory(data["category"]), note=str(data.get("note", "")))
        except (KeyError, ValueError) as error:
            raise InvalidRecord(f"finding: {error}") from None


@dataclass(frozen=True)
class ControlOrdered:
    """Event: a control was opened for a consignment sent to yellow or red."""

    consignment_id: str
    control_id: str
    kind: ControlKind
    lane: Lane

    def to_dict(self) -> dict[str, Any]:
        return {
            "consignment_id": self.consignment_id,
            "control_id": self.control_id,
            "kind": self.kind.value,
            "lane": self.lane.value,
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> ControlOrdered:
        try:
            return cls(
                consignment_id=to_str(data["consignment_id"], "consignment_id"),
                control_id=to_str(data["control_id"], "control_id"),
                kind=ControlKind(data["kind"]),
                lane=Lane(data["lane"]),
            )
        except (KeyError, ValueError) as error:
            if isinstance(error, InvalidRecord):
                raise
            raise InvalidRecord(f"ControlOrdered: {error}") from None


@dataclass(frozen=True)
class ControlCompleted:
    """Event: an officer recorded the result of a control."""

    consignment_id: str
    control_id: str
    result: ControlResult
    findings: tuple[Finding, ...]
    revenue_recovered: Decimal
    officer: str

    def to_dict(self) -> dict[str, Any]:
        return {
            "consignment_id": self.consignment_id,
            "control_id": self.control_id,
            "result": self.result.value,
            "findings": [finding.to_dict() for finding in self.findings],
            "revenue_recovered": decimal_text(self.revenue_recovered),
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
                revenue_recovered=to_decimal(data["revenue_recovered"], "revenue_recovered"),
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
    result: ControlResult | None = None
    findings: tuple[Finding, ...] = ()
    revenue_recovered: Decimal = Decimal(0)
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
    (ControlStatus.OPEN, ControlCompleted): ControlStatus.COMPLETED,
}


def order_control(state: ControlState, lane: Lane, control_id: str) -> ControlOrdered:
    """Guard and record: open the control a yellow or red decision calls for."""
    kind = KIND_FOR_LANE.get(lane)
    if kind is None:
        raise NoControlForLane(f"the {lane.value} lane has no control")
    if state.open_control is not None:
        raise ControlAlreadyOpen(
            f"control {state.open_control.control_id} is still open for {state.consignment_id}"
        )
    return ControlOrdered(
        consignment_id=state.consignment_id, control_id=control_id, kind=kind, lane=lane
    )


def record_result(
    state: ControlState,
    result: ControlResult,
    *,
    findings: Iterable[Finding] = (),
    revenue_recovered: Decimal = Decimal(0),
    officer: str = "",
    control_id: str | None = None,
) -> ControlCompleted:
    """Guard and record: the result of the open control (or of `control_id` when named)."""
    findings = tuple(findings)
    if control_id is None:
        target = state.current
    else:
        target = next((c for c in state.controls if c.control_id == control_id), None)
    if target is None:
        raise NoOpenControl(f"no control is open for {state.consignment_id}")
    if target.status is ControlStatus.COMPLETED:
        raise ControlAlreadyCompleted(
            f"control {target.control_id} of {state.consignment_id} already has a result"
        )
    if revenue_recovered < 0:
        raise InvalidControlResult("revenue recovered must not be negative")
    if result is ControlResult.COMPLIANT and (findings or revenue_recovered):
        raise InvalidControlResult("a compliant result has no findings and no revenue recovered")
    if result is ControlResult.NON_COMPLIANT and not findings:
        raise InvalidControlResult("a non-compliant result needs at least one finding")
    return ControlCompleted(
        consignment_id=state.consignment_id,
        control_id=target.control_id,
        result=result,
        findings=findings,
        revenue_recovered=revenue_recovered,
        officer=officer,
    )


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
        control = Control(control_id=event.control_id, kind=event.kind, status=target)
        return replace(state, controls=(*state.controls, control))
    assert current is not None
    if event.control_id != current.control_id:
        raise InvalidControlTransition(f"control {event.control_id} is not the open control")
    completed = replace(
        current,
        status=target,
        result=event.result,
        findings=event.findings,
        revenue_recovered=event.revenue_recovered,
        officer=event.officer,
    )
    return replace(state, controls=(*state.controls[:-1], completed))


def fold(consignment_id: str, events: Iterable[ControlEvent]) -> ControlState:
    """The state after applying recorded events in stream order."""
    state = ControlState(consignment_id=consignment_id)
    for event in events:
        state = apply(state, event)
    return state

"""Controls: guard, record, apply.

Strategy: commands are exercised against states built only by `apply` of the events the
guards returned (as the application will do); every guard is hit once with its named error,
and the transition table is checked for the events it must refuse. The events survive a
JSON round trip.
"""

from __future__ import annotations

import json
from decimal import Decimal

import pytest

from services.risk.domain import (
    ControlAlreadyCompleted,
    ControlAlreadyOpen,
    ControlCompleted,
    ControlConflict,
    ControlKind,
    ControlOrdered,
    ControlOutcome,
    ControlResult,
    ControlState,
    ControlStatus,
    Finding,
    FindingCategory,
    InvalidControlResult,
    InvalidControlTransition,
    Lane,
    NoControlForLane,
    NoOpenControl,
    apply,
    fold,
    order_control,
    record_result,
)

EMPTY = ControlState(consignment_id="c-1")
UNDERVALUED = Finding(FindingCategory.VALUATION, "invoice does not match the bank transfer")


def opened(lane: Lane = Lane.RED) -> ControlState:
    return apply(EMPTY, order_control(EMPTY, lane, "k-1"))


def test_yellow_opens_a_documentary_check_and_red_an_examination():
    assert order_control(EMPTY, Lane.YELLOW, "k-1").kind is ControlKind.DOCUMENTARY
    assert order_control(EMPTY, Lane.RED, "k-1").kind is ControlKind.EXAMINATION
    state = opened(Lane.YELLOW)
    assert state.open_control is not None and state.open_control.status is ControlStatus.OPEN


@pytest.mark.parametrize("lane", [Lane.GREEN, Lane.BLUE])
def test_green_and_blue_have_no_control(lane):
    with pytest.raises(NoControlForLane):
        order_control(EMPTY, lane, "k-1")


def test_no_result_without_an_open_control():
    with pytest.raises(NoOpenControl):
        record_result(EMPTY, ControlResult.COMPLIANT)
    assert issubclass(NoOpenControl, ControlConflict)  # mapped to 409


def test_compliant_result_closes_the_control():
    state = opened()
    event = record_result(state, ControlResult.COMPLIANT, officer="officer-7")
    assert event.control_id == "k-1"
    state = apply(state, event)
    assert state.open_control is None
    assert state.current is not None and state.current.result is ControlResult.COMPLIANT


def test_non_compliant_result_released_after_payment_of_an_additional_duty():
    state = opened()
    event = record_result(
        state,
        ControlResult.NON_COMPLIANT,
        findings=[UNDERVALUED, Finding(FindingCategory.ORIGIN, "no proof of origin")],
        outcome=ControlOutcome.RELEASE_AFTER_PAYMENT,
        additional_duty=Decimal("1250.40"),
        officer="officer-7",
    )
    state = apply(state, event)
    assert state.current is not None
    assert state.current.findings[0].category is FindingCategory.VALUATION
    assert state.current.outcome is ControlOutcome.RELEASE_AFTER_PAYMENT
    assert state.current.additional_duty == Decimal("1250.40")


@pytest.mark.parametrize("outcome", [ControlOutcome.RELEASE, ControlOutcome.REFUSE_RELEASE])
def test_non_compliant_released_or_refused_has_no_additional_duty(outcome):
    event = record_result(opened(), ControlResult.NON_COMPLIANT, findings=[UNDERVALUED],
                          outcome=outcome)
    assert event.outcome is outcome and event.additional_duty == 0


def test_a_compliant_result_may_carry_no_discrepancy_remarks():
    remark = Finding(FindingCategory.NO_DISCREPANCY, "invoice and origin certificate checked")
    event = record_result(opened(), ControlResult.COMPLIANT, findings=[remark])
    assert event.findings == (remark,) and event.outcome is None


def test_one_result_per_control():
    state = apply(opened(), record_result(opened(), ControlResult.COMPLIANT))
    with pytest.raises(ControlAlreadyCompleted):
        record_result(state, ControlResult.COMPLIANT)
    with pytest.raises(ControlAlreadyCompleted):
        record_result(state, ControlResult.COMPLIANT, control_id="k-1")
    assert issubclass(ControlAlreadyCompleted, ControlConflict)


def test_a_named_control_that_does_not_exist():
    with pytest.raises(NoOpenControl):
        record_result(opened(), ControlResult.COMPLIANT, control_id="k-9")


def test_one_open_control_at_a_time_and_a_new_one_after_completion():
    state = opened()
    with pytest.raises(ControlAlreadyOpen):
        order_control(state, Lane.RED, "k-2")
    state = apply(state, record_result(state, ControlResult.COMPLIANT))
    state = apply(state, order_control(state, Lane.YELLOW, "k-2"))  # e.g. after an amendment
    assert state.open_control is not None and state.open_control.control_id == "k-2"
    assert len(state.controls) == 2


REMARK = Finding(FindingCategory.NO_DISCREPANCY, "checked")
PAY = ControlOutcome.RELEASE_AFTER_PAYMENT


@pytest.mark.parametrize(
    ("result", "findings", "outcome", "duty"),
    [
        (ControlResult.COMPLIANT, [UNDERVALUED], None, "0"),  # a discrepancy
        (ControlResult.COMPLIANT, [], None, "10"),  # duty without a finding
        (ControlResult.COMPLIANT, [REMARK], ControlOutcome.RELEASE, "0"),  # an outcome
        (ControlResult.NON_COMPLIANT, [], ControlOutcome.RELEASE, "0"),  # no finding
        (ControlResult.NON_COMPLIANT, [REMARK], ControlOutcome.RELEASE, "0"),  # no discrepancy
        (ControlResult.NON_COMPLIANT, [UNDERVALUED], None, "0"),  # no outcome
        (ControlResult.NON_COMPLIANT, [UNDERVALUED], PAY, "0"),  # nothing to pay
        (ControlResult.NON_COMPLIANT, [UNDERVALUED], PAY, "-1"),
        (ControlResult.NON_COMPLIANT, [UNDERVALUED], PAY, "10.005"),  # below minor units
        (ControlResult.NON_COMPLIANT, [UNDERVALUED], PAY, "NaN"),
        (ControlResult.NON_COMPLIANT, [UNDERVALUED], ControlOutcome.RELEASE, "10"),
        (ControlResult.NON_COMPLIANT, [UNDERVALUED], ControlOutcome.REFUSE_RELEASE, "10"),
    ],
)
def test_results_must_be_consistent(result, findings, outcome, duty):
    with pytest.raises(InvalidControlResult):
        record_result(opened(), result, findings=findings, outcome=outcome,
                      additional_duty=Decimal(duty))


def test_guards_do_not_change_the_state():
    state = opened()
    record_result(state, ControlResult.COMPLIANT)
    assert state == opened()


def test_transition_table_refuses_out_of_order_events():
    completed = ControlCompleted("c-1", "k-1", ControlResult.COMPLIANT, (), None, Decimal(0),
                                 "o")
    with pytest.raises(InvalidControlTransition):
        apply(EMPTY, completed)
    state = opened()
    with pytest.raises(InvalidControlTransition):
        apply(state, ControlOrdered("c-1", "k-2", ControlKind.EXAMINATION, Lane.RED))
    with pytest.raises(InvalidControlTransition):
        apply(state, ControlCompleted("c-1", "k-2", ControlResult.COMPLIANT, (), None,
                                      Decimal(0), ""))
    with pytest.raises(InvalidControlTransition):
        apply(EMPTY, ControlOrdered("c-2", "k-1", ControlKind.EXAMINATION, Lane.RED))


def test_events_round_trip_through_json_and_fold():
    ordered = order_control(EMPTY, Lane.RED, "k-1")
    state = apply(EMPTY, ordered)
    completed = record_result(
        state, ControlResult.NON_COMPLIANT, findings=[UNDERVALUED], outcome=PAY,
        additional_duty=Decimal("5")
    )
    decoded = [
        ControlOrdered.from_dict(json.loads(json.dumps(ordered.to_dict()))),
        ControlCompleted.from_dict(json.loads(json.dumps(completed.to_dict()))),
    ]
    assert decoded == [ordered, completed]
    assert fold("c-1", decoded) == apply(state, completed)
    assert completed.to_dict()["findings"] == [
        {"category": "valuation", "text": "invoice does not match the bank transfer"}
    ]
    assert completed.to_dict()["outcome"] == "release_after_payment"
    assert completed.to_dict()["additional_duty"] == "5"


def test_finding_categories():
    assert {c.value for c in FindingCategory} == {
        "no_discrepancy",
        "classification",
        "valuation",
        "origin",
        "quantity",
        "documents",
        "prohibited_goods",
    }
    assert [c for c in FindingCategory if not c.is_discrepancy] == [
        FindingCategory.NO_DISCREPANCY]


def test_an_amendment_supersedes_the_control_open_for_the_older_version():
    state = opened(Lane.YELLOW)  # version 1, open
    with pytest.raises(ControlAlreadyOpen):
        order_control(state, Lane.RED, "k-2", declaration_version=1)
    ordered = order_control(state, Lane.RED, "k-2", declaration_version=2)
    assert ordered.declaration_version == 2 and ordered.kind is ControlKind.EXAMINATION
    state = apply(state, ordered)
    assert [c.status for c in state.controls] == [ControlStatus.SUPERSEDED, ControlStatus.OPEN]
    assert state.open_control is not None and state.open_control.declaration_version == 2
    with pytest.raises(NoOpenControl):  # the superseded one takes no result
        record_result(state, ControlResult.COMPLIANT, control_id="k-1")
    assert fold("c-1", [order_control(EMPTY, Lane.YELLOW, "k-1"), ordered]) == state

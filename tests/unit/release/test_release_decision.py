"""The release decision, scenario by scenario.

Strategy: each test states the facts known about one consignment (built with `build_state`,
in a readable order; the property tests in test_release_properties.py show that the order
does not matter) and checks the outcome of `decide`, then the guard-record-apply cycle of
`release` and the one-release rule.
"""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal

import pytest

from services.release.domain import (
    AlreadyReleased,
    Clearance,
    ConflictingFact,
    ControlCompleted,
    ControlOrdered,
    ControlOutcome,
    ControlResult,
    DebtBasis,
    DeclarationAccepted,
    DeclarationInvalidated,
    DutyAssessed,
    GoodsReleased,
    GuaranteeSecured,
    Hold,
    HoldKind,
    HoldLifted,
    HoldPlaced,
    HoldRefused,
    Invalidated,
    Lane,
    NotRefusable,
    NotReleasable,
    PaymentReceived,
    Pending,
    PendingReason,
    Refused,
    Released,
    ReleaseDecision,
    ReleaseRefused,
    RiskBasis,
    RiskDecided,
    apply,
    build_state,
    clearance,
    decide,
    refuse,
    release,
)

T0 = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)
ACCEPTED = DeclarationAccepted("e-acc", "26GB00000000001AR5", "GBLHR001", "air", T0)


def risk(lane: str, version: int = 1) -> RiskDecided:
    return RiskDecided(f"e-risk-{lane}-{version}", Lane(lane), version)


def duty(amount: str, version: int = 1) -> DutyAssessed:
    return DutyAssessed(f"e-duty-{version}", Decimal(amount), version)


def paid(amount: str, reference: str = "PAY-1", fact_id: str | None = None) -> PaymentReceived:
    return PaymentReceived(fact_id or f"e-pay-{reference}", Decimal(amount), reference)


def completed(result: str, control_id: str = "k-1", version: int = 1) -> ControlCompleted:
    return ControlCompleted(f"e-done-{control_id}", control_id, ControlResult(result), version)


def outcome(*facts):
    return decide(build_state("c-1", facts))


def test_green_and_paid_is_released():
    result = outcome(ACCEPTED, risk("green"), duty("100.00"), paid("100.00"))
    assert result == ReleaseDecision(
        consignment_id="c-1",
        mrn=ACCEPTED.mrn,
        office="GBLHR001",
        lane=Lane.GREEN,
        declaration_version=1,
        risk_basis=RiskBasis.GREEN,
        debt_basis=DebtBasis.PAID,
        amount_due=Decimal("100.00"),
        amount_paid=Decimal("100.00"),
        amount_secured=Decimal(0),
    )


def test_blue_with_nothing_due_is_released():
    result = outcome(ACCEPTED, risk("blue"), duty("0"))
    assert isinstance(result, ReleaseDecision)
    assert result.risk_basis is RiskBasis.BLUE and result.debt_basis is DebtBasis.NOTHING_DUE


def test_unpaid_stays_pending():
    assert outcome(ACCEPTED, risk("green"), duty("100.00")) == Pending(
        "c-1", (PendingReason.DEBT_NOT_SETTLED,)
    )
    partly = outcome(ACCEPTED, risk("green"), duty("100.00"), paid("99.99"))
    assert partly == Pending("c-1", (PendingReason.DEBT_NOT_SETTLED,))


def test_overpaid_is_released():
    assert isinstance(outcome(ACCEPTED, risk("green"), duty("100"), paid("150")), ReleaseDecision)


def test_payments_add_up_and_a_reference_counts_once():
    two_payments = outcome(
        ACCEPTED, risk("green"), duty("100"), paid("60", "PAY-1"), paid("40", "PAY-2")
    )
    assert isinstance(two_payments, ReleaseDecision)
    same_reference_twice = outcome(
        ACCEPTED,
        risk("green"),
        duty("100"),
        paid("60", "PAY-1", fact_id="e-1"),
        paid("60", "PAY-1", fact_id="e-2"),
    )
    assert same_reference_twice == Pending("c-1", (PendingReason.DEBT_NOT_SETTLED,))


def test_secured_debt_is_released():
    guarantee = GuaranteeSecured("e-g", Decimal("70"), "GUA-1")
    result = outcome(ACCEPTED, risk("green"), duty("100"), paid("30"), guarantee)
    assert isinstance(result, ReleaseDecision) and result.debt_basis is DebtBasis.SECURED
    assert result.amount_secured == Decimal("70")


class TestClearance:
    """Cleared (status 09): released, and every debt on the declaration paid."""

    def test_paid_before_release_is_cleared_with_it(self):
        state = build_state("c-1", [ACCEPTED, risk("green"), duty("100.00"), paid("120.00")])
        assert clearance(state, released=True) == Clearance(
            "c-1", ACCEPTED.mrn, 1, Decimal("100.00"), Decimal("120.00"))
        assert clearance(state, released=False) is None  # not before the goods are out

    def test_nothing_due_is_cleared(self):
        state = build_state("c-1", [ACCEPTED, risk("blue"), duty("0")])
        cleared = clearance(state, released=True)
        assert cleared is not None and cleared.amount_due == Decimal(0)

    def test_a_debt_settled_without_money_clears_and_a_checks_debt_must_be_settled_too(self):
        from services.release.domain.facts import DebtNotified, DebtSettled
        charged = DebtSettled("e-charged", Decimal("100"), "e-charged")
        state = build_state("c-1", [ACCEPTED, risk("green"), duty("100"), charged])
        assert isinstance(decide(state), ReleaseDecision)  # charged to a deferment account
        assert clearance(state, released=True) is not None
        guarantee = GuaranteeSecured("e-g", Decimal("100"), "GUA-1")
        secured = build_state("c-1", [ACCEPTED, risk("green"), duty("100"), guarantee,
                                      paid("100")])
        checked = apply(secured, DebtNotified("e-check", Decimal("25"), "post_clearance_check"))
        assert clearance(checked, released=True) is None  # the check's debt is owed
        assert clearance(apply(checked, paid("25", "PAY-2")), released=True) is not None
        # a control's notice does not add to the debt again (its duty is the control's)
        noticed = apply(secured, DebtNotified("e-ctl", Decimal("25"), "control_finding"))
        assert clearance(noticed, released=True) is not None

    def test_a_guarantee_releases_but_the_payment_clears(self):
        guarantee = GuaranteeSecured("e-g", Decimal("100"), "GUA-1")
        secured = build_state("c-1", [ACCEPTED, risk("green"), duty("100"), guarantee])
        assert isinstance(decide(secured), ReleaseDecision)
        assert clearance(secured, released=True) is None
        settled = apply(secured, paid("100"))
        assert clearance(settled, released=True) is not None

    def test_the_additional_duty_is_a_debt_too(self):
        control = non_compliant(ControlOutcome.RELEASE_AFTER_PAYMENT, "40")
        guarantee = GuaranteeSecured("e-g", Decimal("1000"), "GUA-1")
        state = build_state("c-1", [ACCEPTED, risk("red"), control, duty("100"), guarantee,
                                    paid("40")])
        assert isinstance(decide(state), ReleaseDecision)  # secured, additional paid
        assert clearance(state, released=True) is None
        cleared = clearance(apply(state, paid("100", "PAY-2")), released=True)
        assert cleared is not None and cleared.amount_due == Decimal("140")

    def test_the_latest_version_counts(self):
        amended = DeclarationAccepted("e-acc-2", ACCEPTED.mrn, "GBLHR001", "air", T0, 2)
        state = build_state("c-1", [ACCEPTED, risk("green"), duty("100"), paid("100"),
                                    amended, risk("green", 2), duty("130", 2)])
        assert clearance(state, released=True) is None
        cleared = clearance(apply(state, paid("30", "PAY-2")), released=True)
        assert cleared is not None and cleared.declaration_version == 2

    def test_never_after_an_invalidation(self):
        state = build_state("c-1", [ACCEPTED, risk("green"), duty("10"), paid("10"),
                                    DeclarationInvalidated("e-inv", after_release=True)])
        assert clearance(state, released=True) is None


def test_nothing_known_lists_every_reason():
    assert outcome() == Pending(
        "c-1",
        (
            PendingReason.NOT_ACCEPTED,
            PendingReason.RISK_NOT_DECIDED,
            PendingReason.DUTY_NOT_ASSESSED,
        ),
    )


def test_not_accepted_is_not_released_even_when_everything_else_holds():
    assert outcome(risk("green"), duty("0")) == Pending("c-1", (PendingReason.NOT_ACCEPTED,))


@pytest.mark.parametrize("lane", ["yellow", "red"])
def test_a_control_lane_waits_for_the_control(lane):
    ordered = ControlOrdered("e-k", "k-1")
    for facts in [(ACCEPTED, risk(lane), duty("0")), (ACCEPTED, risk(lane), duty("0"), ordered)]:
        assert outcome(*facts) == Pending("c-1", (PendingReason.CONTROL_NOT_COMPLETED,))


@pytest.mark.parametrize("lane", ["yellow", "red"])
def test_a_compliant_control_closes_the_risk(lane):
    result = outcome(ACCEPTED, risk(lane), completed("compliant"), duty("10"), paid("10"))
    assert isinstance(result, ReleaseDecision)
    assert result.risk_basis is RiskBasis.CONTROL_COMPLIANT and result.lane is Lane(lane)


def test_a_non_compliant_control_holds_the_goods_even_when_paid():
    result = outcome(ACCEPTED, risk("red"), completed("non_compliant"), duty("10"), paid("10"))
    assert isinstance(result, Hold)
    assert [(r.kind, r.reference) for r in result.reasons] == [
        (HoldKind.CONTROL_NON_COMPLIANT, "k-1")
    ]


def non_compliant(outcome: ControlOutcome, additional: str = "0") -> ControlCompleted:
    return ControlCompleted("e-ctl", "k-1", ControlResult.NON_COMPLIANT, outcome=outcome,
                            additional_duty=Decimal(additional))


def test_a_non_compliant_control_with_outcome_release_closes_the_risk():
    result = outcome(ACCEPTED, risk("yellow"), non_compliant(ControlOutcome.RELEASE),
                     duty("10"), paid("10"))
    assert isinstance(result, ReleaseDecision)
    assert result.risk_basis is RiskBasis.CONTROL_RELEASE


def test_release_after_payment_waits_for_the_additional_duty():
    control = non_compliant(ControlOutcome.RELEASE_AFTER_PAYMENT, "40")
    base = (ACCEPTED, risk("red"), control, duty("100"))
    assert outcome(*base, paid("100")) == Pending("c-1", (PendingReason.DEBT_NOT_SETTLED,))
    assert outcome(*base, paid("100"), paid("39.99", "PAY-2")) == Pending(
        "c-1", (PendingReason.DEBT_NOT_SETTLED,))
    result = outcome(*base, paid("100"), paid("40", "PAY-2"))
    assert isinstance(result, ReleaseDecision)
    assert result.risk_basis is RiskBasis.CONTROL_RELEASE_AFTER_PAYMENT
    assert result.debt_basis is DebtBasis.PAID and result.additional_duty == Decimal("40")
    # Nothing was assessed: the additional duty alone is the debt.
    nothing_due = (ACCEPTED, risk("red"), control, duty("0"))
    assert isinstance(outcome(*nothing_due), Pending)
    assert isinstance(outcome(*nothing_due, paid("40")), ReleaseDecision)


def test_a_guarantee_secures_the_assessed_duty_not_the_additional_one():
    control = non_compliant(ControlOutcome.RELEASE_AFTER_PAYMENT, "40")
    guarantee = GuaranteeSecured("e-g", Decimal("1000"), "GUA-1")
    base = (ACCEPTED, risk("red"), control, duty("100"), guarantee)
    assert isinstance(outcome(*base), Pending)
    result = outcome(*base, paid("40"))
    assert isinstance(result, ReleaseDecision) and result.debt_basis is DebtBasis.SECURED


class TestRefusedRelease:
    refusing = build_state("c-1", [ACCEPTED, risk("red"), duty("10"), paid("10"),
                                   non_compliant(ControlOutcome.REFUSE_RELEASE)])

    def test_refusal_wins_over_everything_else(self):
        assert decide(self.refusing) == Refused("c-1", "e-ctl")
        with pytest.raises(NotReleasable):
            release(self.refusing, fact_id="e-rel", released_at=T0)

    def test_guard_record_apply_once(self):
        fact = refuse(self.refusing, fact_id="e-ref", refused_at=T0)
        assert fact == ReleaseRefused("e-ref", "e-ctl", T0)
        state = apply(self.refusing, fact)
        assert decide(state) == Refused("c-1", "e-ctl", T0)
        with pytest.raises(NotRefusable):
            refuse(state, fact_id="e-ref-2", refused_at=T0)
        state = apply(state, HoldLifted("e-l", "h-1"))  # whatever arrives after
        assert isinstance(decide(state), Refused)

    def test_nothing_to_refuse_without_a_refusing_control(self):
        ready = build_state("c-1", [ACCEPTED, risk("green"), duty("0")])
        with pytest.raises(NotRefusable):
            refuse(ready, fact_id="e-ref", refused_at=T0)
        with pytest.raises(ValueError):
            refuse(self.refusing, fact_id="e-ref", refused_at=datetime(2026, 3, 2, 9))


def test_an_invalidated_declaration_is_never_released():
    facts = (ACCEPTED, risk("green"), duty("10"), paid("10"), DeclarationInvalidated("e-inv"))
    assert outcome(*facts) == Invalidated("c-1", "e-inv")
    with pytest.raises(NotReleasable):
        release(build_state("c-1", facts), fact_id="e-rel", released_at=T0)
    # invalidated after release (granted): the goods were released, and stay so
    after = (*facts[:-1], GoodsReleased("e-rel", T0),
             DeclarationInvalidated("e-inv", after_release=True))
    assert isinstance(outcome(*after), Released)


def test_an_agency_hold_holds_and_its_lift_releases():
    placed = HoldPlaced("e-h", "h-1", "APHA", "plant health inspection")
    lifted = HoldLifted("e-l", "h-1")
    base = (ACCEPTED, risk("green"), duty("0"))
    held = outcome(*base, placed)
    assert isinstance(held, Hold)
    assert held.reasons[0].kind is HoldKind.AGENCY_HOLD and held.reasons[0].agency == "APHA"
    assert isinstance(outcome(*base, placed, lifted), ReleaseDecision)
    assert isinstance(outcome(*base, lifted, placed), ReleaseDecision)  # lift seen first


def test_an_agency_refusal_refuses_the_release_for_good():
    placed = HoldPlaced("e-h", "GBFSA", "GBFSA")
    refused = HoldRefused("e-r", "GBFSA", "GBFSA", "no health certificate")
    base = (ACCEPTED, risk("green"), duty("100.00"), paid("100.00"))
    assert outcome(*base, placed, refused) == Refused("c-1", "e-r", agency="GBFSA",
                                                      note="no health certificate")
    # Another agency's approval, or one arriving after, changes nothing: a refusal is final.
    other = (HoldPlaced("e-h2", "GBPHA", "GBPHA"), HoldLifted("e-l2", "GBPHA"))
    assert isinstance(outcome(*base, refused, *other, placed), Refused)
    state = build_state("c-1", [*base, placed, refused])
    fact = refuse(state, fact_id="e-rr", refused_at=T0)
    assert fact == ReleaseRefused("e-rr", "e-r", T0)


def test_every_hold_must_be_decided():
    base = (ACCEPTED, risk("green"), duty("0"))
    two = (HoldPlaced("e-h1", "GBFSA", "GBFSA"), HoldPlaced("e-h2", "GBPHA", "GBPHA"))
    one_lifted = outcome(*base, *two, HoldLifted("e-l1", "GBFSA"))
    assert isinstance(one_lifted, Hold)
    assert [r.agency for r in one_lifted.reasons] == ["GBPHA"]
    assert isinstance(outcome(*base, *two, HoldLifted("e-l1", "GBFSA"),
                              HoldLifted("e-l2", "GBPHA")), ReleaseDecision)


def test_a_hold_wins_over_pending_reasons():
    assert isinstance(outcome(HoldPlaced("e-h", "h-1", "FSA")), Hold)


def test_only_the_latest_declaration_version_counts():
    v1 = (ACCEPTED, risk("green", 1), duty("100", 1), paid("100"))
    assert isinstance(outcome(*v1), ReleaseDecision)
    # an amendment: risk and duty re-run on version 2
    assert outcome(*v1, risk("red", 2)) == Pending(
        "c-1", (PendingReason.CONTROL_NOT_COMPLETED, PendingReason.DUTY_NOT_ASSESSED)
    )
    v2 = (*v1, risk("red", 2), completed("compliant", "k-2", 2), duty("130", 2))
    assert outcome(*v2) == Pending("c-1", (PendingReason.DEBT_NOT_SETTLED,))
    settled = outcome(*v2, paid("30", "PAY-2"))
    assert isinstance(settled, ReleaseDecision) and settled.declaration_version == 2
    # a non-compliant control of version 1 no longer holds version 2
    assert isinstance(
        outcome(*v2, paid("30", "PAY-2"), completed("non_compliant")), ReleaseDecision
    )


class TestExactlyOneRelease:
    ready = build_state("c-1", [ACCEPTED, risk("green"), duty("0")])

    def test_guard_record_apply(self):
        fact = release(self.ready, fact_id="e-rel", released_at=T0)
        assert fact == GoodsReleased("e-rel", T0)
        assert isinstance(decide(self.ready), ReleaseDecision)  # recording changes nothing
        state = apply(self.ready, fact)
        assert decide(state) == Released("c-1", "e-rel", T0)

    def test_no_second_release(self):
        state = apply(self.ready, release(self.ready, fact_id="e-rel", released_at=T0))
        with pytest.raises(AlreadyReleased):
            release(state, fact_id="e-rel-2", released_at=T0)
        assert apply(state, GoodsReleased("e-rel", T0)) == state  # redelivery is a no-op

    def test_released_stays_released_whatever_arrives_after(self):
        state = apply(self.ready, release(self.ready, fact_id="e-rel", released_at=T0))
        state = apply(state, HoldPlaced("e-h", "h-1", "FSA"))
        assert isinstance(decide(state), Released)

    def test_two_recorded_releases_read_as_the_first(self):
        later = GoodsReleased("e-rel-b", datetime(2026, 3, 2, 10, tzinfo=UTC))
        first = GoodsReleased("e-rel-a", T0)
        for order in ([later, first], [first, later]):
            state = build_state("c-1", [ACCEPTED, *order])
            assert state.released == first

    def test_not_releasable_says_why(self):
        state = build_state("c-1", [ACCEPTED, risk("green"), duty("10")])
        with pytest.raises(NotReleasable) as raised:
            release(state, fact_id="e-rel", released_at=T0)
        assert raised.value.outcome == Pending("c-1", (PendingReason.DEBT_NOT_SETTLED,))

    def test_release_time_must_be_aware(self):
        with pytest.raises(ValueError):
            release(self.ready, fact_id="e-rel", released_at=datetime(2026, 3, 2, 9))


def test_the_same_fact_id_with_other_content_is_refused():
    state = build_state("c-1", [paid("10", fact_id="e-1")])
    with pytest.raises(ConflictingFact):
        apply(state, paid("20", fact_id="e-1"))

"""The CDS-style status derived from the release facts.

Strategy: one row per status, each a minimal set of facts that should show it, with the
CDS code beside the name.
"""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal

import pytest

from services.release.domain import (
    ControlCompleted,
    ControlOrdered,
    ControlOutcome,
    ControlResult,
    DeclarationAccepted,
    DeclarationInvalidated,
    DutyAssessed,
    GoodsReleased,
    HoldPlaced,
    Lane,
    PaymentReceived,
    ReleaseRefused,
    ReleaseStatus,
    RiskDecided,
    build_state,
    status_of,
)

T0 = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)
ACCEPTED = DeclarationAccepted("acc", "26GB00000000001AR5", "GBLHR001", "air", T0)
DUE = DutyAssessed("duty", Decimal("100"))
PAID = PaymentReceived("pay", Decimal("100"), "PAY-1")


@pytest.mark.parametrize(
    ("facts", "status", "code"),
    [
        ([], ReleaseStatus.RECEIVED, "02"),
        ([RiskDecided("r", Lane.GREEN), DUE, PAID], ReleaseStatus.RECEIVED, "02"),
        ([ACCEPTED], ReleaseStatus.ACCEPTED, "01"),
        ([ACCEPTED, RiskDecided("r", Lane.GREEN)], ReleaseStatus.ACCEPTED, "01"),
        ([ACCEPTED, RiskDecided("r", Lane.YELLOW), DUE], ReleaseStatus.DOCUMENTS_REQUIRED, "06"),
        (
            [ACCEPTED, RiskDecided("r", Lane.RED), ControlOrdered("o", "k"), DUE],
            ReleaseStatus.EXAMINATION_INTENDED,
            "05",
        ),
        ([ACCEPTED, RiskDecided("r", Lane.GREEN), DUE], ReleaseStatus.TAX_DUE, "13"),
        (
            [
                ACCEPTED,
                RiskDecided("r", Lane.RED),
                ControlCompleted("c", "k", ControlResult.COMPLIANT),
                DUE,
            ],
            ReleaseStatus.TAX_DUE,
            "13",
        ),
        (
            [
                ACCEPTED,
                RiskDecided("r", Lane.RED),
                ControlCompleted("c", "k", ControlResult.NON_COMPLIANT),
            ],
            ReleaseStatus.QUERY_RAISED,  # recorded before outcomes: customs' own hold
            "51",
        ),
        (
            [
                ACCEPTED,
                RiskDecided("r", Lane.RED),
                ControlCompleted("c", "k", ControlResult.NON_COMPLIANT,
                                 outcome=ControlOutcome.RELEASE_AFTER_PAYMENT,
                                 additional_duty=Decimal("40")),
                DUE,
                PAID,
            ],
            ReleaseStatus.TAX_DUE,  # the additional duty is not paid yet
            "13",
        ),
        (
            [
                ACCEPTED,
                RiskDecided("r", Lane.RED),
                ControlCompleted("c", "k", ControlResult.NON_COMPLIANT,
                                 outcome=ControlOutcome.REFUSE_RELEASE),
                DUE,
                PAID,
            ],
            ReleaseStatus.RELEASE_REFUSED,
            "18",
        ),
        (
            [
                ACCEPTED,
                RiskDecided("r", Lane.RED),
                ControlCompleted("c", "k", ControlResult.NON_COMPLIANT,
                                 outcome=ControlOutcome.REFUSE_RELEASE),
                ReleaseRefused("rr", "c", T0),
            ],
            ReleaseStatus.RELEASE_REFUSED,
            "18",
        ),
        ([ACCEPTED, HoldPlaced("h", "h-1", "FSA")], ReleaseStatus.HELD, "50"),
        (
            [ACCEPTED, RiskDecided("r", Lane.GREEN), DUE, PAID, DeclarationInvalidated("inv")],
            ReleaseStatus.INVALIDATED,
            "10",
        ),
        (
            [ACCEPTED, RiskDecided("r", Lane.GREEN), DUE, PAID, GoodsReleased("rel", T0),
             DeclarationInvalidated("inv", after_release=True)],
            ReleaseStatus.RELEASED,  # the goods were released: that stays a fact
            "08",
        ),
        ([ACCEPTED, RiskDecided("r", Lane.GREEN), DUE, PAID], ReleaseStatus.ACCEPTED, "01"),
        ([ACCEPTED, GoodsReleased("rel", T0)], ReleaseStatus.RELEASED, "08"),
    ],
)
def test_status(facts, status, code):
    assert status_of(build_state("c-1", facts)) is status
    assert status.code == code


def test_every_status_has_a_code():
    assert {s.code for s in ReleaseStatus} == {
        "02", "01", "06", "05", "13", "50", "51", "08", "18", "10"}

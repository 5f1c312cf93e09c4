"""The CDS-style status of a consignment as seen from the release service's facts.

A small vocabulary of its own (the declaration service owns the full one): each status has a
name and the CDS notification code beside it.
"""

from __future__ import annotations

from enum import Enum

from .decision import Hold, Pending, PendingReason, Released, decide
from .facts import Lane
from .state import ConsignmentState


class ReleaseStatus(Enum):
    RECEIVED = "received"
    ACCEPTED = "accepted"
    DOCUMENTS_REQUIRED = "documents_required"
    EXAMINATION_INTENDED = "examination_intended"
    TAX_DUE = "tax_due"
    HELD = "held"
    RELEASED = "released"

    @property
    def code(self) -> str:
        return _CODES[self]


_CODES = {
    ReleaseStatus.RECEIVED: "02",
    ReleaseStatus.ACCEPTED: "01",
    ReleaseStatus.DOCUMENTS_REQUIRED: "06",
    ReleaseStatus.EXAMINATION_INTENDED: "05",
    ReleaseStatus.TAX_DUE: "13",
    ReleaseStatus.HELD: "50",
    ReleaseStatus.RELEASED: "08",
}


def status_of(state: ConsignmentState) -> ReleaseStatus:
    """released 08 > held 50 > received 02 (not accepted yet) > documents required 06 /
    examination intended 05 (control not completed) > tax due 13 > accepted 01.

    "held" (50) covers agency holds and a non-compliant control alike.
    """
    outcome = decide(state)
    if isinstance(outcome, Released):
        return ReleaseStatus.RELEASED
    if isinstance(outcome, Hold):
        return ReleaseStatus.HELD
    reasons = outcome.reasons if isinstance(outcome, Pending) else ()
    if PendingReason.NOT_ACCEPTED in reasons:
        return ReleaseStatus.RECEIVED
    if PendingReason.CONTROL_NOT_COMPLETED in reasons:
        risk = state.risk
        if risk is not None and risk.lane is Lane.RED:
            return ReleaseStatus.EXAMINATION_INTENDED
        return ReleaseStatus.DOCUMENTS_REQUIRED
    if PendingReason.DEBT_NOT_SETTLED in reasons:
        return ReleaseStatus.TAX_DUE
    return ReleaseStatus.ACCEPTED

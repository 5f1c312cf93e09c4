"""The CDS-style status of a consignment as seen from the release service's facts.

A small vocabulary of its own (the declaration service owns the full one): each status has a
name and the CDS notification code beside it.
"""

from __future__ import annotations

from enum import Enum

from .decision import Hold, Invalidated, Pending, PendingReason, Refused, Released, decide
from .facts import Lane
from .state import ConsignmentState


class ReleaseStatus(Enum):
    RECEIVED = "received"
    ACCEPTED = "accepted"
    DOCUMENTS_REQUIRED = "documents_required"
    EXAMINATION_INTENDED = "examination_intended"
    TAX_DUE = "tax_due"
    HELD = "held"  # by a partner agency
    QUERY_RAISED = "query_raised"  # held by customs: a non-compliant control, no outcome
    RELEASED = "released"
    RELEASE_REFUSED = "release_refused"  # final
    INVALIDATED = "invalidated"  # final (before release)

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
    ReleaseStatus.QUERY_RAISED: "51",
    ReleaseStatus.RELEASED: "08",
    ReleaseStatus.RELEASE_REFUSED: "18",
    ReleaseStatus.INVALIDATED: "10",
}


def status_of(state: ConsignmentState) -> ReleaseStatus:
    """released 08 > release refused 18 > invalidated 10 > held by customs (query raised 51) > held by an
    agency 50 > received 02 (not accepted yet) > documents required 06 / examination
    intended 05 (control not completed) > tax due 13 (the assessed duty, plus the additional
    duty of a release after payment, not paid) > accepted 01.

    Customs' own hold is never shown as an agency hold (50).
    """
    outcome = decide(state)
    if isinstance(outcome, Released):
        return ReleaseStatus.RELEASED
    if isinstance(outcome, Refused):
        return ReleaseStatus.RELEASE_REFUSED
    if isinstance(outcome, Invalidated):
        return ReleaseStatus.INVALIDATED
    if isinstance(outcome, Hold):
        if any(reason.kind.by_customs for reason in outcome.reasons):
            return ReleaseStatus.QUERY_RAISED
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

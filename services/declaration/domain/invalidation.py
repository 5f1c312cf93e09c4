"""Invalidation of a declaration (UCC art. 174), pure: guard the declaration's lifecycle
(`lifecycle.fold`) and say what to record.

- Before release, the declarant's request invalidates at once (`Invalidate`), except while an
  examination the declarant was told of has not taken place (art. 174(2)).
- After release, it is a request (`RequestInvalidation`) an officer decides
  (`decide_request`): granted (the declaration is invalidated) or refused (it stands).
- Invalidation is final: nothing is released after it, and money paid on the declaration is
  repayable. A refused release is final too: there is nothing left to invalidate.

Each refusal names its ground (`lifecycle.NotAllowed.ground`), which the HTTP problem's
`type` carries: `invalidated`, `release-refused`, `examination-notified` (shared with
amendment), `invalidation-already-requested`, `no-invalidation-request`.
"""

from __future__ import annotations

from dataclasses import dataclass

from .lifecycle import ExaminationNotified, Lifecycle, NotAllowed, check_open


class InvalidationAlreadyRequested(NotAllowed):
    ground = "invalidation-already-requested"


class NoInvalidationRequest(NotAllowed):
    ground = "no-invalidation-request"


@dataclass(frozen=True)
class Invalidate:
    """Invalidate now (before release): record DeclarationInvalidated."""


@dataclass(frozen=True)
class RequestInvalidation:
    """After release: record InvalidationRequested, for an officer to decide."""


def request_invalidation(state: Lifecycle) -> Invalidate | RequestInvalidation:
    """The declarant asks for invalidation: what to record, or NotAllowed."""
    check_open(state)
    if state.pending_request is not None:
        raise InvalidationAlreadyRequested("an invalidation request is already waiting for "
                                           "an officer's decision")
    if state.released:
        return RequestInvalidation()
    if state.examination_pending:
        raise ExaminationNotified("an examination of the goods was notified: the declaration "
                                  "cannot be invalidated before it has taken place "
                                  "(UCC art. 174(2))")
    return Invalidate()


def decide_request(state: Lifecycle) -> str:
    """An officer decides the waiting request: its event id, or NotAllowed."""
    check_open(state)
    if state.pending_request is None:
        raise NoInvalidationRequest("no invalidation request is waiting for a decision")
    return state.pending_request

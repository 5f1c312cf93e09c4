"""Invalidation of a declaration (UCC art. 174), pure: fold the consignment's facts, guard,
and say what to record.

- Before release, the declarant's request invalidates at once (`Invalidate`), except while an
  examination the declarant was told of has not taken place (art. 174(2)).
- After release, it is a request (`RequestInvalidation`) an officer decides
  (`decide_request`): granted (the declaration is invalidated) or refused (it stands).
- Invalidation is final: nothing is released after it, and money paid on the declaration is
  repayable. A refused release is final too: there is nothing left to invalidate.

Each refusal names its ground (`InvalidationNotAllowed.ground`), which the HTTP problem's
`type` carries.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, replace
from typing import Any, ClassVar

from shared.events.declaration import (
    DeclarationAccepted,
    DeclarationInvalidated,
    InvalidationRefused,
    InvalidationRequested,
)
from shared.events.release import GoodsReleased, ReleaseRefused
from shared.events.risk import ControlCompleted, ControlOrdered


class InvalidationNotAllowed(Exception):
    """The law does not allow this invalidation step now; `ground` names why."""

    ground: ClassVar[str] = "invalidation-not-allowed"


class AlreadyInvalidated(InvalidationNotAllowed):
    ground = "already-invalidated"


class InvalidationAlreadyRequested(InvalidationNotAllowed):
    ground = "invalidation-already-requested"


class ExaminationNotified(InvalidationNotAllowed):
    ground = "examination-notified"


class ReleaseWasRefused(InvalidationNotAllowed):
    ground = "release-refused"


class NoInvalidationRequest(InvalidationNotAllowed):
    ground = "no-invalidation-request"


@dataclass(frozen=True)
class InvalidationState:
    """What invalidation depends on, folded from the consignment's facts in log order."""

    declaration_version: int = 1
    released: bool = False
    release_refused: bool = False
    examinations_ordered: int = 0
    controls_completed: int = 0
    invalidated: bool = False
    pending_request: str | None = None  # the event id of a request not yet decided

    @property
    def examination_pending(self) -> bool:
        """An examination was notified and has not taken place (its result not recorded)."""
        return self.examinations_ordered > 0 and self.controls_completed < (
            self.examinations_ordered)


def fold(facts: Iterable[tuple[str, Any]]) -> InvalidationState:
    """The state from (event id, typed payload) pairs of one consignment, in log order."""
    state = InvalidationState()
    for event_id, payload in facts:
        match payload:
            case DeclarationAccepted():
                state = replace(state, declaration_version=payload.declaration_version)
            case ControlOrdered() if payload.kind == "examination":
                state = replace(state, examinations_ordered=state.examinations_ordered + 1)
            case ControlCompleted():
                state = replace(state, controls_completed=state.controls_completed + 1)
            case GoodsReleased():
                state = replace(state, released=True)
            case ReleaseRefused():
                state = replace(state, release_refused=True)
            case InvalidationRequested():
                state = replace(state, pending_request=event_id)
            case DeclarationInvalidated():
                state = replace(state, invalidated=True, pending_request=None)
            case InvalidationRefused():
                state = replace(state, pending_request=None)
    return state


@dataclass(frozen=True)
class Invalidate:
    """Invalidate now (before release): record DeclarationInvalidated."""


@dataclass(frozen=True)
class RequestInvalidation:
    """After release: record InvalidationRequested, for an officer to decide."""


def request_invalidation(state: InvalidationState) -> Invalidate | RequestInvalidation:
    """The declarant asks for invalidation: what to record, or InvalidationNotAllowed."""
    _check_open(state)
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


def decide_request(state: InvalidationState) -> str:
    """An officer decides the waiting request: its event id, or InvalidationNotAllowed."""
    _check_open(state)
    if state.pending_request is None:
        raise NoInvalidationRequest("no invalidation request is waiting for a decision")
    return state.pending_request


def _check_open(state: InvalidationState) -> None:
    if state.invalidated:
        raise AlreadyInvalidated("the declaration is already invalidated")
    if state.release_refused:
        raise ReleaseWasRefused("release of the goods was refused: the declaration is final")

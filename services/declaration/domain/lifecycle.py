"""Where a declaration stands in its lifecycle, folded from its consignment's facts (pure).

Amendment (UCC art. 173) and invalidation (art. 174) are guarded by the same facts: was an
examination notified, were particulars found incorrect, were the goods released or their
release refused, is the declaration invalidated, an invalidation request or a post-release
amendment application waiting. `fold`
reads them from the typed events of one consignment in log order (event id, payload).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field, replace
from datetime import date
from typing import Any, ClassVar

from shared.events.declaration import (
    AmendmentDecided,
    AmendmentRequested,
    DeclarationAccepted,
    DeclarationInvalidated,
    InvalidationRefused,
    InvalidationRequested,
)
from shared.events.release import GoodsReleased, ReleaseRefused
from shared.events.risk import ControlCompleted, ControlOrdered


class NotAllowed(Exception):
    """UCC art. 173 or 174 does not allow the step now; `ground` names why (the HTTP
    problem's `type`). The grounds both articles share are defined here."""

    ground: ClassVar[str] = "not-allowed"


class ExaminationNotified(NotAllowed):
    ground = "examination-notified"


class ReleaseWasRefused(NotAllowed):
    ground = "release-refused"


class Invalidated(NotAllowed):
    ground = "invalidated"


def check_open(state: Lifecycle) -> None:
    """Invalidated or ReleaseWasRefused once the declaration is final."""
    if state.invalidated:
        raise Invalidated("the declaration is invalidated: nothing can follow")
    if state.release_refused:
        raise ReleaseWasRefused("release of the goods was refused: the declaration is final")


@dataclass(frozen=True)
class Lifecycle:
    """The facts of one declaration that amendment and invalidation depend on."""

    accepted: bool = False
    accepted_on: date | None = None  # the acceptance date (of the first version)
    mrn: str = ""
    declaration_version: int = 1
    document: Mapping[str, Any] = field(default_factory=dict)  # the current version's
    examinations_ordered: int = 0
    controls_completed: int = 0
    particulars_incorrect: bool = False  # a control found them so (non-compliant)
    released: bool = False
    release_refused: bool = False
    invalidated: bool = False
    pending_request: str | None = None  # the event id of an invalidation request not decided
    # the event id of a post-release amendment applied for and not decided
    pending_amendment: str | None = None

    @property
    def examination_notified(self) -> bool:
        """The declarant was told the goods will be examined (UCC art. 173(2)(a))."""
        return self.examinations_ordered > 0

    @property
    def examination_pending(self) -> bool:
        """An examination was notified and has not taken place (its result not recorded)."""
        return self.examinations_ordered > 0 and self.controls_completed < (
            self.examinations_ordered)


def fold(facts: Iterable[tuple[str, Any]]) -> Lifecycle:
    """The lifecycle from (event id, typed payload) pairs of one consignment, in log order."""
    state = Lifecycle()
    for event_id, payload in facts:
        match payload:
            case DeclarationAccepted():
                state = replace(state, accepted=True, mrn=payload.mrn,
                                accepted_on=state.accepted_on or payload.acceptance_date,
                                declaration_version=payload.declaration_version,
                                document=payload.document)
            case ControlOrdered() if payload.kind == "examination":
                state = replace(state, examinations_ordered=state.examinations_ordered + 1)
            case ControlCompleted():
                state = replace(state, controls_completed=state.controls_completed + 1,
                                particulars_incorrect=state.particulars_incorrect
                                or payload.result == "non_compliant")
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
            case AmendmentRequested():
                state = replace(state, pending_amendment=event_id)
            case AmendmentDecided():
                state = replace(state, pending_amendment=None)
    return state

"""Invalidation (UCC art. 174), pure: the fold of a consignment's facts, and each guard by its
named ground."""

from __future__ import annotations

from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Any

import pytest

from services.declaration.domain.invalidation import (
    Invalidate,
    InvalidationAlreadyRequested,
    NoInvalidationRequest,
    RequestInvalidation,
    decide_request,
    request_invalidation,
)
from services.declaration.domain.lifecycle import (
    ExaminationNotified,
    Invalidated,
    ReleaseWasRefused,
    fold,
)
from shared.events.declaration import (
    DeclarationAccepted,
    DeclarationInvalidated,
    InvalidationRefused,
    InvalidationRequested,
)
from shared.events.release import GoodsReleased, ReleaseRefused
from shared.events.risk import ControlCompleted, ControlOrdered

C, M = "c-1", "26GBA7K2M9Q4R8T1X5"
T0 = datetime(2026, 3, 2, 9, tzinfo=UTC)
ACCEPTED = ("e-acc", DeclarationAccepted(C, M, "L", "GB1", "GBDEM001", "air",
                                         date(2026, 3, 2), 1, {}))
EXAMINATION = ("e-ord", ControlOrdered(C, M, "examination", "red"))
DONE = ("e-ctl", ControlCompleted(C, M, "compliant", [], None, Decimal(0)))
RELEASED = ("e-rel", GoodsReleased(C, M, 1, "GBDEM001", "red", "air", T0, T0))
REQUESTED = ("e-req", InvalidationRequested(C, M, 1, "re-exported"))


def state(*facts: tuple[str, Any]) -> Any:
    return fold([ACCEPTED, *facts])


def test_before_release_it_is_invalidated_at_once() -> None:
    assert request_invalidation(state()) == Invalidate()
    assert request_invalidation(state(EXAMINATION, DONE)) == Invalidate()  # examined


def test_not_while_a_notified_examination_has_not_taken_place() -> None:
    with pytest.raises(ExaminationNotified) as raised:
        request_invalidation(state(EXAMINATION))
    assert raised.value.ground == "examination-notified"
    documentary = ("e-doc", ControlOrdered(C, M, "documentary", "yellow"))
    assert request_invalidation(state(documentary)) == Invalidate()


def test_after_release_it_is_a_request_an_officer_decides() -> None:
    assert request_invalidation(state(RELEASED)) == RequestInvalidation()
    waiting = state(RELEASED, REQUESTED)
    with pytest.raises(InvalidationAlreadyRequested):
        request_invalidation(waiting)
    assert decide_request(waiting) == "e-req"
    refused = state(RELEASED, REQUESTED, ("e-no", InvalidationRefused(C, M, "no proof", "e-req")))
    with pytest.raises(NoInvalidationRequest):
        decide_request(refused)
    assert request_invalidation(refused) == RequestInvalidation()  # may ask again


def test_nothing_after_invalidation_or_a_refused_release() -> None:
    invalidated = state(("e-inv", DeclarationInvalidated(C, M, 1, "withdrawn", False, None)))
    for guard in (request_invalidation, decide_request):
        with pytest.raises(Invalidated) as raised:
            guard(invalidated)
        assert raised.value.ground == "invalidated"
    refused = state(("e-ref", ReleaseRefused(C, M, 1, "GBDEM001", "control", "e-ctl", None, "", [], T0)))
    with pytest.raises(ReleaseWasRefused):
        request_invalidation(refused)
    with pytest.raises(NoInvalidationRequest):
        decide_request(state())


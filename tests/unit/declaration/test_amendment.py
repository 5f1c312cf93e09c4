"""Amendment (UCC art. 173), pure: each guard by its named ground, the post-release
amendment's application within its limit (art. 173(3)) and its decision, the fixed
particulars, and the difference recorded (which particulars changed, from what to what)."""

from __future__ import annotations

import copy
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from typing import Any

import pytest

from services.declaration.domain.amendment import (
    AlreadyReleased,
    AmendmentAlreadyRequested,
    AmendmentInvalid,
    Change,
    ExaminationNotified,
    Invalidated,
    NoAmendmentRequest,
    Now,
    OnApplication,
    ParticularsIncorrect,
    ReleaseWasRefused,
    check_amendment,
    decide_application,
    differences,
    guard,
)
from services.declaration.domain.lifecycle import fold
from shared.events.declaration import (
    AmendmentDecided,
    AmendmentRequested,
    DeclarationAccepted,
    DeclarationInvalidated,
)
from shared.events.release import GoodsReleased
from shared.events.release import ReleaseRefused as ReleaseRefusedEvent
from shared.events.risk import ControlCompleted, ControlOrdered

C, M = "c-1", "26GBA7K2M9Q4R8T1X5"
T0 = datetime(2026, 3, 2, 9, tzinfo=UTC)
DOCUMENT: dict[str, Any] = {
    "lrn": "L-1", "declarant": {"eori": "GB1", "name": "Acme"}, "office": "GBDEM001",
    "freight": "120.00",
    "items": [{"hs_code": "8517130000", "value": "1000.00", "documents": []}],
}


ACCEPTED_ON, LIMIT = date(2026, 3, 2), 1095
RELEASED = GoodsReleased(C, M, 1, "GBDEM001", "green", "air", T0, T0)


def lifecycle(*facts: Any) -> Any:
    accepted = DeclarationAccepted(C, M, "L-1", "GB1", "GBDEM001", "air", ACCEPTED_ON, 1,
                                   DOCUMENT)
    return fold([("e-acc", accepted), *((f"e-{n}", fact) for n, fact in enumerate(facts))])


def corrected(**changes: Any) -> dict[str, Any]:
    document = copy.deepcopy(DOCUMENT)
    document["items"][0].update(changes)
    return document


def test_an_accepted_declaration_is_amended_and_the_difference_named() -> None:
    changes = check_amendment(lifecycle(), corrected(value="1200.00"))
    assert changes == [Change("/items/0/value", "1000.00", "1200.00")]
    assert changes[0].to_dict() == {"pointer": "/items/0/value", "before": "1000.00",
                                    "after": "1200.00"}


def test_a_documentary_check_does_not_stop_an_amendment() -> None:
    documentary = ControlOrdered(C, M, "documentary", "yellow")
    assert check_amendment(lifecycle(documentary), corrected(value="900.00"))


@pytest.mark.parametrize(("facts", "refusal"), [
    ([ControlOrdered(C, M, "examination", "red")], ExaminationNotified),
    ([ControlOrdered(C, M, "examination", "red"),
      ControlCompleted(C, M, "compliant", [], None, Decimal(0))], ExaminationNotified),
    ([ControlOrdered(C, M, "documentary", "yellow"),
      ControlCompleted(C, M, "non_compliant", [{"category": "valuation", "text": "low"}],
                       "release", Decimal(0))], ParticularsIncorrect),
    ([ReleaseRefusedEvent(C, M, 1, "GBDEM001", "control", "e-ctl", None, "", [], T0)], ReleaseWasRefused),
    ([DeclarationInvalidated(C, M, 1, "withdrawn", False, None)], Invalidated),
    ([RELEASED, AmendmentRequested(C, M, 2, "credit note", [], DOCUMENT)],
     AmendmentAlreadyRequested),
])
def test_each_ground_of_art_173(facts: list[Any], refusal: type[Exception]) -> None:
    with pytest.raises(refusal) as raised:
        guard(lifecycle(*facts), today=ACCEPTED_ON, limit_days=LIMIT)
    assert raised.value.ground  # type: ignore[attr-defined]


def test_before_release_the_amendment_is_made_at_once() -> None:
    assert guard(lifecycle(), today=ACCEPTED_ON, limit_days=LIMIT) == Now()


def test_after_release_it_is_applied_for_within_the_limit_of_art_173_3() -> None:
    released = lifecycle(RELEASED)
    last_day = ACCEPTED_ON + timedelta(days=LIMIT)
    assert guard(released, today=last_day, limit_days=LIMIT) == OnApplication()
    with pytest.raises(AlreadyReleased) as raised:
        guard(released, today=last_day + timedelta(days=1), limit_days=LIMIT)
    assert raised.value.ground == "released" and last_day.isoformat() in str(raised.value)
    with pytest.raises(AlreadyReleased):  # 0 days: the post-release amendment is not offered
        guard(released, today=ACCEPTED_ON, limit_days=0)
    # what was found incorrect before release does not bar the application (art. 173(3))
    incorrect = ControlCompleted(C, M, "non_compliant", [{"category": "valuation",
                                                          "text": "low"}],
                                 "release_after_payment", Decimal("5"))
    assert guard(lifecycle(incorrect, RELEASED), today=ACCEPTED_ON,
                 limit_days=LIMIT) == OnApplication()


def test_an_officer_decides_the_application_once() -> None:
    with pytest.raises(NoAmendmentRequest):
        decide_application(lifecycle(RELEASED))
    asked = AmendmentRequested(C, M, 2, "credit note", [], DOCUMENT)
    state = lifecycle(RELEASED, asked)
    assert decide_application(state) == "e-1"  # the application's event id
    decided = lifecycle(RELEASED, asked, AmendmentDecided(C, M, "e-1", "refused", "no proof"))
    with pytest.raises(NoAmendmentRequest):
        decide_application(decided)
    assert guard(decided, today=ACCEPTED_ON, limit_days=LIMIT) == OnApplication()  # again


@pytest.mark.parametrize(("pointer", "document"), [
    ("/lrn", {**DOCUMENT, "lrn": "L-2"}),
    ("/office", {**DOCUMENT, "office": "GBLHR001"}),
    ("/declarant/eori", {**DOCUMENT, "declarant": {"eori": "GB2", "name": "Acme"}}),
])
def test_the_particulars_that_identify_the_declaration_are_fixed(pointer: str,
                                                                 document: Any) -> None:
    with pytest.raises(AmendmentInvalid) as raised:
        check_amendment(lifecycle(), document)
    assert [p for p, _ in raised.value.problems] == [pointer]


def test_an_amendment_that_changes_nothing_is_refused() -> None:
    with pytest.raises(AmendmentInvalid):
        check_amendment(lifecycle(), copy.deepcopy(DOCUMENT))


def test_differences_of_objects_and_arrays() -> None:
    before = {"a": 1, "b": {"c": [1, 2]}, "d/e": "x"}
    after = {"a": 1, "b": {"c": [1, 3, 4]}, "f": None, "d/e": "y"}
    assert differences(before, after) == [
        Change("/b/c/1", 2, 3), Change("/b/c/2", None, 4), Change("/d~1e", "x", "y")]
    assert differences(before, before) == []

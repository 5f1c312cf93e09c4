"""Amendment and invalidation guards (UCC articles 173 and 174, DOMAIN.md "Guards").

Strategy: one accepted, unreleased declaration as the baseline that both requests pass; each
test adds one fact and asserts the refusal's machine-readable `reason`; policy values (the
3-year post-release amendment limit, an e-commerce invalidation window) are checked at their
boundaries.
"""

from __future__ import annotations

import dataclasses
from datetime import date

import pytest

from services.declaration.domain.guards import (
    AmendmentRefused,
    GuardPolicy,
    GuardState,
    InvalidationRefused,
    add_years,
    check_amendment,
    check_invalidation,
    overlaps,
)
from services.declaration.domain.status import Status

ACCEPTED = GuardState(status=Status.ACCEPTED, accepted_on=date(2026, 3, 1))
TODAY = date(2026, 3, 2)
CHANGE = ["/items/0/value"]


def amend_reason(state: GuardState, **kwargs: object) -> str:
    arguments: dict[str, object] = {"changed": CHANGE, "on_date": TODAY, **kwargs}
    with pytest.raises(AmendmentRefused) as caught:
        check_amendment(state, **arguments)  # type: ignore[arg-type]
    return caught.value.reason


def invalidate_reason(state: GuardState, **kwargs: object) -> str:
    arguments: dict[str, object] = {"on_date": TODAY, **kwargs}
    with pytest.raises(InvalidationRefused) as caught:
        check_invalidation(state, **arguments)  # type: ignore[arg-type]
    return caught.value.reason


def test_an_accepted_declaration_may_be_amended_and_invalidated() -> None:
    check_amendment(ACCEPTED, changed=CHANGE, on_date=TODAY)
    check_invalidation(ACCEPTED, on_date=TODAY)


@pytest.mark.parametrize("status", [Status.REJECTED, Status.INVALIDATED])
def test_closed_declarations_are_refused(status: Status) -> None:
    state = dataclasses.replace(ACCEPTED, status=status)
    assert amend_reason(state) == "closed"
    assert invalidate_reason(state) == "closed"


def test_a_declaration_not_yet_accepted_is_refused() -> None:
    state = GuardState(status=Status.RECEIVED)
    assert amend_reason(state) == "not_accepted"
    assert invalidate_reason(state) == "not_accepted"


def test_a_notified_examination_not_completed_blocks_both() -> None:
    state = dataclasses.replace(ACCEPTED, examination_notified=True)
    assert amend_reason(state) == "examination_pending"
    assert invalidate_reason(state) == "examination_pending"


def test_the_examination_intended_status_counts_as_notified() -> None:
    state = dataclasses.replace(ACCEPTED, status=Status.EXAMINATION_INTENDED)
    assert amend_reason(state) == "examination_pending"
    assert invalidate_reason(state) == "examination_pending"


def test_a_completed_examination_no_longer_blocks() -> None:
    state = dataclasses.replace(
        ACCEPTED, status=Status.TAX_DUE, examination_notified=True, examination_completed=True
    )
    check_amendment(state, changed=CHANGE, on_date=TODAY)
    check_invalidation(state, on_date=TODAY)


def test_particulars_found_incorrect_cannot_be_amended() -> None:
    state = dataclasses.replace(ACCEPTED, incorrect_particulars=frozenset({"/items/0"}))
    assert amend_reason(state, changed=["/items/0/hs_code"]) == "particulars_incorrect"
    # other data may still be amended
    check_amendment(state, changed=["/items/1/value", "/transport/document"], on_date=TODAY)


def test_an_amendment_may_not_cover_other_goods() -> None:
    assert amend_reason(ACCEPTED, other_goods=True) == "other_goods"


def test_an_amendment_must_change_something() -> None:
    assert amend_reason(ACCEPTED, changed=[]) == "no_change"


def test_no_invalidation_after_release() -> None:
    released = dataclasses.replace(ACCEPTED, status=Status.RELEASED, released_on=date(2026, 3, 2))
    assert invalidate_reason(released) == "released"
    cleared = dataclasses.replace(released, status=Status.CLEARED)
    assert invalidate_reason(cleared) == "released"


def test_invalidation_after_release_within_a_configured_window() -> None:
    released = dataclasses.replace(ACCEPTED, status=Status.RELEASED, released_on=date(2026, 3, 2))
    ecommerce = GuardPolicy(invalidation_after_release_days=90)
    check_invalidation(released, on_date=date(2026, 5, 31), policy=ecommerce)  # day 90
    assert invalidate_reason(released, on_date=date(2026, 6, 1), policy=ecommerce) == "released"


def test_amendment_after_release_within_three_years_of_acceptance() -> None:
    released = dataclasses.replace(ACCEPTED, status=Status.RELEASED, released_on=date(2026, 3, 5))
    check_amendment(released, changed=CHANGE, on_date=date(2029, 3, 1))
    assert amend_reason(released, on_date=date(2029, 3, 2)) == "after_release_limit"


def test_amendment_after_release_can_be_forbidden() -> None:
    released = dataclasses.replace(ACCEPTED, status=Status.RELEASED, released_on=date(2026, 3, 5))
    policy = GuardPolicy(amendment_after_release_years=None)
    assert amend_reason(released, policy=policy) == "after_release_limit"


def test_refusals_explain_themselves() -> None:
    state = dataclasses.replace(ACCEPTED, examination_notified=True)
    with pytest.raises(AmendmentRefused, match="examination"):
        check_amendment(state, changed=CHANGE, on_date=TODAY)


def test_pointer_overlap() -> None:
    assert overlaps("/items/0", "/items/0/hs_code")
    assert overlaps("/items/0/hs_code", "/items/0")
    assert overlaps("", "/office")
    assert not overlaps("/items/1", "/items/10")
    assert not overlaps("/items/0/value", "/items/0/hs_code")


def test_add_years_handles_29_february() -> None:
    assert add_years(date(2024, 2, 29), 3) == date(2027, 2, 28)
    assert add_years(date(2026, 3, 1), 3) == date(2029, 3, 1)

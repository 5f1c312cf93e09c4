"""The status vocabulary (CDS-style codes) and the one transition table.

Strategy: the vocabulary is checked against DOMAIN.md's list; the table is checked row by
row for what must hold (the import path from lodgement to clearance is possible, terminal
statuses lead nowhere, no invalidation while an examination is intended or after release),
and exhaustively that `transition` agrees with the table for every pair.
"""

from __future__ import annotations

import itertools

import pytest

from services.declaration.domain.status import (
    TERMINAL,
    TRANSITIONS,
    Status,
    TransitionNotAllowed,
    allowed_targets,
    can_transition,
    transition,
)

DOMAIN_CODES = {
    "02": "received",
    "01": "accepted",
    "03": "rejected",
    "06": "documents_required",
    "05": "examination_intended",
    "07": "corrections_applied",
    "13": "tax_due",
    "14": "insufficient_balance",
    "50": "held_by_other_agency",
    "51": "query_raised",
    "08": "released",
    "09": "cleared",
    "10": "invalidated",
    "11": "amendment_answered",
    "17": "handled_manually",
}


def test_the_vocabulary_is_domain_md_with_names_and_codes() -> None:
    assert {s.code: s.label for s in Status} == DOMAIN_CODES
    assert Status.RELEASED.as_json() == {"name": "released", "code": "08"}
    assert Status.from_code("13") is Status.TAX_DUE
    assert Status.from_label("documents_required") is Status.DOCUMENTS_REQUIRED
    with pytest.raises(ValueError):
        Status.from_label("lost")
    with pytest.raises(ValueError):
        Status.from_code("99")


def test_every_status_has_a_row() -> None:
    assert set(TRANSITIONS) == set(Status)
    for targets in TRANSITIONS.values():
        assert targets <= set(Status)


@pytest.mark.parametrize(
    "path",
    [
        # green: accepted, duty, released, cleared
        ["RECEIVED", "ACCEPTED", "TAX_DUE", "RELEASED", "CLEARED"],
        # yellow: documentary check
        ["RECEIVED", "ACCEPTED", "DOCUMENTS_REQUIRED", "TAX_DUE", "RELEASED", "CLEARED"],
        # red, non-compliant, blocked for balance, then paid
        [
            "RECEIVED",
            "ACCEPTED",
            "EXAMINATION_INTENDED",
            "CORRECTIONS_APPLIED",
            "TAX_DUE",
            "INSUFFICIENT_BALANCE",
            "TAX_DUE",
            "RELEASED",
        ],
        # duty before the risk decision (facts in another order), agency hold
        [
            "RECEIVED",
            "ACCEPTED",
            "TAX_DUE",
            "EXAMINATION_INTENDED",
            "HELD_BY_OTHER_AGENCY",
            "RELEASED",
        ],
        # amendment, then invalidation
        ["RECEIVED", "ACCEPTED", "AMENDMENT_ANSWERED", "QUERY_RAISED", "INVALIDATED"],
        ["RECEIVED", "REJECTED"],
        ["RECEIVED", "HANDLED_MANUALLY", "ACCEPTED", "RELEASED", "AMENDMENT_ANSWERED", "CLEARED"],
    ],
)
def test_import_paths_are_allowed(path: list[str]) -> None:
    current = Status[path[0]]
    for name in path[1:]:
        current = transition(current, Status[name])
    assert current is Status[path[-1]]


def test_rejected_and_invalidated_are_terminal() -> None:
    assert TERMINAL == {Status.REJECTED, Status.INVALIDATED}
    for target in Status:
        with pytest.raises(TransitionNotAllowed):
            transition(Status.REJECTED, target)


def test_before_acceptance_only_acceptance_rejection_or_manual_handling() -> None:
    assert allowed_targets(Status.RECEIVED) == {
        Status.ACCEPTED,
        Status.REJECTED,
        Status.HANDLED_MANUALLY,
    }


def test_no_invalidation_or_amendment_while_an_examination_is_intended() -> None:
    assert not can_transition(Status.EXAMINATION_INTENDED, Status.INVALIDATED)
    assert not can_transition(Status.EXAMINATION_INTENDED, Status.AMENDMENT_ANSWERED)


def test_no_invalidation_after_release() -> None:
    assert not can_transition(Status.RELEASED, Status.INVALIDATED)
    assert not can_transition(Status.CLEARED, Status.INVALIDATED)
    assert allowed_targets(Status.RELEASED) == {Status.CLEARED, Status.AMENDMENT_ANSWERED}


def test_nothing_goes_back_to_received() -> None:
    assert all(Status.RECEIVED not in targets for targets in TRANSITIONS.values())


def test_release_only_after_acceptance() -> None:
    assert not can_transition(Status.RECEIVED, Status.RELEASED)


def test_transition_agrees_with_the_table_for_every_pair() -> None:
    for current, target in itertools.product(Status, Status):
        if target in TRANSITIONS[current]:
            assert transition(current, target) is target
        else:
            with pytest.raises(TransitionNotAllowed) as caught:
                transition(current, target)
            assert caught.value.current is current and caught.value.target is target


def test_the_error_names_both_statuses() -> None:
    with pytest.raises(TransitionNotAllowed, match=r"from released \(08\) to invalidated \(10\)"):
        transition(Status.RELEASED, Status.INVALIDATED)

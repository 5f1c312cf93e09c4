"""The status vocabulary (CDS-style codes) and the one transition table, which governs the
status view's fold.

Strategy: the vocabulary is checked against DOMAIN.md's list (less the codes nothing reaches
yet); the table is checked row by row for what must hold (the import path from lodgement to
clearance is possible, terminal statuses lead nowhere, no invalidation while an examination
is intended); the fold (`status_view.derive`) is checked to take a status only where the
table allows it, and every declared status is derived from some facts.
"""

from __future__ import annotations

from typing import Any

import pytest

from services.declaration.domain.status import TRANSITIONS, Status, can_transition
from services.declaration.domain.status_view import derive, previous_lane

DOMAIN_CODES = {
    "02": "received",
    "01": "accepted",
    "03": "rejected",
    "06": "documents_required",
    "05": "examination_intended",
    "07": "corrections_applied",
    "13": "tax_due",
    "14": "insufficient_balance",
    "50": "held_by_agency",
    "51": "query_raised",
    "08": "released",
    "09": "cleared",
    "10": "invalidated",
}
#: DOMAIN.md's codes not declared (issue 12: reachable, or removed): 11 (answer to an
#: amendment or invalidation request) and 17 (handled manually) have no use case here.
NOT_DECLARED = {"11", "17"}


#: Named by CONTRACT.md ("Declaration lifecycle": refusal is final, status
#: `release_refused`) with no CDS code; 18 is this service's, used by no other status.
CONTRACT_ONLY = {"18": "release_refused"}


def test_the_vocabulary_is_domain_md_with_names_and_codes() -> None:
    assert {s.code: s.label for s in Status} == DOMAIN_CODES | CONTRACT_ONLY
    assert not NOT_DECLARED & {s.code for s in Status}
    assert Status.RELEASED.as_json() == {"name": "released", "code": "08"}


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
        # red, amended while the examination is open, then paid
        [
            "RECEIVED",
            "ACCEPTED",
            "EXAMINATION_INTENDED",
            "CORRECTIONS_APPLIED",
            "TAX_DUE",
            "RELEASED",
            "CLEARED",
        ],
        # paid before release: released and cleared heard in one batch
        ["RECEIVED", "ACCEPTED", "TAX_DUE", "CLEARED"],
        # duty before the risk decision (facts in another order), agency hold
        [
            "RECEIVED",
            "ACCEPTED",
            "TAX_DUE",
            "EXAMINATION_INTENDED",
            "HELD_BY_AGENCY",
            "RELEASED",
        ],
        # amendment, then invalidation
        ["RECEIVED", "ACCEPTED", "CORRECTIONS_APPLIED", "QUERY_RAISED", "INVALIDATED"],
        ["RECEIVED", "REJECTED"],
        # invalidation granted after clearance
        ["RECEIVED", "ACCEPTED", "RELEASED", "CLEARED", "INVALIDATED"],
    ],
)
def test_import_paths_are_allowed(path: list[str]) -> None:
    for current, target in zip(path, path[1:], strict=False):
        assert can_transition(Status[current], Status[target]), (current, target)


def test_rejected_invalidated_and_refused_release_are_terminal() -> None:
    assert {s for s, targets in TRANSITIONS.items() if not targets} == {
        Status.REJECTED, Status.INVALIDATED, Status.RELEASE_REFUSED}


def test_before_acceptance_only_acceptance_or_rejection() -> None:
    assert TRANSITIONS[Status.RECEIVED] == {Status.ACCEPTED, Status.REJECTED}


def test_no_invalidation_while_an_examination_is_intended() -> None:
    assert not can_transition(Status.EXAMINATION_INTENDED, Status.INVALIDATED)


def test_after_release_only_clearance_a_new_version_or_a_granted_invalidation() -> None:
    # After release, invalidation is on request, granted by an officer (UCC art. 174; the
    # guard is domain/invalidation.py): the table lets the granted one through.
    assert TRANSITIONS[Status.RELEASED] == {Status.CLEARED, Status.INVALIDATED}
    # a post-release amendment's version is released until its debt is paid
    assert TRANSITIONS[Status.CLEARED] == {Status.RELEASED, Status.INVALIDATED}
    assert not can_transition(Status.INVALIDATED, Status.RELEASED)


def test_nothing_goes_back_to_received() -> None:
    assert all(Status.RECEIVED not in targets for targets in TRANSITIONS.values())


def test_release_only_after_acceptance() -> None:
    assert not can_transition(Status.RECEIVED, Status.RELEASED)


# -- the table governs the status view's fold -------------------------------------------------
def fact(position: int, kind: str, /, **data: Any) -> tuple[str, dict[str, Any]]:
    return f"e{position}", {"type": kind, "position": position,
                            "at": f"2026-03-02T10:00:{position:02d}.000000+00:00", "data": data}


ACCEPTED = [fact(1, "DeclarationReceived", lrn="L", declarant_eori="GB1"),
            fact(2, "DeclarationAccepted", mrn="M", lrn="L", declarant_eori="GB1",
                 office="GBLHR001", transport_mode="air", declaration_version=1)]


def test_the_fold_follows_the_import_path() -> None:
    facts = dict([*ACCEPTED, fact(3, "RiskAssessed", lane="green"),
                  fact(4, "DutyAssessed", amount_due="10.00", currency="GBP")])
    assert derive(facts).status is Status.TAX_DUE
    facts.update([fact(5, "PaymentReceived", amount="10.00", reference="P1")])
    assert derive(facts).status is Status.ACCEPTED
    facts.update([fact(6, "GoodsReleased", released_at="2026-03-02T10:01:00+00:00")])
    assert derive(facts).status is Status.RELEASED


def test_a_status_the_table_forbids_is_not_taken() -> None:
    """A rejection recorded after acceptance calls for `rejected`, but the table allows a
    rejection only from `received`: the status stays `accepted`."""
    facts = dict([*ACCEPTED, fact(3, "DeclarationRejected")])
    assert derive(facts).status is Status.ACCEPTED
    facts = dict([ACCEPTED[0], fact(3, "DeclarationRejected")])
    assert derive(facts).status is Status.REJECTED


def test_nothing_moves_a_released_declaration_back() -> None:
    facts = dict([*ACCEPTED, fact(3, "RiskAssessed", lane="green"),
                  fact(4, "GoodsReleased", released_at="2026-03-02T10:01:00+00:00"),
                  fact(5, "GoodsHeld", reason="late hold")])
    assert derive(facts).status is Status.RELEASED


def test_invalidation_is_final_before_and_after_release() -> None:
    paid = [*ACCEPTED, fact(3, "RiskAssessed", lane="green"),
            fact(4, "DutyAssessed", amount_due="10.00", currency="GBP"),
            fact(5, "PaymentReceived", amount="10.00", reference="P1")]
    before = dict([*paid, fact(6, "DeclarationInvalidated", after_release=False)])
    assert derive(before).status is Status.INVALIDATED
    # a release heard after it does not move it (the release service records none)
    before.update([fact(7, "GoodsReleased", released_at="2026-03-02T10:01:00+00:00")])
    assert derive(before).status is Status.INVALIDATED
    after = dict([*paid, fact(6, "GoodsReleased", released_at="2026-03-02T10:01:00+00:00")])
    assert derive(after).status is Status.RELEASED
    after.update([fact(7, "DeclarationInvalidated", after_release=True)])
    assert derive(after).status is Status.INVALIDATED


def test_a_refused_release_and_customs_own_hold() -> None:
    red = [*ACCEPTED, fact(3, "RiskAssessed", lane="red"),
           fact(4, "ControlOrdered", kind="examination"),
           fact(5, "DutyAssessed", amount_due="10.00", currency="GBP")]
    assert derive(dict(red)).status is Status.EXAMINATION_INTENDED
    refused = dict([*red, fact(6, "ControlCompleted", result="non_compliant",
                                outcome="refuse_release", additional_duty="0")])
    assert derive(refused).status is Status.RELEASE_REFUSED
    old_hold = dict([*red, fact(6, "ControlCompleted", result="non_compliant", outcome=None,
                                 additional_duty="0")])
    assert derive(old_hold).status is Status.QUERY_RAISED  # never the agency's code 50
    pay_more = dict([*red, fact(6, "ControlCompleted", result="non_compliant",
                                 outcome="release_after_payment", additional_duty="4.50"),
                     fact(7, "PaymentReceived", amount="10.00", reference="P1")])
    view = derive(pay_more)
    assert view.status is Status.TAX_DUE and view.amount_due == "14.50"


def test_an_amendment_is_assessed_again_and_earlier_assessments_no_longer_count() -> None:
    v1 = [*ACCEPTED, fact(3, "RiskAssessed", lane="yellow", declaration_version=1),
          fact(4, "ControlOrdered", kind="documentary", declaration_version=1),
          fact(5, "DutyAssessed", amount_due="100.00", currency="GBP", declaration_version=1)]
    assert derive(dict(v1)).status is Status.DOCUMENTS_REQUIRED
    amended = dict([*v1, fact(6, "DeclarationAccepted", mrn="M", lrn="L", declarant_eori="GB1",
                                office="GBLHR001", transport_mode="air",
                                declaration_version=2)])
    view = derive(amended)
    assert view.status is Status.CORRECTIONS_APPLIED and view.version == 2
    assert view.amount_due is None and view.lane is None  # being assessed again
    assert previous_lane(dict(v1)) is None and previous_lane(amended) == "yellow"
    # a late decision about version 1 changes nothing
    amended.update([fact(7, "DutyAssessed", amount_due="100.00", currency="GBP",
                         declaration_version=1)])
    assert derive(amended).status is Status.CORRECTIONS_APPLIED
    amended.update([fact(8, "RiskAssessed", lane="green", declaration_version=2),
                    fact(9, "DutyAssessed", amount_due="80.00", currency="GBP",
                         declaration_version=2)])
    view = derive(amended)
    assert view.status is Status.TAX_DUE and view.amount_due == "80.00"
    assert view.lane == "green"  # the documentary check of version 1 is not asked for
    assert previous_lane(amended) == "yellow"  # what the officer sees of the version before
    amended.update([fact(10, "PaymentReceived", amount="80.00", reference="P1")])
    assert derive(amended).status is Status.ACCEPTED


def test_cleared_follows_release_once_every_debt_is_paid() -> None:
    paid = [*ACCEPTED, fact(3, "RiskAssessed", lane="green"),
            fact(4, "DutyAssessed", amount_due="10.00", currency="GBP"),
            fact(5, "PaymentReceived", amount="10.00", reference="P1"),
            fact(6, "GoodsReleased", released_at="2026-03-02T10:01:00+00:00")]
    assert derive(dict(paid)).status is Status.RELEASED
    cleared = dict([*paid, fact(7, "DeclarationCleared",
                                cleared_at="2026-03-02T10:01:00+00:00")])
    assert derive(cleared).status is Status.CLEARED
    # heard before the release it goes with: cleared all the same
    early = dict([*paid[:5], fact(7, "DeclarationCleared",
                                  cleared_at="2026-03-02T10:01:00+00:00")])
    assert derive(early).status is Status.CLEARED
    # an invalidation granted after clearance is final
    cleared.update([fact(8, "DeclarationInvalidated", after_release=True)])
    assert derive(cleared).status is Status.INVALIDATED


GREEN_PAID = [*ACCEPTED, fact(3, "RiskAssessed", lane="green", declaration_version=1),
              fact(4, "DutyAssessed", amount_due="10.00", currency="GBP",
                   declaration_version=1)]
RED = [*ACCEPTED, fact(3, "RiskAssessed", lane="red", declaration_version=1),
       fact(4, "ControlOrdered", kind="examination", declaration_version=1)]
#: Facts that derive each declared status: every status the service declares is reachable.
REACHED_BY: dict[Status, list[tuple[str, dict[str, Any]]]] = {
    Status.RECEIVED: ACCEPTED[:1],
    Status.ACCEPTED: ACCEPTED,
    Status.REJECTED: [ACCEPTED[0], fact(2, "DeclarationRejected")],
    Status.DOCUMENTS_REQUIRED: [*ACCEPTED, fact(3, "RiskAssessed", lane="yellow"),
                                fact(4, "ControlOrdered", kind="documentary")],
    Status.EXAMINATION_INTENDED: RED,
    Status.CORRECTIONS_APPLIED: [*GREEN_PAID, fact(5, "DeclarationAccepted", mrn="M", lrn="L",
                                                   declarant_eori="GB1", office="GBLHR001",
                                                   transport_mode="air",
                                                   declaration_version=2)],
    Status.TAX_DUE: GREEN_PAID,
    Status.INSUFFICIENT_BALANCE: [*GREEN_PAID, fact(5, "ChargeRefused",
                                                    reason="insufficient_balance",
                                                    declaration_version=1)],
    Status.HELD_BY_AGENCY: [*ACCEPTED, fact(3, "GoodsHeld", reason="agency_hold by FSA")],
    Status.QUERY_RAISED: [*RED, fact(5, "ControlCompleted", result="non_compliant",
                                     outcome=None, additional_duty="0")],
    Status.RELEASED: [*GREEN_PAID, fact(5, "PaymentReceived", amount="10.00", reference="P"),
                      fact(6, "GoodsReleased", released_at="2026-03-02T10:01:00+00:00")],
    Status.CLEARED: [*GREEN_PAID, fact(5, "PaymentReceived", amount="10.00", reference="P"),
                     fact(6, "GoodsReleased", released_at="2026-03-02T10:01:00+00:00"),
                     fact(7, "DeclarationCleared", cleared_at="2026-03-02T10:01:00+00:00")],
    Status.INVALIDATED: [*GREEN_PAID, fact(5, "DeclarationInvalidated", after_release=False)],
    Status.RELEASE_REFUSED: [*RED, fact(5, "ControlCompleted", result="non_compliant",
                                        outcome="refuse_release", additional_duty="0")],
}


@pytest.mark.parametrize("status", list(Status), ids=lambda s: s.label)
def test_every_declared_status_is_reachable(status: Status) -> None:
    assert status in REACHED_BY, f"{status.label} ({status.code}): no facts reach it"
    assert derive(dict(REACHED_BY[status])).status is status


def test_a_debt_on_an_account_is_not_due_and_one_short_of_balance_waits() -> None:
    charged = dict([*GREEN_PAID, fact(5, "DebtCharged", amount="10.00",
                                      declaration_version=1)])
    assert derive(charged).status is Status.ACCEPTED  # settled for customs: not tax due
    short = [*GREEN_PAID, fact(5, "ChargeRefused", reason="insufficient_balance",
                               declaration_version=1)]
    assert derive(dict(short)).status is Status.INSUFFICIENT_BALANCE
    # charged once the limit allows it, or paid another way
    assert derive(dict([*short, fact(6, "DebtCharged", amount="10.00",
                                     declaration_version=1)])).status is Status.ACCEPTED
    assert derive(dict([*short, fact(6, "PaymentReceived", amount="10.00",
                                     reference="P")])).status is Status.ACCEPTED
    # another refusal (not the declarant's account...): pay another way, tax due
    other = dict([*GREEN_PAID, fact(5, "ChargeRefused", reason="not_holder",
                                    declaration_version=1)])
    assert derive(other).status is Status.TAX_DUE
    # a guarantee secures the assessed duty: not due now (released, cleared once paid)
    secured = dict([*GREEN_PAID, fact(5, "DebtSecured", amount="10.00",
                                      declaration_version=1)])
    assert derive(secured).status is Status.ACCEPTED


def test_an_amendment_after_clearance_is_released_until_its_debt_is_paid() -> None:
    cleared = [*GREEN_PAID, fact(5, "PaymentReceived", amount="10.00", reference="P"),
               fact(6, "GoodsReleased", released_at="2026-03-02T10:01:00+00:00"),
               fact(7, "DeclarationCleared", cleared_at="2026-03-02T10:01:00+00:00",
                    declaration_version=1)]
    facts = dict([*cleared, fact(8, "DeclarationAccepted", mrn="M", lrn="L",
                                 declarant_eori="GB1", office="GBLHR001",
                                 transport_mode="air", declaration_version=2)])
    view = derive(facts)
    assert view.status is Status.RELEASED and view.version == 2 and view.amount_due is None
    facts.update([fact(9, "RiskAssessed", lane="green", declaration_version=2),
                  fact(10, "DutyAssessed", amount_due="14.00", currency="GBP",
                       declaration_version=2)])
    view = derive(facts)
    assert view.status is Status.RELEASED and view.amount_due == "14.00"
    assert view.amount_paid == "10.00"
    facts.update([fact(11, "PaymentReceived", amount="4.00", reference="P2"),
                  fact(12, "DeclarationCleared", cleared_at="2026-03-02T10:05:00+00:00",
                       declaration_version=2)])
    assert derive(facts).status is Status.CLEARED


def test_an_agency_hold_stands_until_every_agency_decided() -> None:
    """Partner agencies (issue 14): held_by_agency (50) while any hold is open, whatever is
    paid; once every agency approved, the status the other facts call for; a refusal by an
    agency is the refused release the release service records with it."""
    facts = dict([*GREEN_PAID, fact(5, "AgencyHoldPlaced", agency="GBFSA"),
                  fact(6, "AgencyHoldPlaced", agency="GBPHA"),
                  fact(7, "PaymentReceived", amount="10.00", reference="P")])
    assert derive(facts).status is Status.HELD_BY_AGENCY
    assert derive(facts).status.as_json() == {"name": "held_by_agency", "code": "50"}
    facts.update([fact(8, "AgencyHoldDecided", agency="GBFSA", decision="approved")])
    assert derive(facts).status is Status.HELD_BY_AGENCY  # GBPHA has not decided
    approved = {**facts, **dict([fact(9, "AgencyHoldDecided", agency="GBPHA",
                                      decision="approved")])}
    assert derive(approved).status is Status.ACCEPTED  # paid: waiting for the release
    refused = {**facts, **dict([fact(9, "AgencyHoldDecided", agency="GBPHA",
                                     decision="refused"),
                                fact(10, "ReleaseRefused", refused_at="2026-03-02T10:02:00+00:00")])}
    assert derive(refused).status is Status.RELEASE_REFUSED

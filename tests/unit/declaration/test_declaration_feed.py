"""The trader's pull feed, folded from a consignment's facts (`domain.feed`): each status
change at the position of the fact that made it, the same whatever order the facts are
given in, and the same statuses `derive` ends at."""

from __future__ import annotations

import random
from typing import Any

from services.declaration.domain.feed import status_changes
from services.declaration.domain.status_view import derive

MRN = "26GBK2M9Q4R8T1X5R5"


def fact(kind: str, position: int, **data: Any) -> tuple[str, dict[str, Any]]:
    return f"e{position}", {"type": kind, "position": position,
                            "at": f"2026-07-01T10:00:{position:02d}+00:00", "data": data}


def journey() -> dict[str, dict[str, Any]]:
    return dict([
        fact("DeclarationReceived", 3, lrn="L-1", declarant_eori="GB1"),
        fact("DeclarationAccepted", 4, mrn=MRN, lrn="L-1", declarant_eori="GB1",
             office="GBLHR001", transport_mode="air", declaration_version=1),
        fact("RiskAssessed", 9, lane="green"),
        fact("DutyAssessed", 11, amount_due="120.00", currency="GBP"),
        fact("PaymentReceived", 20, amount="100.00", reference="P-1"),  # still short
        fact("PaymentReceived", 25, amount="20.00", reference="P-2"),
        fact("GoodsReleased", 30, released_at="2026-07-01T10:00:30+00:00"),
    ])


def test_each_change_is_reported_at_the_fact_that_made_it() -> None:
    changes = status_changes(journey())
    assert [(c.position, c.status.label) for c in changes] == [
        (3, "received"), (4, "accepted"), (11, "tax_due"), (25, "accepted"), (30, "released")]
    assert changes[0].mrn is None and changes[0].lrn == "L-1"  # not accepted yet
    assert all(c.mrn == MRN and c.declaration_version == 1 for c in changes[1:])
    assert changes[-1].as_json() == {
        "position": 30, "mrn": MRN, "lrn": "L-1", "declaration_version": 1,
        "status": {"name": "released", "code": "08"}, "at": "2026-07-01T10:00:30+00:00"}


def test_the_order_facts_are_given_in_changes_nothing_and_the_last_is_derives() -> None:
    facts = journey()
    expected = status_changes(facts)
    items = list(facts.items())
    for seed in range(20):
        random.Random(seed).shuffle(items)
        assert status_changes(dict(items)) == expected
    assert expected[-1].status is derive(facts).status


def test_no_facts_no_changes() -> None:
    assert status_changes({}) == []

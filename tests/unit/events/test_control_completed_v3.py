"""ControlCompleted version 3: findings as a list of {category, text}, the outcome of a
non-compliant result and its additional duty. Version 2 (findings as one string, revenue
recovered, no outcome) reads as version 3 with outcome None: customs' own hold. The golden
fixtures of every version are loaded and checked by test_golden.py; here: what the upcaster
does, and that a stored version 2 is never rewritten."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path

import pytest

from shared.events import InvalidEventData
from shared.events.catalog import registry
from shared.events.envelope import RecordedEvent
from shared.events.risk import ControlCompleted, control_completed_v2_to_v3, findings_of

FIXTURES = Path(__file__).parents[3] / "shared" / "events" / "fixtures"


def fixture(version: int) -> dict:
    return json.loads((FIXTURES / f"ControlCompleted.v{version}.json").read_text())["data"]


def test_the_current_version_is_3_and_the_older_ones_are_still_known() -> None:
    assert registry().current_version("ControlCompleted") == 3
    assert registry().versions("ControlCompleted") == [1, 2, 3]


def test_a_version_2_result_upcasts_to_its_findings_and_no_outcome() -> None:
    data = fixture(2)
    payload = registry().load("ControlCompleted", 2, data)
    assert isinstance(payload, ControlCompleted)
    assert payload.findings == [{"category": "valuation", "text": "invoice understated"}]
    assert payload.outcome is None and payload.additional_duty == Decimal("412.50")
    assert "revenue_recovered" not in control_completed_v2_to_v3(data)
    assert data == fixture(2)  # the upcaster does not touch what it was given


@pytest.mark.parametrize(("result", "text", "findings"), [
    ("compliant", "", []),
    ("compliant", "invoice checked", [{"category": "no_discrepancy", "text": "invoice checked"}]),
    ("non_compliant", "origin: no certificate", [{"category": "origin",
                                                  "text": "no certificate"}]),
    ("non_compliant", "undervalued", [{"category": "documents", "text": "undervalued"}]),
    ("non_compliant", "no_discrepancy: odd", [{"category": "documents",
                                               "text": "no_discrepancy: odd"}]),
])
def test_version_2_findings_text_as_a_list(result: str, text: str, findings: list) -> None:
    assert findings_of(result, text) == findings


def test_a_stored_version_2_event_decodes_upcast_and_keeps_its_stored_data() -> None:
    now = datetime.now(UTC)
    event = RecordedEvent(position=1, event_id="e1", type="ControlCompleted", version=2,
                          stream="risk-x", stream_version=2, correlation_id="x",
                          causation_id=None, actor="officer", occurred_at=now,
                          recorded_at=now, data=fixture(2), hash="h")
    payload = registry().decode(event)
    assert payload.outcome is None and event.data == fixture(2)


def test_version_3_round_trips_and_refuses_what_it_does_not_know() -> None:
    data = fixture(3)
    payload = registry().load("ControlCompleted", 3, data)
    assert payload.outcome == "release_after_payment"
    assert registry().encode(payload) == data
    for wrong in ({"outcome": "destroy"}, {"additional_duty": "-1"},
                  {"findings": [{"category": "hearsay", "text": "x"}]},
                  {"findings": "valuation: invoice understated"}):
        with pytest.raises(InvalidEventData):
            registry().validate("ControlCompleted", 3, {**data, **wrong})

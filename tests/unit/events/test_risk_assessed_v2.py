"""RiskAssessed version 2 records the draw key's id; version 1 decisions read as drawn with the
public salt (key id None). The golden fixtures of both versions are loaded and checked by
test_golden.py; here: what the upcaster does, and that a stored version 1 is never rewritten."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path

import pytest

from shared.events import InvalidEventData
from shared.events.catalog import registry
from shared.events.envelope import RecordedEvent
from shared.events.risk import RiskAssessed, risk_assessed_v1_to_v2

FIXTURES = Path(__file__).parents[3] / "shared" / "events" / "fixtures"


def fixture(version: int) -> dict:
    return json.loads((FIXTURES / f"RiskAssessed.v{version}.json").read_text())["data"]


def test_version_1_is_still_known_and_the_key_id_is_kept_since() -> None:
    assert registry().versions("RiskAssessed") == [1, 2, 3]
    assert "draw_key_id" in registry().field_names("RiskAssessed")


def test_a_version_1_decision_upcasts_to_no_key_id() -> None:
    data = fixture(1)
    assert "draw_key_id" not in data
    payload = registry().load("RiskAssessed", 1, data)
    assert isinstance(payload, RiskAssessed) and payload.draw_key_id is None
    assert payload.draw == data["draw"] and payload.lane == data["lane"]
    assert risk_assessed_v1_to_v2(data) == {**data, "draw_key_id": None}
    assert data == fixture(1)  # the upcaster does not touch what it was given


def test_a_stored_version_1_event_decodes_upcast_and_keeps_its_stored_data() -> None:
    data = fixture(1)
    now = datetime.now(UTC)
    event = RecordedEvent(position=1, event_id="e1", type="RiskAssessed", version=1,
                          stream="risk-x", stream_version=1, correlation_id="x",
                          causation_id=None, actor="risk-service", occurred_at=now,
                          recorded_at=now, data=data, hash="h")
    payload = registry().decode(event)
    assert payload.draw_key_id is None and event.data == fixture(1)


def test_version_2_carries_the_key_id() -> None:
    data = fixture(2)
    payload = registry().load("RiskAssessed", 2, data)
    assert payload.draw_key_id == data["draw_key_id"] and payload.draw_key_id.startswith("draw-")
    assert registry().encode(payload) == {**data, "declaration_version": 1}  # upcast to 3


def test_a_version_1_shape_with_a_key_id_is_refused() -> None:
    with pytest.raises(InvalidEventData):
        registry().validate("RiskAssessed", 1, {**fixture(1), "draw_key_id": "draw-1"})
    with pytest.raises(InvalidEventData):
        registry().validate("RiskAssessed", 2, {**fixture(2), "draw_key_id": ""})

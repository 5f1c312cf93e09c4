"""Amendments make new declaration versions: RiskAssessed v3, ControlOrdered v2, ControlCompleted
v3 and DutyAssessed v2 name the version they are about; every earlier version reads as about
the first (`first_declaration_version`). DeclarationAmended records what changed. The golden
fixtures of every version are loaded by test_golden.py; here: the upcasts and the round trip."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from shared.events import InvalidEventData
from shared.events.catalog import registry

FIXTURES = Path(__file__).parents[3] / "shared" / "events" / "fixtures"
# The version of each event that introduced `declaration_version` (DutyAssessed v3 added the
# payment method, keeping it).
VERSIONED = {"RiskAssessed": 3, "ControlOrdered": 2, "ControlCompleted": 3, "DutyAssessed": 2}


def fixture(event_type: str, version: int) -> dict:
    return json.loads((FIXTURES / f"{event_type}.v{version}.json").read_text())["data"]


@pytest.mark.parametrize(("event_type", "introduced"), VERSIONED.items())
def test_earlier_versions_are_about_the_first_declaration_version(event_type: str,
                                                                  introduced: int) -> None:
    current = registry().current_version(event_type)
    assert current >= introduced
    for version in registry().versions(event_type):
        if version < introduced:
            payload = registry().load(event_type, version, fixture(event_type, version))
            assert payload.declaration_version == 1, (event_type, version)
    since = fixture(event_type, introduced)
    assert registry().load(event_type, introduced, since).declaration_version \
        == since["declaration_version"]
    latest = fixture(event_type, current)
    payload = registry().load(event_type, current, latest)
    assert payload.declaration_version == latest["declaration_version"]
    assert registry().encode(payload) == latest
    with pytest.raises(InvalidEventData):
        registry().validate(event_type, current, {**latest, "declaration_version": 0})


def test_an_amendment_records_its_changes_from_what_to_what() -> None:
    data = fixture("DeclarationAmended", 1)
    payload = registry().load("DeclarationAmended", 1, data)
    assert payload.declaration_version == 2
    assert payload.changes[0] == {"pointer": "/items/0/value", "before": "15000.00",
                                  "after": "13500.00"}
    assert registry().encode(payload) == data
    for wrong in ({"declaration_version": 1}, {"reason": ""},
                  {"changes": [{"pointer": "/x", "before": 1}]}):
        with pytest.raises(InvalidEventData):
            registry().validate("DeclarationAmended", 1, {**data, **wrong})

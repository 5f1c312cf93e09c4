"""Golden fixtures: every (type, version) of the catalogue has one, it loads and upcasts to
the current version, the current version round-trips byte for byte, and no fixture was edited."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import pytest

from shared.events.catalog import registry

FIXTURES = Path(__file__).parents[3] / "shared" / "events" / "fixtures"
CATALOGUE = [(t, v) for t in registry().types() for v in registry().versions(t)]


def test_fixtures_were_never_edited() -> None:
    for line in (FIXTURES / "SHA256SUMS").read_text().splitlines():
        digest, name = line.split("  ")
        assert hashlib.sha256((FIXTURES / name).read_bytes()).hexdigest() == digest, name


def test_every_fixture_is_listed() -> None:
    listed = {line.split("  ")[1] for line in (FIXTURES / "SHA256SUMS").read_text().splitlines()}
    assert {p.name for p in FIXTURES.glob("*.v*.json")} == listed


@pytest.mark.parametrize("event_type,version", CATALOGUE)
def test_fixture_loads_and_upcasts(event_type: str, version: int) -> None:
    path = FIXTURES / f"{event_type}.v{version}.json"
    assert path.exists(), f"golden fixture missing for {event_type} v{version}"
    fixture = json.loads(path.read_text())
    registry().validate(event_type, version, fixture["data"])
    payload = registry().load(event_type, version, fixture["data"])
    assert type(payload).TYPE == event_type
    if version == registry().current_version(event_type):
        assert registry().encode(payload) == fixture["data"]

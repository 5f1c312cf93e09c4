"""The registry as a pure unit: one dataclass per event version, upcasters, encoding,
validation and typed decoding.

A type is "deployed" at version 1, events are stored, then version 2 is deployed over them:
old data must still load, upcast, as the new version (the eventsourcing library's strategy).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Any, ClassVar

import pytest
from marshmallow import validate

from shared.events import EventRegistry, InvalidEventData, RecordedEvent, UnknownEventType
from shared.events.codec import schema_for


@dataclass(frozen=True)
class ParcelWeighedV1:
    TYPE: ClassVar[str] = "ParcelWeighed"
    VERSION: ClassVar[int] = 1
    CATEGORY: ClassVar[str] = "risk"
    parcel: str
    grams: int


@dataclass(frozen=True)
class ParcelWeighed:
    TYPE: ClassVar[str] = "ParcelWeighed"
    VERSION: ClassVar[int] = 2
    CATEGORY: ClassVar[str] = "risk"
    parcel: str
    mass_kg: Decimal
    scale: str = field(metadata={"validate": validate.OneOf(["S9", "unknown"])})


def v1_to_v2(data: dict[str, Any]) -> dict[str, Any]:
    return {"parcel": data["parcel"], "mass_kg": str(Decimal(data["grams"]) / 1000),
            "scale": "unknown"}


def registry_v1() -> EventRegistry:
    registry = EventRegistry()
    registry.register(ParcelWeighedV1)
    return registry


def registry_v2() -> EventRegistry:
    registry = EventRegistry()
    registry.register(ParcelWeighed, old={1: (ParcelWeighedV1, v1_to_v2)})
    return registry


def recorded(version: int, data: dict[str, Any], registry: EventRegistry) -> RecordedEvent:
    now = datetime.now(UTC)
    return RecordedEvent(1, "e", "ParcelWeighed", version, "risk-C", 1, "C", None, "t", now,
                         now, data, "h", decoder=registry.decode)


def test_old_events_load_as_the_new_version_after_deploying_v2() -> None:
    stored = registry_v1().new_event(ParcelWeighedV1("P1", 1250), correlation_id="C",
                                     actor="t")
    assert (stored.type, stored.version) == ("ParcelWeighed", 1)
    payload = registry_v2().load(stored.type, stored.version, stored.data)
    assert payload == ParcelWeighed("P1", Decimal("1.25"), "unknown")


def test_a_stored_old_event_reads_as_the_current_version() -> None:
    event = recorded(1, {"parcel": "P", "grams": 5}, registry_v2())
    assert event.payload == ParcelWeighed("P", Decimal("0.005"), "unknown")


def test_an_upcaster_that_breaks_the_next_version_is_caught() -> None:
    registry = EventRegistry()
    registry.register(ParcelWeighed, old={1: (ParcelWeighedV1, lambda d: {"parcel": "P"})})
    with pytest.raises(InvalidEventData):
        recorded(1, {"parcel": "P", "grams": 5}, registry).payload  # noqa: B018


def test_encode_uses_decimal_strings_and_decode_is_its_inverse() -> None:
    payload = ParcelWeighed("P1", Decimal("1.250"), "S9")
    data = registry_v2().encode(payload)
    assert data == {"parcel": "P1", "mass_kg": "1.250", "scale": "S9"}
    assert recorded(2, data, registry_v2()).payload == payload


def test_one_field_list_makes_the_schema() -> None:
    @dataclass(frozen=True)
    class Everything:
        TYPE: ClassVar[str] = "Everything"
        VERSION: ClassVar[int] = 1
        CATEGORY: ClassVar[str] = "risk"
        text: str
        count: int
        amount: Decimal
        day: date
        moment: datetime
        note: str | None
        blob: dict[str, Any]
        tags: list[str]

    schema = schema_for(Everything)
    good = {"text": "t", "count": 1, "amount": "1.50", "day": "2026-03-02",
            "moment": "2026-03-02T10:00:00+00:00", "note": None, "blob": {"a": 1},
            "tags": ["x"]}
    assert schema.validate(good) == {}
    assert set(schema.validate({**good, "count": "1", "amount": 1.5, "day": "02/03/2026",
                                "moment": "2026-03-02T10:00:00", "tags": [1]})) == {
        "count", "amount", "day", "moment", "tags"}
    assert set(schema.validate({"extra": 1})) >= {"extra", "text"}


def test_invalid_data_and_unknown_types_are_refused() -> None:
    registry = registry_v2()
    with pytest.raises(InvalidEventData):
        registry.validate("ParcelWeighed", 2, {"parcel": "P1"})
    with pytest.raises(InvalidEventData):
        registry.validate("ParcelWeighed", 2, {"parcel": "P1", "mass_kg": "1", "scale": "S7"})
    with pytest.raises(UnknownEventType):
        registry.validate("ParcelWeighed", 3, {})
    with pytest.raises(UnknownEventType):
        registry.validate("Nope", 1, {})


def test_registration_guards() -> None:
    registry = registry_v2()
    with pytest.raises(ValueError):
        registry.register(ParcelWeighed)  # twice
    with pytest.raises(ValueError):  # version 1 is missing from the chain
        EventRegistry().register(ParcelWeighed, old={0: (ParcelWeighedV1, v1_to_v2)})
    with pytest.raises(ValueError):  # an old version at or above the current one
        EventRegistry().register(ParcelWeighed, old={3: (ParcelWeighedV1, v1_to_v2)})


def test_routing_keys_and_categories() -> None:
    registry = registry_v2()
    assert registry.routing_key("ParcelWeighed") == "risk.ParcelWeighed"
    assert registry.types("risk") == ["ParcelWeighed"] and registry.types("payment") == []


def test_a_partial_payload_holds_only_the_fields_read() -> None:
    partial = registry_v2().decode_partial("ParcelWeighed", {"mass_kg": "2.5"})
    assert isinstance(partial, ParcelWeighed) and partial.mass_kg == Decimal("2.5")
    with pytest.raises(AttributeError):
        partial.parcel  # noqa: B018

"""The registry as a pure unit: versions, upcasters, encoding and validation.

A type is "deployed" at version 1, events are stored, then version 2 is deployed over them:
old data must still load, upcast, as the new version (the eventsourcing library's strategy).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

import marshmallow
import pytest

from shared.events import EventRegistry, InvalidEventData, RecordedEvent, UnknownEventType


class ParcelWeighedV1(marshmallow.Schema):
    parcel = marshmallow.fields.String(required=True)
    grams = marshmallow.fields.Integer(required=True)


class ParcelWeighedV2(marshmallow.Schema):
    parcel = marshmallow.fields.String(required=True)
    mass_kg = marshmallow.fields.Decimal(required=True, as_string=True)
    scale = marshmallow.fields.String(required=True)


@dataclass(frozen=True)
class ParcelWeighedOld:
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
    mass_kg: object
    scale: str


def v1_to_v2(data: dict) -> dict:  # type: ignore[type-arg]
    from decimal import Decimal

    return {"parcel": data["parcel"], "mass_kg": str(Decimal(data["grams"]) / 1000),
            "scale": "unknown"}


def registry_v1() -> EventRegistry:
    registry = EventRegistry()
    registry.register(ParcelWeighedOld, ParcelWeighedV1)
    return registry


def registry_v2() -> EventRegistry:
    registry = EventRegistry()
    registry.register(ParcelWeighed, ParcelWeighedV2, old={1: (ParcelWeighedV1, v1_to_v2)})
    return registry


def test_old_events_load_as_the_new_version_after_deploying_v2() -> None:
    stored = registry_v1().new_event(ParcelWeighedOld("P1", 1250), correlation_id="C",
                                     actor="t")
    assert (stored.type, stored.version) == ("ParcelWeighed", 1)
    payload = registry_v2().load(stored.type, stored.version, stored.data)
    assert isinstance(payload, ParcelWeighed)
    assert str(payload.mass_kg) == "1.25" and payload.scale == "unknown"


def test_encode_uses_the_current_schema_and_decimal_strings() -> None:
    from decimal import Decimal

    data = registry_v2().encode(ParcelWeighed("P1", Decimal("1.250"), "S9"))
    assert data == {"parcel": "P1", "mass_kg": "1.250", "scale": "S9"}


def test_invalid_data_and_unknown_types_are_refused() -> None:
    registry = registry_v2()
    with pytest.raises(InvalidEventData):
        registry.validate("ParcelWeighed", 2, {"parcel": "P1"})
    with pytest.raises(UnknownEventType):
        registry.validate("ParcelWeighed", 3, {})
    with pytest.raises(UnknownEventType):
        registry.validate("Nope", 1, {})


def test_registration_guards() -> None:
    registry = registry_v2()
    with pytest.raises(ValueError):
        registry.register(ParcelWeighed, ParcelWeighedV2)  # twice
    with pytest.raises(ValueError):
        EventRegistry().register(ParcelWeighed, ParcelWeighedV2, old={})  # fine
        EventRegistry().register(ParcelWeighed, ParcelWeighedV2, old={3: (ParcelWeighedV1, v1_to_v2)})


def test_routing_keys_and_categories() -> None:
    registry = registry_v2()
    assert registry.routing_key("ParcelWeighed") == "risk.ParcelWeighed"
    assert registry.types("risk") == ["ParcelWeighed"] and registry.types("payment") == []


def test_decode_a_recorded_event() -> None:
    from datetime import UTC, datetime

    now = datetime.now(UTC)
    event = RecordedEvent(1, "e", "ParcelWeighed", 1, "risk-C", 1, "C", None, "t", now, now,
                          {"parcel": "P", "grams": 5}, "h")
    assert registry_v2().decode(event).mass_kg is not None

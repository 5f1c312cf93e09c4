"""Fixtures of the store suite: a tiny registry of test events and stores on each backend."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import ClassVar

import pytest

from shared.events import EventRegistry, NewEvent
from shared.eventstore import EventStore


@dataclass(frozen=True)
class ThingHappened:
    TYPE: ClassVar[str] = "ThingHappened"
    VERSION: ClassVar[int] = 1
    CATEGORY: ClassVar[str] = "thing"
    name: str
    amount: str


@dataclass(frozen=True)
class OtherNoted:
    TYPE: ClassVar[str] = "OtherNoted"
    VERSION: ClassVar[int] = 1
    CATEGORY: ClassVar[str] = "other"
    note: str


def make_registry() -> EventRegistry:
    registry = EventRegistry()
    registry.register(ThingHappened)
    registry.register(OtherNoted)
    return registry


def thing(name: str = "x", amount: str = "1.00", correlation: str = "C1") -> NewEvent:
    return make_registry().new_event(ThingHappened(name, amount), correlation_id=correlation,
                                     actor="test")


REGISTRY = make_registry()


@pytest.fixture
def registry() -> EventRegistry:
    return make_registry()


@pytest.fixture
def store(store_url: str, registry: EventRegistry) -> Iterator[EventStore]:
    s = EventStore(store_url, registry)
    yield s
    s.close()

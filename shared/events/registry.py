"""The registry: every event type, each version's definition, and the upcasters between versions.

Used alike by the store (to refuse unknown or malformed events before they are appended), the
relay (routing keys by category) and every reader (typed payloads, upcast to the current
version). An event version is a frozen dataclass with three class attributes; its fields are
the one field list of that version (`codec.py` derives the schema and the codec)::

    @dataclass(frozen=True)
    class ControlCompleted:
        TYPE: ClassVar[str] = "ControlCompleted"
        VERSION: ClassVar[int] = 2
        CATEGORY: ClassVar[str] = "risk"
        mrn: str
        result: str

    registry.register(ControlCompleted, old={1: (ControlCompletedV1, v1_to_v2)})

Version N-1 is registered with an upcaster that turns its data into version N's data; stored
events are never rewritten, they are upcast when read.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, is_dataclass
from typing import Any, ClassVar, Protocol

import marshmallow

from .codec import Codec, schema_for
from .envelope import NewEvent, RecordedEvent

Data = dict[str, Any]
Upcaster = Callable[[Data], Data]


class EventPayload(Protocol):
    TYPE: ClassVar[str]
    VERSION: ClassVar[int]
    CATEGORY: ClassVar[str]


class UnknownEventType(LookupError):
    """An event type or version the registry does not know."""


class InvalidEventData(ValueError):
    """Event data that does not match its (type, version) definition."""

    def __init__(self, event_type: str, version: int, messages: Any) -> None:
        super().__init__(f"{event_type} v{version}: {messages}")
        self.event_type = event_type
        self.version = version
        self.messages = messages


@dataclass(frozen=True)
class _Version:
    cls: type[Any]
    schema: marshmallow.Schema
    codec: Codec
    upcaster: Upcaster | None  # to version + 1; None for the current version


@dataclass
class _Definition:
    cls: type[Any]
    category: str
    current: int
    versions: dict[int, _Version]


def _version(cls: type[Any], upcaster: Upcaster | None) -> _Version:
    if not is_dataclass(cls):
        raise TypeError(f"{cls!r} must be a dataclass")
    return _Version(cls, schema_for(cls), Codec(cls), upcaster)


class EventRegistry:
    def __init__(self) -> None:
        self._types: dict[str, _Definition] = {}

    # -- registration -------------------------------------------------------------------
    def register(self, cls: type[Any], *,
                 old: Mapping[int, tuple[type[Any], Upcaster]] | None = None) -> type[Any]:
        """Register `cls` (the current version) and older versions (their dataclass and the
        upcaster from each to the next)."""
        event_cls: Any = cls
        type_name: str = event_cls.TYPE
        if type_name in self._types:
            raise ValueError(f"event type {type_name} registered twice")
        current: int = event_cls.VERSION
        versions = {current: _version(cls, None)}
        for version, (old_cls, upcaster) in (old or {}).items():
            if version >= current:
                raise ValueError(f"{type_name}: old version {version} >= current {current}")
            if getattr(old_cls, "TYPE", type_name) != type_name or getattr(
                    old_cls, "VERSION", version) != version:
                raise ValueError(f"{type_name}: {old_cls!r} is not version {version}")
            versions[version] = _version(old_cls, upcaster)
        missing = [v for v in range(min(versions), current) if v not in versions]
        if missing:
            raise ValueError(f"{type_name}: no upcaster chain for versions {missing}")
        self._types[type_name] = _Definition(cls, event_cls.CATEGORY, current, versions)
        return cls

    def include(self, other: EventRegistry) -> None:
        for name, definition in other._types.items():
            if name in self._types and self._types[name] is not definition:
                raise ValueError(f"event type {name} registered twice")
            self._types[name] = definition

    # -- queries ------------------------------------------------------------------------
    def types(self, category: str | None = None) -> list[str]:
        return sorted(n for n, d in self._types.items() if category in (None, d.category))

    def categories(self) -> list[str]:
        return sorted({d.category for d in self._types.values()})

    def category(self, event_type: str) -> str:
        return self._definition(event_type).category

    def current_version(self, event_type: str) -> int:
        return self._definition(event_type).current

    def versions(self, event_type: str) -> list[int]:
        return sorted(self._definition(event_type).versions)

    def payload_class(self, event_type: str) -> type[Any]:
        return self._definition(event_type).cls

    def field_names(self, event_type: str) -> tuple[str, ...]:
        """The fields of the current version."""
        definition = self._definition(event_type)
        return definition.versions[definition.current].codec.names

    def routing_key(self, event_type: str) -> str:
        return f"{self.category(event_type)}.{event_type}"

    # -- encode / validate / decode -----------------------------------------------------
    def encode(self, payload: Any) -> Data:
        """The JSON-ready data of a payload of the current version (validated by the store
        when it is appended)."""
        definition = self._definition(type(payload).TYPE)
        if type(payload) is not definition.cls:
            raise UnknownEventType(f"{type(payload)!r} is not the registered class")
        return definition.versions[definition.current].codec.encode(payload)

    def new_event(
        self,
        payload: Any,
        *,
        correlation_id: str,
        actor: str,
        causation_id: str | None = None,
        **envelope: Any,
    ) -> NewEvent:
        return NewEvent(
            type=type(payload).TYPE,
            version=type(payload).VERSION,
            data=self.encode(payload),
            correlation_id=correlation_id,
            actor=actor,
            causation_id=causation_id,
            payload=payload,
            **envelope,
        )

    def validate(self, event_type: str, version: int, data: Mapping[str, Any]) -> None:
        schema = self._version(event_type, version).schema
        errors = schema.validate(dict(data))
        if errors:
            raise InvalidEventData(event_type, version, errors)

    def upcast(self, event_type: str, version: int, data: Mapping[str, Any]) -> Data:
        """Data of (type, version) brought to the current version, one step at a time (each
        step's result is checked against the next version's definition)."""
        definition = self._definition(event_type)
        self._version(event_type, version)
        result = dict(data)
        for v in range(version, definition.current):
            upcaster = definition.versions[v].upcaster
            assert upcaster is not None
            result = upcaster(result)
            self.validate(event_type, v + 1, result)
        return result

    def decode(self, event: RecordedEvent) -> Any:
        """The typed payload (current version) of an event read from the log, whose data was
        validated when it was appended."""
        definition = self._definition(event.type)
        data = event.data
        if event.version != definition.current:
            data = self.upcast(event.type, event.version, data)
        return definition.versions[definition.current].codec.decode(data)

    def load(self, event_type: str, version: int, data: Mapping[str, Any]) -> Any:
        """The typed payload (current version) of data from outside the log (a message, a
        fixture): validated against its version's definition first."""
        self.validate(event_type, version, data)
        definition = self._definition(event_type)
        current = self.upcast(event_type, version, data)
        return definition.versions[definition.current].codec.decode(current)

    def decode_partial(self, event_type: str, data: Mapping[str, Any]) -> Any:
        """A payload of the current version holding only the fields in `data` (already of
        the current version; see `Codec.decode_partial`)."""
        return self.partial_decoder(event_type)(data)

    def partial_decoder(self, event_type: str) -> Callable[[Mapping[str, Any]], Any]:
        """`decode_partial` of one type, looked up once (for loops over many events)."""
        definition = self._definition(event_type)
        return definition.versions[definition.current].codec.decode_partial

    def reader(self) -> Callable[[RecordedEvent], Any]:
        """What a store sets as each read event's `decoder`."""
        return self.decode

    # -- internals ----------------------------------------------------------------------
    def _definition(self, event_type: str) -> _Definition:
        try:
            return self._types[event_type]
        except KeyError:
            raise UnknownEventType(f"unknown event type {event_type!r}") from None

    def _version(self, event_type: str, version: int) -> _Version:
        definition = self._definition(event_type)
        try:
            return definition.versions[version]
        except KeyError:
            raise UnknownEventType(f"unknown version {version} of {event_type}") from None

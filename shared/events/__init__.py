"""The published language: the envelope, the registry, and every service's events (defined once)."""

from .envelope import NewEvent, RecordedEvent, category_of, stream_name
from .registry import EventRegistry, InvalidEventData, UnknownEventType

__all__ = [
    "EventRegistry",
    "InvalidEventData",
    "NewEvent",
    "RecordedEvent",
    "UnknownEventType",
    "category_of",
    "stream_name",
]

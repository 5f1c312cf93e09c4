"""The event store: append-only, gap-free, hash-chained, on SQLite or PostgreSQL."""

from .errors import (
    DuplicateEventId,
    EventsImmutable,
    EventStoreError,
    KeyTaken,
    StoreMissing,
    WrongExpectedVersion,
)
from .readmodels import ReadModel
from .store import EventStore, Transaction

__all__ = [
    "DuplicateEventId",
    "EventStore",
    "EventStoreError",
    "EventsImmutable",
    "KeyTaken",
    "ReadModel",
    "StoreMissing",
    "Transaction",
    "WrongExpectedVersion",
]

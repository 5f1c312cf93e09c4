"""The event store: append-only, gap-free, hash-chained, on SQLite or PostgreSQL."""

from .errors import EventsImmutable, EventStoreError, WrongExpectedVersion
from .store import DuplicateEventId, EventStore, StoreMissing, Transaction

__all__ = [
    "DuplicateEventId",
    "EventStore",
    "EventStoreError",
    "EventsImmutable",
    "StoreMissing",
    "Transaction",
    "WrongExpectedVersion",
]

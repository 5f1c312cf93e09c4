"""The store's named errors (mapped to HTTP/RPC responses in one place at each edge)."""


class EventStoreError(Exception):
    """Base class of the store's errors."""


class WrongExpectedVersion(EventStoreError):
    """The stream is not at the version the writer expected: someone else appended first."""

    def __init__(self, stream: str, expected: int, actual: int | None) -> None:
        actual_text = "unknown (a concurrent append won)" if actual is None else str(actual)
        super().__init__(f"stream {stream!r}: expected version {expected}, found {actual_text}")
        self.stream = stream
        self.expected = expected
        self.actual = actual


class EventsImmutable(EventStoreError):
    """An UPDATE or DELETE of a stored event was attempted (rejected by the database)."""


class DuplicateEventId(EventStoreError):
    """An event id that is already in the log."""


class StoreMissing(EventStoreError):
    """No event log at the URL a reader was given (it is not created for a reader)."""


class KeyTaken(EventStoreError):
    """A read-model row's unique key (or another unique column) is already taken."""

    def __init__(self, table: str, detail: str) -> None:
        super().__init__(f"{table}: {detail}")
        self.table = table

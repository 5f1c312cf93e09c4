"""The one envelope every event travels in, from the store through the relay to consumers.

`NewEvent` is what a service hands to the store; `RecordedEvent` is what the store gives back
(with the stream version, the global position, the recording time and the chain hash).
`data` is the JSON-ready payload exactly as stored (what the hash chain covers and an auditor
reads); readers that act on an event use `payload`: the typed event, upcast to the current
version by the registry that read it (`EventRegistry.decode`), decoded once on first use.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from functools import cached_property
from typing import Any


def utcnow() -> datetime:
    return datetime.now(UTC)


def new_id() -> str:
    return str(uuid.uuid4())


def as_utc(value: datetime) -> datetime:
    """Aware UTC datetime from an aware or naive (taken as UTC) one."""
    if value.tzinfo is None:
        return value.replace(tzinfo=UTC)
    return value.astimezone(UTC)


def isoformat(value: datetime) -> str:
    """Canonical text of a time: UTC, microseconds, `+00:00` suffix."""
    return as_utc(value).isoformat(timespec="microseconds")


@dataclass(frozen=True)
class NewEvent:
    """An event about to be appended. `data` is the encoded payload (see `EventRegistry.encode`)."""

    type: str
    version: int
    data: Mapping[str, Any]
    correlation_id: str
    actor: str
    causation_id: str | None = None
    event_id: str = field(default_factory=new_id)
    occurred_at: datetime = field(default_factory=utcnow)
    # The typed event `data` was encoded from (set by `EventRegistry.new_event`).
    payload: Any = field(default=None, compare=False, repr=False)


@dataclass(frozen=True)
class RecordedEvent:
    """An event as stored in the log: immutable, positioned and chained."""

    position: int
    event_id: str
    type: str
    version: int
    stream: str
    stream_version: int
    correlation_id: str
    causation_id: str | None
    actor: str
    occurred_at: datetime
    recorded_at: datetime
    data: Mapping[str, Any]
    hash: str
    # How `payload` is made (the reading registry's `decode`); not part of the event.
    decoder: Callable[[RecordedEvent], Any] | None = field(default=None, compare=False,
                                                           repr=False)
    # The hash of the event before it in the log (position - 1; the genesis hash for the
    # first), when the reader fetched it: carried on the wire so that a consumer can check
    # that the content it received hashes to `hash` without asking the log for it. Not part
    # of the event: the log holds it in the row before.
    previous_hash: str | None = field(default=None, compare=False, repr=False)

    @property
    def category(self) -> str:
        return category_of(self.stream)

    @property
    def author(self) -> dict[str, Any]:
        """Who made it happen (see `author_of`)."""
        return author_of(self.actor)

    @cached_property
    def payload(self) -> Any:
        """The typed event (its registered dataclass, current version)."""
        if self.decoder is None:
            raise LookupError(f"event {self.event_id} was read without a registry")
        return self.decoder(self)

    def with_payload(self, payload: Any) -> RecordedEvent:
        """This event with its payload already decoded (e.g. validated off the wire)."""
        self.__dict__["payload"] = payload
        return self

    def to_message(self) -> dict[str, Any]:
        """The wire form published to the broker (JSON-ready)."""
        return {
            "event_id": self.event_id,
            "type": self.type,
            "version": self.version,
            "stream": self.stream,
            "stream_version": self.stream_version,
            "position": self.position,
            "correlation_id": self.correlation_id,
            "causation_id": self.causation_id,
            "actor": self.actor,
            "occurred_at": isoformat(self.occurred_at),
            "recorded_at": isoformat(self.recorded_at),
            "data": dict(self.data),
            "hash": self.hash,
        } | ({} if self.previous_hash is None else {"previous_hash": self.previous_hash})

    @classmethod
    def from_message(cls, body: Mapping[str, Any],
                     decoder: Callable[[RecordedEvent], Any] | None = None) -> RecordedEvent:
        """Inverse of `to_message`; raises KeyError/ValueError/TypeError on a malformed body."""
        data = body["data"]
        if not isinstance(data, Mapping):
            raise TypeError("event data must be an object")
        previous = body.get("previous_hash")
        return cls(
            position=int(body["position"]),
            event_id=str(body["event_id"]),
            type=str(body["type"]),
            version=int(body["version"]),
            stream=str(body["stream"]),
            stream_version=int(body["stream_version"]),
            correlation_id=str(body["correlation_id"]),
            causation_id=None if body.get("causation_id") is None else str(body["causation_id"]),
            actor=str(body["actor"]),
            occurred_at=as_utc(datetime.fromisoformat(str(body["occurred_at"]))),
            recorded_at=as_utc(datetime.fromisoformat(str(body["recorded_at"]))),
            data=dict(data),
            hash=str(body["hash"]),
            decoder=decoder,
            previous_hash=None if previous is None else str(previous),
        )


def actor_text(author: Mapping[str, Any]) -> str:
    """The envelope's `actor`: the author of an event (the authenticated caller, or a service
    for its own decisions: `{"sub", "roles", "iss"?, "jti"?}`) as canonical JSON text."""
    return json.dumps(dict(author), sort_keys=True, separators=(",", ":"), ensure_ascii=False)


def author_of(actor: str) -> dict[str, Any]:
    """The author object of an envelope's `actor`. Events recorded before identity came in
    (issue 10) name it by a plain string: a service (`risk-service`) or a self-asserted name."""
    if actor.startswith("{"):
        try:
            author = json.loads(actor)
        except ValueError:
            author = None
        if isinstance(author, dict) and isinstance(author.get("sub"), str):
            return author
    roles = ["service"] if actor.endswith("-service") else []
    return {"sub": actor, "roles": roles, "recorded_as": "text"}


def category_of(stream: str) -> str:
    """Streams are named `<category>-<id>`; the category is the owning service's name."""
    category, sep, rest = stream.partition("-")
    if not sep or not category or not rest:
        raise ValueError(f"stream name {stream!r} is not '<category>-<id>'")
    return category


def stream_name(category: str, entity_id: str) -> str:
    return f"{category}-{entity_id}"

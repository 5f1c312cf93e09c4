"""Parked messages: list them, and move them back to their queue once the cause is fixed.

The consumer parks a message in `Q.parked` (through its service's republish exchange
`<service>.retry`, see topology.py) after its last retry, or at once when it cannot be decoded,
with headers giving the reason (see consumer.py).
These functions back the `clearance parked list|replay QUEUE` commands:

    listing = list_parked("amqp://guest:guest@127.0.0.1:5672/", "risk.declarations")
    listing.count, listing.reasons            # 3, {"WrongExpectedVersion: ...": 3}
    result = replay_parked("amqp://...", "risk.declarations")
    result.replayed, result.failed, result.remaining

`QUEUE` is the subscription queue (not the `.parked` one). These run as the operator (a broker
user with access to every queue, not a service's least-privilege user). Replaying republishes
each message to the queue itself through the default exchange (so only that consumer sees it
again; it works whether or not the queue is bound to its republish exchange yet) with a
publisher confirm and its failure headers removed (attempts start again from zero), and acks
the parked copy only after the confirm: a crash mid-replay leaves a message parked, or in both
queues (the consumer's inbox makes the second copy a no-op), never in neither.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Collection, Mapping
from dataclasses import dataclass, field
from typing import Any

from .consumer import (
    ATTEMPTS_HEADER,
    EXCEPTION_TYPE_HEADER,
    FAILURE_HEADERS,
    ORIGINAL_ROUTING_KEY_HEADER,
    PARK_REASON_HEADER,
    PARKED_AT_HEADER,
)
from .publisher import OutgoingMessage, Publisher, close_quietly, connect
from .topology import parking_queue_name

REPLAYS_HEADER = "x-replays"


@dataclass(frozen=True)
class ParkedMessage:
    message_id: str | None
    event_type: str | None
    correlation_id: str | None
    reason: str
    exception_type: str | None
    attempts: int
    original_routing_key: str | None
    parked_at: str | None
    headers: Mapping[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class ParkedListing:
    queue: str  # the subscription queue
    parking_queue: str
    count: int  # messages in the parking queue (all of them, not only those listed)
    messages: tuple[ParkedMessage, ...]  # at most `limit`, oldest first
    reasons: Mapping[str, int]  # reason -> how many of the listed messages


@dataclass(frozen=True)
class ReplayResult:
    queue: str
    replayed: int  # confirmed in the queue and removed from parking
    failed: int  # not confirmed: left in parking
    skipped: int  # not selected (event_ids filter): left in parking
    remaining: int  # messages in the parking queue afterwards


def parked_count(amqp_uri: str, queue: str) -> int:
    """How many messages the parking queue of `queue` holds."""
    connection = connect(amqp_uri)
    try:
        return _message_count(connection.channel(), parking_queue_name(queue))
    finally:
        close_quietly(connection)


def list_parked(amqp_uri: str, queue: str, *, limit: int = 100) -> ParkedListing:
    """The parked messages of subscription queue `queue` (at most `limit` of them, oldest
    first) with their reasons. Messages are read without being consumed: they are returned to
    the parking queue when the listing's channel closes."""
    parked = parking_queue_name(queue)
    connection = connect(amqp_uri)
    try:
        channel = connection.channel()
        count = _message_count(channel, parked)
        messages: list[ParkedMessage] = []
        while len(messages) < min(limit, count):
            raw = channel.basic_get(parked, no_ack=False)
            if raw is None:
                break
            messages.append(_parked(raw))
        # Closing the channel without acking puts every message back, in order.
    finally:
        close_quietly(connection)
    reasons = Counter(message.reason for message in messages)
    return ParkedListing(queue, parked, count, tuple(messages), dict(reasons))


def replay_parked(
    amqp_uri: str,
    queue: str,
    *,
    limit: int | None = None,
    event_ids: Collection[str] | None = None,
    batch_size: int = 100,
) -> ReplayResult:
    """Move parked messages of `queue` back to `queue` (all, at most `limit`, or only those
    whose message id is in `event_ids`), each confirmed before its parked copy is acked.

    Only the messages parked when the call starts are considered, so a message that fails
    again and is parked anew is not replayed twice by one call."""
    parked = parking_queue_name(queue)
    replayed = failed = skipped = 0
    connection = connect(amqp_uri)
    try:
        channel = connection.channel()
        channel.queue_declare(queue, passive=True)  # the target must exist
        budget = _message_count(channel, parked)
        if limit is not None:
            budget = min(budget, limit)
        # Messages not replayed stay unacked until the end (so basic_get does not hand them
        # out again), then go back to the parking queue in their order.
        requeue: list[int] = []
        with Publisher(amqp_uri) as publisher:
            while budget > 0:
                taken: list[tuple[int, OutgoingMessage]] = []
                while budget > 0 and len(taken) < batch_size:
                    raw = channel.basic_get(parked, no_ack=False)
                    if raw is None:
                        budget = 0
                        break
                    budget -= 1
                    if event_ids is not None and raw.properties.get("message_id") not in event_ids:
                        requeue.append(raw.delivery_tag)
                        skipped += 1
                        continue
                    taken.append((raw.delivery_tag, _replay_message(raw, queue)))
                result = publisher.publish([message for _, message in taken])
                for (tag, _), delivery in zip(taken, result.deliveries, strict=True):
                    if delivery.confirmed:
                        channel.basic_ack(tag)
                        replayed += 1
                    else:
                        requeue.append(tag)
                        failed += 1
                if not result.ok:
                    break  # broker trouble: leave the rest parked
        for tag in requeue:
            channel.basic_reject(tag, requeue=True)
        remaining = _message_count(channel, parked)
    finally:
        close_quietly(connection)
    return ReplayResult(queue, replayed, failed, skipped, remaining)


def _message_count(channel: Any, queue: str) -> int:
    declared = channel.queue_declare(queue, passive=True)
    return int(declared.message_count)


def _headers(raw: Any) -> dict[str, Any]:
    return dict(raw.properties.get("application_headers") or {})


def _parked(raw: Any) -> ParkedMessage:
    headers = _headers(raw)
    attempts = headers.get(ATTEMPTS_HEADER)
    return ParkedMessage(
        message_id=raw.properties.get("message_id"),
        event_type=raw.properties.get("type"),
        correlation_id=raw.properties.get("correlation_id"),
        reason=str(headers.get(PARK_REASON_HEADER) or _dead_letter_reason(headers)),
        exception_type=headers.get(EXCEPTION_TYPE_HEADER),
        attempts=int(attempts) if isinstance(attempts, int) else 0,
        original_routing_key=headers.get(ORIGINAL_ROUTING_KEY_HEADER),
        parked_at=headers.get(PARKED_AT_HEADER),
        headers=headers,
    )


def _dead_letter_reason(headers: dict[str, Any]) -> str:
    """The reason of a message the broker itself dead-lettered here (a quorum queue's delivery
    limit: its consumer died holding it again and again), or "unknown"."""
    reason = headers.get("x-first-death-reason")
    if isinstance(reason, bytes):
        reason = reason.decode("utf-8", "replace")
    if reason == "delivery_limit":
        return ("delivery limit: delivered again and again without being settled (a consumer"
                " crashing on it)")
    return f"dead-lettered by the broker: {reason}" if reason else "unknown"


def _replay_message(raw: Any, queue: str) -> OutgoingMessage:
    headers = {k: v for k, v in _headers(raw).items() if k not in FAILURE_HEADERS}
    replays = headers.get(REPLAYS_HEADER)
    headers[REPLAYS_HEADER] = (replays if isinstance(replays, int) else 0) + 1
    body = raw.body
    if isinstance(body, str):
        body = body.encode(raw.properties.get("content_encoding") or "utf-8")
    properties = raw.properties
    return OutgoingMessage(
        body=bytes(body),
        routing_key=queue,
        message_id=str(properties.get("message_id") or f"replayed-{raw.delivery_tag}"),
        exchange="",
        headers=headers,
        content_type=properties.get("content_type") or "application/json",
        correlation_id=properties.get("correlation_id"),
        type=properties.get("type"),
    )

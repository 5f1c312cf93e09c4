"""Convert a broker's queues to what the topology declares (classic to quorum, new arguments).

RabbitMQ refuses to redeclare a queue with other arguments (`PRECONDITION_FAILED -
inequivalent arg`), so a service whose topology changed (a queue type, a retry delay, the
parking bound) cannot start on a broker that holds the old queues. `convert_queues` makes the
broker match, keeping every message:

1. the queue's messages are moved, each confirmed before it is acked, to a holding queue
   `<name>.converting` (quorum, no bindings);
2. the old queue is deleted (only if empty) and declared anew with the topology's arguments and
   bindings;
3. the held messages are moved back, and the holding queue deleted.

Run it as the operator (a user that may configure every queue) while the services are stopped
(`make start` does so on a stopped local stack; `clearance queues convert` in a deployment):
while a subscription queue is being recreated, events published to it have nowhere to go.
A conversion cut short is completed by the next run: a holding queue left behind is emptied
into its queue. A message is in at least one of the two queues at every moment (a crash may
leave it in both: the consumers' inboxes drop the second copy).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from .publisher import OutgoingMessage, Publisher, close_quietly, connect
from .topology import QueueSpec

HOLDING_SUFFIX = ".converting"
BATCH = 200


@dataclass(frozen=True)
class Conversion:
    queue: str
    moved: int  # messages carried over into the new queue


def _scratch(connection: Any, action: Any) -> Any:
    """`action(channel)` on a channel of its own (a refusal closes only that channel); the
    refusal is raised."""
    channel = connection.channel()
    try:
        return action(channel)
    finally:
        if channel.is_open:
            channel.close()


def _exists(connection: Any, name: str) -> int | None:
    """The message count of queue `name`, or None when it does not exist."""
    from amqp.exceptions import NotFound

    try:
        declared = _scratch(connection, lambda c: c.queue_declare(name, passive=True))
    except NotFound:
        return None
    return int(declared.message_count)


def _declare(channel: Any, spec: QueueSpec) -> None:
    channel.queue_declare(spec.name, durable=True, exclusive=False, auto_delete=False,
                          arguments=dict(spec.arguments) or None)
    for binding in spec.bindings:
        channel.queue_bind(spec.name, binding.exchange, binding.routing_key)


def _matches(connection: Any, spec: QueueSpec) -> bool:
    """Whether the existing queue has the spec's arguments (its declaration is accepted)."""
    from amqp.exceptions import PreconditionFailed

    try:
        _scratch(connection, lambda c: _declare(c, spec))
    except PreconditionFailed:
        return False
    return True


def _move(connection: Any, publisher: Publisher, source: str, target: str) -> int:
    """Every message of `source` into `target` (through the default exchange), each acked in
    `source` only once `target` confirmed it; the number moved."""
    channel = connection.channel()
    moved = 0
    try:
        while True:
            taken: list[Any] = []
            while len(taken) < BATCH:
                raw = channel.basic_get(source, no_ack=False)
                if raw is None:
                    break
                taken.append(raw)
            if not taken:
                return moved
            result = publisher.publish([_copy(raw, target) for raw in taken])
            if not result.ok:
                raise RuntimeError(f"moving {source} to {target}: the broker did not confirm"
                                   f" {len(result.failed)} messages; nothing was lost, run again")
            for raw in taken:
                channel.basic_ack(raw.delivery_tag)
            moved += len(taken)
    finally:
        if channel.is_open:
            channel.close()


def _delete_empty(connection: Any, name: str) -> None:
    """Delete queue `name`, which must be empty (quorum queues take no `if_empty` flag: the
    count is checked first; the services, which could add to it, are stopped)."""
    left = _exists(connection, name)
    if left:
        raise RuntimeError(f"{name} still holds {left} messages; nothing was lost, run again")
    if left is not None:
        _scratch(connection, lambda c: c.queue_delete(name))


def _copy(raw: Any, target: str) -> OutgoingMessage:
    properties = raw.properties
    body = raw.body
    if isinstance(body, str):
        body = body.encode(properties.get("content_encoding") or "utf-8")
    return OutgoingMessage(
        body=bytes(body), routing_key=target, exchange="",
        message_id=str(properties.get("message_id") or f"converted-{raw.delivery_tag}"),
        headers=dict(properties.get("application_headers") or {}),
        content_type=properties.get("content_type") or "application/octet-stream",
        correlation_id=properties.get("correlation_id"), type=properties.get("type"))


def convert_queues(amqp_uri: str, specs: Iterable[QueueSpec],
                   exchanges: Iterable[tuple[str, str]] = ()) -> list[Conversion]:
    """Make each existing queue of `specs` match its spec, keeping its messages (module
    docstring); the queues converted. Queues that match, or do not exist, are left alone.
    `exchanges` ((name, type) pairs, e.g. `Topology.exchanges()`) are declared first: a
    recreated queue's bindings may name one a former version did not have."""
    converted: list[Conversion] = []
    connection = connect(amqp_uri)
    try:
        for name, kind in exchanges:
            _scratch(connection, lambda c, n=name, k=kind: c.exchange_declare(
                n, k, durable=True, auto_delete=False))
        with Publisher(amqp_uri) as publisher:
            for spec in specs:
                holding = spec.name + HOLDING_SUFFIX
                count = _exists(connection, spec.name)
                held = _exists(connection, holding)
                moved = 0
                if count is not None and not _matches(connection, spec):
                    _scratch(connection, lambda c, h=holding: c.queue_declare(
                        h, durable=True, exclusive=False, auto_delete=False,
                        arguments={"x-queue-type": "quorum"}))
                    held = _move(connection, publisher, spec.name, holding)
                    _delete_empty(connection, spec.name)
                if held is not None:
                    _scratch(connection, lambda c, s=spec: _declare(c, s))
                    moved = _move(connection, publisher, holding, spec.name)
                    _delete_empty(connection, holding)
                    converted.append(Conversion(spec.name, moved))
    finally:
        close_quietly(connection)
    return converted

"""The broker topology: the events exchange and, per subscription queue, its retry and parking
queues. A value object: services and tests build their own and pass it to the relay and the
consumers, which declare it (idempotently) before they publish or consume.

For a subscription queue ``Q`` bound to event types ``T1, T2`` (routing key
``<category>.<Type>``, from the registry)::

    clearance.events (topic, durable) --[alpha.T1, beta.T2]--> Q (durable)
    Q.retry.1 .. Q.retry.n   durable, x-message-ttl = delay[i], dead-lettered back to Q
                             (x-dead-letter-exchange "" and x-dead-letter-routing-key Q)
    Q.parked                 durable; nothing consumes it; replayed by hand (see parking.py)

Retry and parking messages go through the default exchange, so a retried event returns only to
the queue that failed it, never to the other subscribers of its type. The retry queues' TTLs are
queue arguments: changing `retry_delays` for an existing queue needs the retry queues deleted
first (RabbitMQ refuses to redeclare a queue with other arguments).
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any, Literal

from shared.events.registry import EventRegistry

DEFAULT_EXCHANGE = "clearance.events"
DEFAULT_RETRY_DELAYS: tuple[float, ...] = (1.0, 5.0, 30.0)

QueueType = Literal["classic", "quorum"]


def retry_queue_name(queue: str, level: int) -> str:
    """The retry queue of `queue` for retry `level` (1-based)."""
    if level < 1:
        raise ValueError("retry levels start at 1")
    return f"{queue}.retry.{level}"


def parking_queue_name(queue: str) -> str:
    return f"{queue}.parked"


@dataclass(frozen=True)
class Binding:
    exchange: str
    routing_key: str


@dataclass(frozen=True)
class QueueSpec:
    """One durable queue with its arguments and bindings."""

    name: str
    arguments: Mapping[str, Any] = field(default_factory=dict)
    bindings: tuple[Binding, ...] = ()


@dataclass(frozen=True)
class Topology:
    """The events exchange and the subscriptions (queue name -> event types) to declare.

    `registry` gives each event type's routing key; the consumers also decode with it.
    """

    registry: EventRegistry = field(compare=False, repr=False)
    subscriptions: Mapping[str, tuple[str, ...]] = field(default_factory=dict)
    exchange: str = DEFAULT_EXCHANGE
    retry_delays: tuple[float, ...] = DEFAULT_RETRY_DELAYS
    queue_type: QueueType = "classic"

    def __post_init__(self) -> None:
        normalised = {queue: tuple(types) for queue, types in self.subscriptions.items()}
        object.__setattr__(self, "subscriptions", normalised)
        object.__setattr__(self, "retry_delays", tuple(float(d) for d in self.retry_delays))
        if not self.exchange:
            raise ValueError("the events exchange needs a name (not the default exchange)")
        if any(delay <= 0 for delay in self.retry_delays):
            raise ValueError("retry delays must be positive")
        if self.queue_type not in ("classic", "quorum"):
            raise ValueError(f"unknown queue type {self.queue_type!r}")
        for queue, types in normalised.items():
            if not queue or queue.startswith("amq."):
                raise ValueError(f"invalid queue name {queue!r}")
            for event_type in types:
                self.registry.routing_key(event_type)  # raises UnknownEventType

    # -- derived names ------------------------------------------------------------------
    def routing_key(self, event_type: str) -> str:
        return self.registry.routing_key(event_type)

    def routing_keys(self, queue: str) -> tuple[str, ...]:
        return tuple(self.routing_key(t) for t in self._types(queue))

    @property
    def retry_levels(self) -> int:
        return len(self.retry_delays)

    def retry_queue(self, queue: str, level: int) -> str:
        if not 1 <= level <= self.retry_levels:
            raise ValueError(f"retry level {level} outside 1..{self.retry_levels}")
        return retry_queue_name(queue, level)

    def parking_queue(self, queue: str) -> str:
        self._types(queue)
        return parking_queue_name(queue)

    def republish_exchange(self, queue: str) -> str:
        """The exchange a consumer of `queue` publishes its retry and parking copies to (the
        routing key is the target queue's name)."""
        self._types(queue)
        return ""

    def with_subscriptions(self, subscriptions: Mapping[str, Iterable[str]]) -> Topology:
        """A copy with more subscriptions (a queue already present gets the union of types)."""
        merged = {queue: list(types) for queue, types in self.subscriptions.items()}
        for queue, types in subscriptions.items():
            current = merged.setdefault(queue, [])
            current.extend(t for t in types if t not in current)
        return Topology(
            self.registry,
            {queue: tuple(types) for queue, types in merged.items()},
            exchange=self.exchange,
            retry_delays=self.retry_delays,
            queue_type=self.queue_type,
        )

    # -- what to declare ----------------------------------------------------------------
    def queue_specs(self, queue: str) -> list[QueueSpec]:
        """The subscription queue, its retry queues and its parking queue."""
        base = self._queue_arguments()
        specs = [
            QueueSpec(
                queue,
                dict(base),
                tuple(Binding(self.exchange, key) for key in self.routing_keys(queue)),
            )
        ]
        for level, delay in enumerate(self.retry_delays, start=1):
            arguments = dict(base)
            arguments.update(
                {
                    "x-message-ttl": int(round(delay * 1000)),
                    "x-dead-letter-exchange": "",
                    "x-dead-letter-routing-key": queue,
                }
            )
            specs.append(QueueSpec(retry_queue_name(queue, level), arguments))
        specs.append(QueueSpec(parking_queue_name(queue), dict(base)))
        return specs

    def all_queue_specs(self) -> list[QueueSpec]:
        return [spec for queue in self.subscriptions for spec in self.queue_specs(queue)]

    def declare(self, channel: Any, queues: Iterable[str] | None = None) -> None:
        """Declare the exchange and the queues (all subscriptions, or only `queues`) on a
        py-amqp channel (a kombu pyamqp channel is one). Idempotent."""
        channel.exchange_declare(
            self.exchange, "topic", durable=True, auto_delete=False
        )
        names = list(self.subscriptions) if queues is None else list(queues)
        for name in names:
            for spec in self.queue_specs(name):
                channel.queue_declare(
                    spec.name,
                    durable=True,
                    exclusive=False,
                    auto_delete=False,
                    arguments=dict(spec.arguments) or None,
                )
                for binding in spec.bindings:
                    channel.queue_bind(spec.name, binding.exchange, binding.routing_key)

    def _queue_arguments(self) -> dict[str, Any]:
        return {"x-queue-type": "quorum"} if self.queue_type == "quorum" else {}

    def _types(self, queue: str) -> tuple[str, ...]:
        try:
            return self.subscriptions[queue]
        except KeyError:
            raise KeyError(f"queue {queue!r} is not a subscription of this topology") from None


def definitions(topology: Topology, vhost: str = "/") -> dict[str, Any]:
    """RabbitMQ definitions (the management plugin's import format, `load_definitions`) of
    the topology, for infra/: the exchange, every queue and every binding."""
    specs = topology.all_queue_specs()
    return {
        "vhosts": [{"name": vhost}],
        "exchanges": [
            {
                "name": topology.exchange,
                "vhost": vhost,
                "type": "topic",
                "durable": True,
                "auto_delete": False,
                "internal": False,
                "arguments": {},
            }
        ],
        "queues": [
            {
                "name": spec.name,
                "vhost": vhost,
                "durable": True,
                "auto_delete": False,
                "arguments": dict(spec.arguments),
            }
            for spec in specs
        ],
        "bindings": [
            {
                "source": binding.exchange,
                "vhost": vhost,
                "destination": spec.name,
                "destination_type": "queue",
                "routing_key": binding.routing_key,
                "arguments": {},
            }
            for spec in specs
            for binding in spec.bindings
        ],
    }


def definitions_json(topology: Topology, vhost: str = "/") -> str:
    """`definitions` as stable, indented JSON text."""
    return json.dumps(definitions(topology, vhost), indent=2, sort_keys=True) + "\n"

"""The broker topology: the events exchange and, per subscription queue, its retry and parking
queues. A value object: services and tests build their own and pass it to the relay and the
consumers, which declare it (idempotently) before they publish or consume.

A queue's *namespace* is its name up to the first dot (`risk.declarations` -> `risk`): the
service that owns it. For a subscription queue ``Q`` of namespace ``ns`` bound to event types
``T1, T2`` (routing key ``<category>.<Type>``, from the registry)::

    clearance.events (topic, durable) --[alpha.T1, beta.T2]--> Q (durable)
    ns.retry (direct, durable)        --[Q]--> Q
                                      --[Q.delay.i]--> Q.delay.i
                                      --[Q.parked]--> Q.parked
    Q.delay.1 .. Q.delay.n   the retry queues: durable, x-message-ttl = delay[i], dead-lettered
                             back to Q (x-dead-letter-exchange ns.retry, routing key Q)
    Q.parked                 durable; nothing consumes it; replayed by hand (see parking.py)

Retry and parking copies go through the namespace's own direct exchange `ns.retry` (routing
key = the target queue's name), so a retried event returns only to the queue that failed it,
never to the other subscribers of its type, and a service needs no write permission on the
default exchange (`amq.default`), which reaches every queue of the vhost: with least-privilege
broker users (`Permissions`, `service_permissions`) each service may configure, write and read
only the resources of its namespace, and publish on the events exchange only routing keys of
its own category (topic permissions).

The retry queues were once `Q.retry.<n>`, dead-lettered through the default exchange. RabbitMQ
refuses to redeclare a queue with other arguments, so the new ones have new names: a broker
that holds the old ones keeps working (they drain into Q by themselves, their TTL being short)
and `obsolete_queues` names them for deletion (`delete_obsolete`). Likewise the TTLs are queue
arguments: changing `retry_delays` for an existing queue needs its retry queues deleted first.
"""

from __future__ import annotations

import base64
import functools
import hashlib
import json
import re
import secrets
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any, Literal

from shared.events.registry import EventRegistry

DEFAULT_EXCHANGE = "clearance.events"
DEFAULT_RETRY_DELAYS: tuple[float, ...] = (1.0, 5.0, 30.0)
REPUBLISH_SUFFIX = "retry"
# Quorum queues: a message delivered this many times without being settled (a consumer that
# dies holding it, again and again) is dead-lettered to the parking queue rather than
# redelivered forever. Our consumers settle every message they are given (ack after a
# confirmed retry or parking copy), so only crash loops count towards it.
DELIVERY_LIMIT = 20
# The most messages a parking queue holds; beyond, the broker refuses the copy (reject-publish)
# and the consumer keeps the message in its own queue until room is made. Alert at 80%
# (infra/prometheus/alerts.yml, ParkingQueueNearlyFull).
PARKING_LIMIT = 100_000

QueueType = Literal["classic", "quorum"]


def queue_namespace(queue: str) -> str:
    """The namespace (owning service) of a queue or exchange name: up to the first dot."""
    return queue.split(".", 1)[0]


def retry_queue_name(queue: str, level: int) -> str:
    """The retry queue of `queue` for retry `level` (1-based)."""
    if level < 1:
        raise ValueError("retry levels start at 1")
    return f"{queue}.delay.{level}"


def legacy_retry_queue_name(queue: str, level: int) -> str:
    """The retry queue's former name (dead-lettered through the default exchange)."""
    return f"{queue}.retry.{level}"


def parking_queue_name(queue: str) -> str:
    return f"{queue}.parked"


def republish_exchange_name(queue: str) -> str:
    """The direct exchange through which the copies of `queue`'s messages are republished
    (retry, parking, dead-lettering back, replay): `<namespace>.retry`."""
    return f"{queue_namespace(queue)}.{REPUBLISH_SUFFIX}"


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
    # Subscription queues of a former version that nothing consumes now: deleted (with
    # their retry and parking queues, whatever they hold: copies of logged events) where
    # the connection's user may (`declare` without queues, as the relays call it).
    retired: tuple[str, ...] = ()

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
    @functools.cached_property
    def routed(self) -> frozenset[str]:
        """The event types some subscription hears (the relay publishes only these)."""
        return frozenset(t for types in self.subscriptions.values() for t in types)

    def retired_queues(self) -> list[str]:
        """The retired subscriptions' queues: each, its retry queues and its parking queue."""
        return [name for queue in self.retired
                for name in (queue, *(retry_queue_name(queue, level)
                                      for level in range(1, self.retry_levels + 1)),
                             parking_queue_name(queue))]

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
        return republish_exchange_name(queue)

    def namespaces(self) -> tuple[str, ...]:
        """The namespaces (owning services) of the subscription queues, in order."""
        return tuple(dict.fromkeys(queue_namespace(queue) for queue in self.subscriptions))

    def queues_of(self, namespace: str) -> tuple[str, ...]:
        return tuple(q for q in self.subscriptions if queue_namespace(q) == namespace)

    def republish_exchanges(self) -> tuple[str, ...]:
        return tuple(f"{ns}.{REPUBLISH_SUFFIX}" for ns in self.namespaces())

    def exchanges(self) -> tuple[tuple[str, str], ...]:
        """(name, type) of every exchange the topology's queues are bound to."""
        return ((self.exchange, "topic"), *((e, "direct") for e in self.republish_exchanges()))

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
            retired=self.retired,
        )

    # -- what to declare ----------------------------------------------------------------
    def queue_specs(self, queue: str) -> list[QueueSpec]:
        """The subscription queue, its retry queues and its parking queue.

        Quorum queues (replicated; RabbitMQ 3.10 or later) dead-letter at least once: a
        retry queue's expired message stays in it until the subscription queue confirms the
        copy (`x-dead-letter-strategy`, which needs `x-overflow: reject-publish`); a
        subscription queue's message past `DELIVERY_LIMIT` deliveries goes to parking the same
        way. Classic queues dead-letter at most once (a broker crash mid-way loses the
        message): kept for brokers older than 3.10. Either way the parking queue holds at most
        `PARKING_LIMIT` messages and then refuses more."""
        republish = self.republish_exchange(queue)
        parked = parking_queue_name(queue)
        quorum = self.queue_type == "quorum"
        safe_dead_lettering = {"x-dead-letter-strategy": "at-least-once",
                               "x-overflow": "reject-publish"} if quorum else {}
        subscription = self._queue_arguments()
        if quorum:
            subscription.update({"x-delivery-limit": DELIVERY_LIMIT,
                                 "x-dead-letter-exchange": republish,
                                 "x-dead-letter-routing-key": parked, **safe_dead_lettering})
        specs = [
            QueueSpec(
                queue,
                subscription,
                (*(Binding(self.exchange, key) for key in self.routing_keys(queue)),
                 Binding(republish, queue)),
            )
        ]
        for level, delay in enumerate(self.retry_delays, start=1):
            arguments = self._queue_arguments()
            arguments.update(
                {
                    "x-message-ttl": int(round(delay * 1000)),
                    "x-dead-letter-exchange": republish,
                    "x-dead-letter-routing-key": queue,
                    **safe_dead_lettering,
                }
            )
            name = retry_queue_name(queue, level)
            specs.append(QueueSpec(name, arguments, (Binding(republish, name),)))
        parking = self._queue_arguments()
        parking.update({"x-max-length": PARKING_LIMIT, "x-overflow": "reject-publish"})
        specs.append(QueueSpec(parked, parking, (Binding(republish, parked),)))
        return specs

    def all_queue_specs(self) -> list[QueueSpec]:
        return [spec for queue in self.subscriptions for spec in self.queue_specs(queue)]

    def obsolete_queues(self) -> list[str]:
        """The names of former retry queues (`Q.retry.<n>`) that this topology no longer uses."""
        return [legacy_retry_queue_name(queue, level) for queue in self.subscriptions
                for level in range(1, self.retry_levels + 1)]

    def declare(self, channel: Any, queues: Iterable[str] | None = None) -> None:
        """Declare the events exchange and queues on a py-amqp channel (a kombu pyamqp
        channel is one). Idempotent.

        With `queues` (a consumer's own): those queues with their retry and parking queues,
        their namespace's republish exchange and the bindings; any refusal raises.

        Without (the relay: everything it can): every namespace's queues that the
        connection's user may configure. A least-privilege user is refused the other
        services' namespaces (ACCESS_REFUSED): those are skipped, their owners or the
        definitions loaded at boot declare them. Each namespace is tried on its own channel
        so that a refusal (which closes the channel) leaves `channel` usable.

        The events exchange is declared if the user may configure it; otherwise it must
        exist already (definitions; a passive declaration checks it). Without `queues`, the
        retired subscriptions' queues this user may configure are deleted."""
        declare_exchange = functools.partial(
            _exchange_declare, name=self.exchange, kind="topic")
        if not _attempt(channel, declare_exchange):
            channel.exchange_declare(self.exchange, "topic", passive=True)
        if queues is not None:
            self._declare_queues(channel, list(queues))
            return
        for namespace in self.namespaces():
            own = list(self.queues_of(namespace))
            if not _attempt(channel, functools.partial(self._declare_queues, queues=own)):
                continue  # another service's namespace: not this user's to declare
        for name in self.retired_queues():
            _attempt(channel, functools.partial(_delete_queue, name=name))

    def _declare_queues(self, channel: Any, queues: list[str]) -> None:
        for exchange in dict.fromkeys(self.republish_exchange(q) for q in queues):
            _exchange_declare(channel, name=exchange, kind="direct")
        for name in queues:
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
        return queue_type_arguments(self.queue_type)

    def _types(self, queue: str) -> tuple[str, ...]:
        try:
            return self.subscriptions[queue]
        except KeyError:
            raise KeyError(f"queue {queue!r} is not a subscription of this topology") from None


def queue_type_arguments(queue_type: QueueType) -> dict[str, Any]:
    """The declaration arguments of a durable queue of `queue_type` (and nothing else)."""
    return {"x-queue-type": "quorum"} if queue_type == "quorum" else {}


def _exchange_declare(channel: Any, *, name: str, kind: str) -> None:
    channel.exchange_declare(name, kind, durable=True, auto_delete=False)


def _attempt(channel: Any, action: Callable[[Any], object]) -> bool:
    """Run `action` on a new channel of `channel`'s connection; False if the broker refused
    it (ACCESS_REFUSED closes that channel only)."""
    from amqp.exceptions import AccessRefused

    scratch = channel.connection.channel()
    try:
        action(scratch)
    except AccessRefused:
        return False
    scratch.close()
    return True


def delete_obsolete(channel: Any, topology: Topology) -> list[str]:
    """Delete the former retry queues (`Topology.obsolete_queues`) that exist and are empty;
    the names deleted. A queue still holding messages is left (its TTL brings them back to
    their queue: call again later). Needs configure permission on them (an operator, or the
    owning service)."""
    from amqp.exceptions import AMQPError

    deleted: list[str] = []
    for name in topology.obsolete_queues():
        try:
            _attempt_strict(channel, functools.partial(_passive_queue, name=name))
            _attempt_strict(channel, functools.partial(_delete_if_empty, name=name))
        except AMQPError:
            continue  # absent (NOT_FOUND), not empty (PRECONDITION_FAILED) or not ours
        deleted.append(name)
    return deleted


def _passive_queue(channel: Any, *, name: str) -> None:
    channel.queue_declare(name, passive=True)


def _delete_queue(channel: Any, *, name: str) -> None:
    """Delete a queue whatever it holds (deleting an absent one is no error)."""
    channel.queue_delete(name)


def _delete_if_empty(channel: Any, *, name: str) -> None:
    channel.queue_delete(name, if_empty=True)


def _attempt_strict(channel: Any, action: Callable[[Any], object]) -> None:
    scratch = channel.connection.channel()
    action(scratch)
    scratch.close()


def definitions(topology: Topology, vhost: str = "/") -> dict[str, Any]:
    """RabbitMQ definitions (the management plugin's import format, `load_definitions`) of
    the topology, for infra/: the exchanges, every queue and every binding."""
    specs = topology.all_queue_specs()
    return {
        "vhosts": [{"name": vhost}],
        "exchanges": [
            {
                "name": name,
                "vhost": vhost,
                "type": kind,
                "durable": True,
                "auto_delete": False,
                "internal": False,
                "arguments": {},
            }
            for name, kind in [(topology.exchange, "topic"),
                               *((e, "direct") for e in topology.republish_exchanges())]
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


# -- least-privilege broker users ---------------------------------------------------------------

@dataclass(frozen=True)
class TopicPermission:
    """RabbitMQ topic permissions on one topic exchange: regular expressions over the routing
    keys a user may publish with (`write`) and bind its queues with (`read`)."""

    exchange: str
    write: str
    read: str


@dataclass(frozen=True)
class Permissions:
    """A broker user's permissions in a vhost: regular expressions over resource names
    (`rabbitmqctl set_permissions USER CONFIGURE WRITE READ`) and topic permissions."""

    configure: str
    write: str
    read: str
    topics: tuple[TopicPermission, ...] = ()

    def rabbitmqctl(self, user: str, vhost: str = "/") -> list[list[str]]:
        """The rabbitmqctl argument lists that grant these permissions to `user`."""
        commands = [["set_permissions", "-p", vhost, user, self.configure, self.write,
                     self.read]]
        commands.extend(["set_topic_permissions", "-p", vhost, user, t.exchange, t.write, t.read]
                        for t in self.topics)
        return commands

    def definitions(self, user: str, vhost: str = "/") -> dict[str, list[dict[str, str]]]:
        """The `permissions` and `topic_permissions` of a definitions document."""
        return {
            "permissions": [{"user": user, "vhost": vhost, "configure": self.configure,
                             "write": self.write, "read": self.read}],
            "topic_permissions": [{"user": user, "vhost": vhost, "exchange": t.exchange,
                                   "write": t.write, "read": t.read} for t in self.topics],
        }


@dataclass(frozen=True)
class Grant:
    """More that a service may use besides its namespace and the events exchange (regular
    expressions over resource names, unanchored alternatives; topic permissions)."""

    configure: tuple[str, ...] = ()
    write: tuple[str, ...] = ()
    read: tuple[str, ...] = ()
    topics: tuple[TopicPermission, ...] = ()


def password_hash(password: str, salt: bytes | None = None) -> str:
    """RabbitMQ's `rabbit_password_hashing_sha256` of a broker user's password, as a
    definitions document gives it: base64(salt + sha256(salt + password))."""
    salt = secrets.token_bytes(4) if salt is None else salt
    digest = hashlib.sha256(salt + password.encode("utf-8")).digest()
    return base64.b64encode(salt + digest).decode("ascii")


NOTHING = "^$"  # a pattern no resource name matches (the default exchange's is amq.default)


def any_of(patterns: Iterable[str]) -> str:
    """One anchored regular expression matching any of `patterns` (themselves regexes)."""
    alternatives = list(dict.fromkeys(patterns))
    return f"^({'|'.join(alternatives)})$" if alternatives else NOTHING


def exactly(names: Iterable[str]) -> str:
    """An anchored regular expression matching exactly the given names."""
    return any_of(re.escape(name) for name in names)


def service_permissions(topology: Topology, service: str, *, publishes_events: bool = True,
                        exchanges: Iterable[str] = (), grant: Grant = Grant()) -> Permissions:
    """The least privilege of service `service` (its namespace) under `topology`.

    * configure: its namespace only (`<service>.*`: its queues, retry and parking queues and
      its republish exchange `<service>.retry`), plus `exchanges` it owns outright (e.g. the
      release service's `clearance.releases`). Not the events exchange (the definitions, or
      an operator, create it; the services only check it exists).
    * write: its namespace (publishing its retry and parking copies, binding its queues,
      dead-lettering to its own republish exchange), the events exchange if it
      `publishes_events`, and `exchanges`. Never the default exchange, which reaches any queue.
    * read: its namespace (consuming its queues) and the events exchange (binding its queues).
    * topic permissions on the events exchange: publish only routing keys of its own category
      (`<service>.<Type>`); bind only the routing keys of the events it subscribes to.
    * whatever `grant` adds (e.g. nameko RPC: `rpc_grant`).
    """
    own = rf"{re.escape(service)}\..*"
    events = re.escape(topology.exchange)
    owned = [re.escape(exchange) for exchange in exchanges]
    queues = topology.queues_of(service)
    subscribed = sorted({key for queue in queues for key in topology.routing_keys(queue)})
    return Permissions(
        configure=any_of([own, *owned, *grant.configure]),
        write=any_of([own, *([events] if publishes_events else []), *owned, *grant.write]),
        read=any_of([own, *([events] if queues else []), *grant.read]),
        topics=(TopicPermission(
            topology.exchange,
            write=rf"^{re.escape(service)}\.[^.]+$" if publishes_events else NOTHING,
            read=exactly(subscribed),
        ), *grant.topics),
    )


NAMEKO_RPC_EXCHANGE = "nameko-rpc"  # nameko's default (config RPC_EXCHANGE)
REPLY_KEY = "[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}"  # a uuid4


def rpc_grant(service: str, exchange: str = NAMEKO_RPC_EXCHANGE) -> Grant:
    """What a nameko service with `@rpc` entrypoints needs: its queue `rpc-<service>` bound to
    the RPC exchange with `<service>.*` (declare, bind, consume), and publishing replies on
    that exchange, whose routing keys are the callers' reply ids (uuids): so it can answer
    calls, and call nothing itself (a call's routing key is `<service>.<method>`)."""
    names = [re.escape(exchange), re.escape(f"rpc-{service}")]
    return Grant(configure=tuple(names), write=tuple(names), read=tuple(names),
                 topics=(TopicPermission(exchange, write=f"^{REPLY_KEY}$",
                                         read=exactly([f"{service}.*"])),))


def agency_permissions(queue: str) -> Permissions:
    """A partner agency's user: read (consume) its own queue, nothing else; no configure and
    no write, so it can publish nowhere and bind nothing (the operator binds its queue)."""
    return Permissions(configure=NOTHING, write=NOTHING, read=exactly([queue]))

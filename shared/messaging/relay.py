"""The relay: the log is the outbox. Publishes a category's events, in log order, to RabbitMQ.

One relay per category (the owning service's name) runs in each replica of that service; a
lease `relay:<category>` in the store lets exactly one of them publish, and another takes over
when the holder stops renewing it (crash, partition) within the lease TTL. Each pass:

1. hold (take or renew) the lease;
2. read the category's events after the checkpoint `relay:<category>`, in order (the
   checkpoint is read from the store when the lease is taken, then kept in memory: only the
   lease holder moves it);
3. publish them as one pipelined batch with publisher confirms (persistent, mandatory; the
   topology is declared on every new connection before the first publish). An event of a
   type no subscription of the topology hears is not published (`messages_for`);
4. move the checkpoint, fenced by the lease, to the last event such that it and every event
   before it in the batch were confirmed. A returned (unroutable), nacked or unconfirmed event
   stops progress there: it and what follows are published again on a later pass, after a
   backoff. Consumers deduplicate, so delivery is at-least-once (also after a SIGKILL between
   publish and checkpoint).

It is woken at once by appends made through the same `EventStore` object (`on_append`) and
otherwise polls every `poll_interval`. `Relay` is a plain class (threads, or run it yourself
with `run_once`; the lease and the loop are `leased.LeasedLoop`'s); `RelayProvider` runs it in
a nameko service.
"""

from __future__ import annotations

import json
import os
import socket
import threading
import time
import uuid
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, replace
from typing import Any

from nameko.extensions import DependencyProvider

from shared.events.envelope import RecordedEvent
from shared.eventstore.store import EventStore
from shared.observability.logging import bound, get_logger
from shared.observability.metrics import metrics

from .leased import LeasedLoop
from .publisher import Delivery, Outcome, OutgoingMessage, Publisher, PublishResult
from .store_provider import SharedEventStore
from .topology import Topology

log = get_logger(__name__)

# Seconds between the heartbeats the relay's broker connection exchanges (each pass ticks
# it; passes come at least every `max_backoff`): a broker gone silent (a network partition,
# a host that vanished) is noticed within two of them instead of at the next write.
HEARTBEAT = 30


@dataclass(frozen=True)
class RelaySettings:
    batch_size: int = 500
    poll_interval: float = 0.2  # seconds between polls when no append in this process woke it
    lease_ttl: float = 10.0  # a standby takes over at most this long after the holder died
    max_backoff: float = 5.0  # ceiling of the delay after failed passes
    confirm_timeout: float = 30.0
    # Seconds between checkpoint writes while events keep coming (0: after every pass). The
    # confirmed position is kept in memory and written when this much time has passed, when
    # the relay goes idle and when it stops; a crash republishes at most this much (the
    # consumers' inboxes drop the repeats). Saves one committed write per pass under load.
    checkpoint_interval: float = 0.0
    # Seconds a pass waits, when the previous pass was less than `linger_window` ago, before
    # reading (0: never): under load, events appended meanwhile join its batch; a quiet
    # relay publishes at once.
    linger: float = 0.0
    linger_window: float = 0.05
    # The lease holder's identity. Default: host:pid:random. A stable replica name (the pod
    # name) lets a restarted replica take its own lease back at once instead of after the
    # TTL; it must be unique among the live replicas.
    owner: str | None = None

    @classmethod
    def from_config(cls, config: Mapping[str, Any], base: RelaySettings | None = None) -> RelaySettings:
        """Settings from a nameko config section `RELAY` (keys as the field names)."""
        settings = base or cls()
        section = config.get("RELAY") or {}
        known: dict[str, Any] = {}
        for key, value in section.items():
            if key == "owner":
                known[key] = str(value) if value else None
            elif key in cls.__dataclass_fields__:
                known[key] = type(getattr(settings, key))(value)
            else:
                raise ValueError(f"unknown RELAY setting {key!r}")
        return replace(settings, **known)


def default_owner() -> str:
    return f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:8]}"


def event_message(event: RecordedEvent, exchange: str) -> OutgoingMessage:
    """The broker message of a recorded event: the envelope's wire form as JSON."""
    body = json.dumps(event.to_message(), separators=(",", ":"), ensure_ascii=False)
    return OutgoingMessage(
        body=body.encode("utf-8"),
        routing_key=f"{event.category}.{event.type}",
        message_id=event.event_id,
        exchange=exchange,
        headers={
            "event-type": event.type,
            "event-version": event.version,
            "stream": event.stream,
            "position": event.position,
        },
        correlation_id=event.correlation_id,
        type=event.type,
    )


class Relay(LeasedLoop):
    """Publishes the events of `category` from `store` to the topology's exchange.

    A subclass may publish something else for each event (`messages_for`, e.g. the public
    release notifications) under its own `name` (lease and checkpoint) and declare its own
    exchange on connect (`on_connect`). The lease and the loop: `LeasedLoop`."""

    kind = "relay"

    def __init__(
        self,
        store: EventStore,
        amqp_uri: str,
        topology: Topology,
        category: str,
        *,
        settings: RelaySettings | None = None,
        owner: str | None = None,
        publisher: Publisher | None = None,
        name: str | None = None,
        on_connect: Callable[[Any], None] | None = None,
    ) -> None:
        self.settings = settings or RelaySettings()
        super().__init__(
            store, name or f"relay:{category}",
            owner or self.settings.owner or default_owner(),
            batch_size=self.settings.batch_size, poll_interval=self.settings.poll_interval,
            lease_ttl=self.settings.lease_ttl, max_backoff=self.settings.max_backoff,
            linger=self.settings.linger, linger_window=self.settings.linger_window)
        self.topology = topology
        self.category = category
        self.publisher = publisher or Publisher(
            amqp_uri, on_connect=on_connect or topology.declare,
            confirm_timeout=self.settings.confirm_timeout, heartbeat=HEARTBEAT,
        )
        self.published = 0  # events this instance confirmed and checkpointed
        self._checkpoint: int | None = None  # the confirmed position, known while leading
        self._saved = 0  # the last position this relay wrote as the checkpoint
        self._saved_at = float("-inf")  # the first confirmed pass is written at once
        store.on_append(self._on_append)

    def _on_append(self, appended: Sequence[RecordedEvent]) -> None:
        if any(event.category == self.category for event in appended):
            self._wake.set()

    # -- one pass -----------------------------------------------------------------------
    def run_once(self) -> int:
        """One pass (lease, read, publish, checkpoint); the number of events checkpointed.

        Raises on database errors; broker trouble is reported by a short count (and logged)."""
        self.publisher.tick()
        if not self.hold_lease():
            return 0
        metric_labels = (self.category, self.name)
        if self._checkpoint is None:  # read once per lease: only the holder moves it
            self._checkpoint = self._saved = self.store.checkpoint(self.name)
        checkpoint = self._checkpoint
        batch = self.store.read_all(
            after=checkpoint, limit=self.settings.batch_size, categories=[self.category],
            previous=True,  # so that consumers confirm what they receive by key alone
        )
        if not batch:
            self._failures = 0
            metrics().relay_lag.labels(*metric_labels).set(0)
            return 0
        per_event = [_as_tuple(m) for m in self.messages_for(batch)]
        started = time.perf_counter()
        sent = [m for messages in per_event for m in messages]
        result = self.publisher.publish(sent) if sent else PublishResult(())
        metrics().relay_batch_seconds.labels(*metric_labels).observe(
            time.perf_counter() - started
        )
        deliveries = iter(result.deliveries)
        # Per event: its first delivery not confirmed (None: every one was, or it had none).
        outcomes = [_first_failure([next(deliveries) for _ in messages])
                    for messages in per_event]
        done = 0
        for delivery in outcomes:
            if delivery is not None:
                break
            done += 1
        if done:
            last = batch[done - 1].position
            self._checkpoint = last
            if not self._save_checkpoint(force=False):
                return 0
            self.published += done
            metrics().published.labels(*metric_labels).inc(done)
        returned = [d for d in result.deliveries if d.outcome is Outcome.RETURNED]
        if returned:
            metrics().unroutable.labels(*metric_labels).inc(len(returned))
        if done < len(batch):
            self._failures += 1
            for event, delivery in zip(batch, outcomes, strict=True):
                if delivery is not None:
                    with bound(event_id=event.event_id, consignment_id=event.correlation_id):
                        log.warning("event not confirmed by the broker; will retry",
                                    relay=self.name, position=event.position,
                                    event_type=event.type, outcome=delivery.outcome.value,
                                    reason=delivery.reason)
        else:
            self._failures = 0
        if len(batch) < self.settings.batch_size:
            metrics().relay_lag.labels(*metric_labels).set(len(batch) - done)
        else:
            metrics().relay_lag.labels(*metric_labels).set(self.pending())
        return done

    def _save_checkpoint(self, *, force: bool) -> bool:
        """Write the confirmed position when due (or `force`); False if the lease was lost."""
        position = self._checkpoint
        if position is None or position <= self._saved:
            return True
        now = time.monotonic()
        if not force and now - self._saved_at < self.settings.checkpoint_interval:
            return True
        if not self.store.save_checkpoint(self.name, position, lease=self.name,
                                          owner=self.owner):
            log.warning("relay lease lost; checkpoint not saved", relay=self.name,
                        owner=self.owner, position=position)
            self.lose_lease()
            return False
        self._saved, self._saved_at = position, now
        return True

    def messages_for(self, batch: Sequence[RecordedEvent]
                     ) -> Sequence[OutgoingMessage | Sequence[OutgoingMessage] | None]:
        """What to publish for each event of the batch: a message, several (the event is done
        when every one is confirmed), or None (nothing, the event counts as done). The event
        relay publishes the envelope of every event that a subscription of the topology
        hears; an event type no subscription hears is not published (no queue would take
        it, and a mandatory publish would be returned): the log keeps it (a subscription
        added for it later hears its events from then on, as any new queue does)."""
        routed = self.topology.routed
        exchange = self.topology.exchange
        return [event_message(event, exchange) if event.type in routed else None
                for event in batch]

    def pending(self) -> int:
        """Events of the category after the checkpoint (not yet confirmed by the broker)."""
        return self.store.count(self.store.checkpoint(self.name), [self.category])

    # -- the loop's hooks ---------------------------------------------------------------
    def lease_regained(self) -> None:
        self._checkpoint = None

    def went_idle(self) -> None:
        try:  # write what is confirmed
            self._save_checkpoint(force=True)
        except Exception as exc:  # noqa: BLE001 - tried again on the next pass
            log.warning("could not save the relay checkpoint", relay=self.name,
                        error=f"{type(exc).__name__}: {exc}")

    def stopping(self) -> None:
        try:
            self._save_checkpoint(force=True)
        except Exception:  # noqa: BLE001 - the next holder republishes from the last one
            log.warning("could not save the relay checkpoint", relay=self.name)

    def closed(self) -> None:
        self.publisher.close()


SERVICE_CHECKPOINT_INTERVAL = 0.25
# A busy relay (its previous pass less than `linger_window` ago) waits this long before
# reading, so that more events share one read, one publish and one confirm; the consumers'
# group commit lingers as long (EVENT_HANDLER_LINGER). Measured on the pipeline (bench P1 at
# 50 declarations/s, the four services, alternating runs): 5 ms 39.3 and 38.0 CPU ms per
# declaration, 20 ms 34.7 and 34.3, 50 ms 32.4: 20 ms takes most of the gain for at most
# 20 ms more per hop, and a quiet relay (or consumer) does not linger at all.
SERVICE_LINGER = 0.02


def _as_tuple(messages: OutgoingMessage | Sequence[OutgoingMessage] | None
              ) -> tuple[OutgoingMessage, ...]:
    if messages is None:
        return ()
    if isinstance(messages, OutgoingMessage):
        return (messages,)
    return tuple(messages)


def _first_failure(deliveries: Sequence[Delivery]) -> Delivery | None:
    return next((d for d in deliveries if not d.confirmed), None)


class RelayProvider(DependencyProvider):  # type: ignore[misc]
    """Runs the relay of `category` (default: the service's name) in a nameko service.

    Config: `AMQP_URI`, `EVENT_STORE_URL`, and optionally a `RELAY` section with the fields of
    `RelaySettings` (batch_size, poll_interval, lease_ttl, max_backoff, confirm_timeout,
    checkpoint_interval, linger, linger_window, owner). In a service the checkpoint is
    written at most every `SERVICE_CHECKPOINT_INTERVAL` seconds while events keep coming (and
    whenever the relay goes idle or stops), and a busy relay lingers `SERVICE_LINGER`. The store
    is the container's shared one, so appends by this service
    wake the relay at once. The dependency injected into workers is the `Relay` itself.
    """

    shared_store = SharedEventStore()

    def __init__(
        self,
        topology: Topology,
        category: str | None = None,
        settings: RelaySettings | None = None,
        relay_class: type[Relay] | None = None,
    ) -> None:
        self.topology = topology
        self.category = category
        self.settings = settings
        self.relay_class = relay_class or Relay
        self.relay: Relay | None = None
        self._stop = threading.Event()
        self._gt: Any = None

    def setup(self) -> None:
        config = self.container.config
        store = self.shared_store.open(self.topology.registry)
        self.relay = self.relay_class(
            store,
            config["AMQP_URI"],
            self.topology,
            self.category or self.container.service_name,
            settings=RelaySettings.from_config(
                config, self.settings or RelaySettings(
                    checkpoint_interval=SERVICE_CHECKPOINT_INTERVAL, linger=SERVICE_LINGER)),
            **self.relay_options(config),
        )

    def relay_options(self, config: Mapping[str, Any]) -> dict[str, Any]:
        """More keyword arguments for the relay class, from the service's config."""
        return {}

    def start(self) -> None:
        assert self.relay is not None
        self._stop.clear()
        self._gt = self.container.spawn_managed_thread(
            lambda: self.relay.run(self._stop) if self.relay else None,
            identifier=f"relay:{self.relay.category}",
        )

    def stop(self) -> None:
        self._stop.set()
        if self.relay is not None:
            self.relay.wake()
        if self._gt is not None:
            self._gt.wait()
            self._gt = None

    def kill(self) -> None:
        self._stop.set()
        if self.relay is not None:
            self.relay.wake()

    def get_dependency(self, worker_ctx: Any) -> Relay | None:
        return self.relay

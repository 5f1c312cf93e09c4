"""The relay (the log is the outbox) against a real RabbitMQ and real SQLite / PostgreSQL.

Strategy: a plain `Relay` runs in this process (its thread, or `run_once` by hand for exact
steps) over a fresh database; a kombu or py-amqp client reads the subscription queue that the
relay's topology declared. Each test has its own exchange and queue names in a private vhost.
Broker refusals are produced for real: an unbound routing key (basic.return), a full queue
with `x-overflow=reject-publish` (basic.nack), a closed port (no connection). The replica
test runs two relay processes and SIGKILLs the lease holder.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import kombu
import pytest

from cli.commands.agency import delete_queue
from shared.events.envelope import RecordedEvent
from shared.eventstore.store import EventStore
from shared.messaging.publisher import close_quietly, connect
from shared.messaging.relay import Relay, RelaySettings
from shared.messaging.topology import Topology
from shared.observability.metrics import Metrics, sample
from shared.testing import rabbit
from shared.testing.messaging_app import (
    REGISTRY,
    PingHandled,
    PingUnrouted,
    append_pings,
    make_topology,
    ping,
    topology_env,
)
from shared.testing.processes import REPO_ROOT
from shared.testing.waiting import wait_until

pytestmark = pytest.mark.rabbitmq


@pytest.fixture
def store(store_url: str) -> Iterator[EventStore]:
    store = EventStore(store_url, REGISTRY)
    yield store
    store.close()


@pytest.fixture
def sqlite_store(sqlite_url: str) -> Iterator[EventStore]:
    store = EventStore(sqlite_url, REGISTRY)
    yield store
    store.close()


@pytest.fixture
def topology(unique_name: Callable[[str], str]) -> Topology:
    return make_topology(unique_name("events"), unique_name("pings"))


def queue_of(topology: Topology) -> str:
    return next(iter(topology.subscriptions))


def consume_with_kombu(uri: str, queue: str, count: int, timeout: float = 10.0) -> list[Any]:
    """`count` messages of `queue`, read (and acked) by a kombu consumer."""
    received: list[Any] = []

    def on_message(body: Any, message: Any) -> None:
        received.append(message)
        message.ack()

    deadline = time.monotonic() + timeout
    with kombu.Connection(uri) as connection:
        with connection.Consumer(kombu.Queue(queue, no_declare=True), callbacks=[on_message],
                                 accept=["json"]):
            while len(received) < count:
                remaining = deadline - time.monotonic()
                assert remaining > 0, f"only {len(received)} of {count} messages arrived"
                try:
                    connection.drain_events(timeout=min(remaining, 1.0))
                except TimeoutError:
                    pass
    return received



def test_relay_publishes_appended_events_in_order_persistent(
    store: EventStore, amqp_uri: str, topology: Topology, fresh_metrics: Metrics
) -> None:
    recorded: list[RecordedEvent] = []
    for round_ in range(4):  # alpha events interleaved with beta ones (not this relay's)
        recorded += append_pings(store, 30, start=round_ * 30)
        store.append(f"beta-x{round_}", [REGISTRY.new_event(
            PingHandled(f"x{round_}", round_), correlation_id="C-x", actor="tests")], None)
    relay = Relay(store, amqp_uri, topology, "alpha",
                  settings=RelaySettings(batch_size=50, poll_interval=0.02))
    assert store.checkpoint(relay.name) == 0

    relay.start()
    try:
        wait_until(lambda: store.checkpoint(relay.name) == recorded[-1].position,
                   message="the relay checkpoint to reach the last alpha event")
    finally:
        relay.stop()

    messages = consume_with_kombu(amqp_uri, queue_of(topology), len(recorded))
    assert rabbit.message_count(amqp_uri, queue_of(topology)) == 0
    assert [m.properties["message_id"] for m in messages] == [e.event_id for e in recorded]
    for message, event in zip(messages, recorded, strict=True):
        assert message.properties["delivery_mode"] == 2  # persistent
        assert message.content_type == "application/json"
        assert message.delivery_info["routing_key"] == "alpha.PingRecorded"
        assert message.delivery_info["exchange"] == topology.exchange
        assert RecordedEvent.from_message(message.payload) == event
        assert REGISTRY.decode(RecordedEvent.from_message(message.payload)).seq == \
            event.data["seq"]
    assert relay.published == len(recorded)
    assert sample("clearance_relay_published_total", {"category": "alpha", "relay": "relay:alpha"}) == len(recorded)
    assert sample("clearance_relay_lag_events", {"category": "alpha", "relay": "relay:alpha"}) == 0
    assert sample("clearance_relay_batch_seconds_count", {"category": "alpha", "relay": "relay:alpha"}) >= 3


def test_relay_is_woken_by_an_append_in_its_process(
    sqlite_store: EventStore, amqp_uri: str, topology: Topology, fresh_metrics: Metrics
) -> None:
    relay = Relay(sqlite_store, amqp_uri, topology, "alpha",
                  settings=RelaySettings(poll_interval=30.0))
    lag = {"category": "alpha", "relay": "relay:alpha"}
    assert fresh_metrics.registry.get_sample_value("clearance_relay_lag_events", lag) is None
    relay.start()
    try:
        # The first pass found nothing (it set the lag to 0 after reading): from here on the
        # relay only reads again when woken, or after 30 s.
        wait_until(lambda: fresh_metrics.registry.get_sample_value(
            "clearance_relay_lag_events", lag) == 0,
            message="the relay's first pass to find nothing to publish")
        assert relay.is_leader
        started = time.monotonic()
        [event] = append_pings(sqlite_store, 1)
        wait_until(lambda: sqlite_store.checkpoint(relay.name) == event.position, timeout=5,
                   message="the relay, woken by the append, to publish it")
        assert time.monotonic() - started < 2.0
    finally:
        relay.stop()
    [message] = rabbit.drain(amqp_uri, queue_of(topology))
    assert message.properties["message_id"] == event.event_id


def test_an_event_type_no_subscription_hears_is_not_published_but_passed(
    sqlite_store: EventStore, amqp_uri: str, topology: Topology, fresh_metrics: Metrics,
) -> None:
    [first] = append_pings(sqlite_store, 1)
    unrouted = sqlite_store.append("alpha-u1", [REGISTRY.new_event(
        PingUnrouted("u1", 1), correlation_id="C-u1", actor="tests")], 0)[0]
    [last] = append_pings(sqlite_store, 1, start=2)
    assert "PingUnrouted" not in topology.routed
    relay = Relay(sqlite_store, amqp_uri, topology, "alpha")
    try:
        assert relay.run_once() == 3  # all three done: the middle one needed no publish
        assert sqlite_store.checkpoint(relay.name) == last.position
        assert sample("clearance_relay_unroutable_total",
                      {"category": "alpha", "relay": "relay:alpha"}) in (None, 0)
    finally:
        relay.stop()
    ids = [m.properties["message_id"] for m in rabbit.drain(amqp_uri, queue_of(topology))]
    assert ids == [first.event_id, last.event_id]
    assert unrouted.position < last.position


def test_checkpoint_stops_before_a_returned_unroutable_event(
    sqlite_store: EventStore, amqp_uri: str, topology: Topology, fresh_metrics: Metrics,
    unique_name: Callable[[str], str],
) -> None:
    """A type the topology routes, whose queue was deleted behind the relay's back, is
    returned by the broker: the relay stops there and retries, never skips."""
    wider = topology.with_subscriptions({unique_name("unrouted"): ("PingUnrouted",)})
    relay = Relay(sqlite_store, amqp_uri, wider, "alpha")
    try:
        [warm] = append_pings(sqlite_store, 1)
        assert relay.run_once() == 1  # connected: the topology (both queues) declared
        delete_queue(amqp_uri, unique_name("unrouted"))  # as an operator would
        [first] = append_pings(sqlite_store, 1, start=2)
        unrouted = sqlite_store.append("alpha-u1", [REGISTRY.new_event(
            PingUnrouted("u1", 1), correlation_id="C-u1", actor="tests")], 0)[0]
        [last] = append_pings(sqlite_store, 1, start=3)
        assert relay.run_once() == 1
        assert sqlite_store.checkpoint(relay.name) == first.position
        assert sample("clearance_relay_unroutable_total", {"category": "alpha", "relay": "relay:alpha"}) == 1
        assert sample("clearance_relay_lag_events", {"category": "alpha", "relay": "relay:alpha"}) == 2
        # Nothing changes while PingUnrouted has no queue: the relay retries, never skips.
        assert relay.run_once() == 0
        assert sqlite_store.checkpoint(relay.name) == first.position

        # The queue is declared again: the next pass gets past it.
        connection = connect(amqp_uri)
        try:
            wider.declare(connection.channel())
        finally:
            close_quietly(connection)
        assert relay.run_once() == 2
        assert sqlite_store.checkpoint(relay.name) == last.position
    finally:
        relay.stop()
    # At least once: `last` was confirmed in each of the three passes.
    ids = [m.properties["message_id"] for m in rabbit.drain(amqp_uri, queue_of(topology))]
    assert ids == [warm.event_id, first.event_id, last.event_id, last.event_id,
                   last.event_id]
    assert [m.properties["message_id"] for m in rabbit.drain(
        amqp_uri, unique_name("unrouted"))] == [unrouted.event_id]


def test_checkpoint_stops_before_a_nacked_event(
    sqlite_store: EventStore, amqp_uri: str, topology: Topology, fresh_metrics: Metrics,
    unique_name: Callable[[str], str],
) -> None:
    full = unique_name("full")
    connection = connect(amqp_uri)
    try:
        channel = connection.channel()
        topology.declare(channel)
        channel.queue_declare(full, durable=True, auto_delete=False,
                              arguments={"x-max-length": 1, "x-overflow": "reject-publish"})
        channel.queue_bind(full, topology.exchange, "alpha.PingUnrouted")
    finally:
        close_quietly(connection)

    def unrouted(n: int) -> RecordedEvent:
        return sqlite_store.append(f"alpha-n{n}", [REGISTRY.new_event(
            PingUnrouted(f"n{n}", n), correlation_id=f"C-n{n}", actor="tests")], 0)[0]

    [first] = append_pings(sqlite_store, 1)
    accepted, refused = unrouted(1), unrouted(2)  # the second does not fit: nacked
    [last] = append_pings(sqlite_store, 1, start=3)
    # `full` hears PingUnrouted (declared above, not by the relay, whose topology would
    # declare it as a quorum queue without the length limit).
    relay = Relay(sqlite_store, amqp_uri, topology.with_subscriptions({full: ("PingUnrouted",)}),
                  "alpha", on_connect=topology.declare)
    try:
        assert relay.run_once() == 2
        assert sqlite_store.checkpoint(relay.name) == accepted.position
        assert sample("clearance_relay_published_total", {"category": "alpha", "relay": "relay:alpha"}) == 2

        assert [m.properties["message_id"] for m in rabbit.drain(amqp_uri, full)] == \
            [accepted.event_id]
        assert relay.run_once() == 2  # room again: the nacked event and the rest go through
        assert sqlite_store.checkpoint(relay.name) == last.position
    finally:
        relay.stop()
    assert [m.properties["message_id"] for m in rabbit.drain(amqp_uri, full)] == \
        [refused.event_id]
    assert [m.properties["message_id"] for m in rabbit.drain(amqp_uri, queue_of(topology))] \
        == [first.event_id, last.event_id, last.event_id]


def test_checkpoint_stays_while_the_broker_is_unreachable(
    sqlite_store: EventStore, amqp_uri: str, topology: Topology, fresh_metrics: Metrics
) -> None:
    events = append_pings(sqlite_store, 3)
    unreachable = Relay(sqlite_store, "amqp://guest:guest@127.0.0.1:1/", topology, "alpha",
                        owner="replica-1")
    try:
        assert unreachable.run_once() == 0
        assert sqlite_store.checkpoint(unreachable.name) == 0
        assert sample("clearance_relay_published_total", {"category": "alpha", "relay": "relay:alpha"}) == 0
    finally:
        unreachable.stop()
    # The same replica, once the broker is back, publishes everything.
    relay = Relay(sqlite_store, amqp_uri, topology, "alpha", owner="replica-1")
    try:
        assert relay.run_once() == 3
        assert sqlite_store.checkpoint(relay.name) == events[-1].position
    finally:
        relay.stop()
    assert [m.properties["message_id"] for m in rabbit.drain(amqp_uri, queue_of(topology))] \
        == [e.event_id for e in events]


class RelayProcess:
    """A `python -m shared.testing.messaging_app relay ...` subprocess (a relay replica)."""

    def __init__(self, store_url: str, amqp_uri: str, topology: Topology, log: Path) -> None:
        self.log = log
        self.output = open(log, "wb")  # noqa: SIM115
        self.process = subprocess.Popen(
            [sys.executable, "-m", "shared.testing.messaging_app", "relay", store_url,
             amqp_uri, "1.0"],
            cwd=REPO_ROOT, stdout=self.output, stderr=subprocess.STDOUT,
            env={**os.environ,
                 **topology_env(topology, queue_of(topology)), "PYTHONUNBUFFERED": "1"},
        )

    @property
    def owner(self) -> str | None:
        for line in self.log.read_text(errors="replace").splitlines():
            if line.startswith("RELAY "):
                return line.split(" ", 1)[1]
        return None

    def end(self, sig: int = 15) -> None:
        if self.process.poll() is None:
            self.process.send_signal(sig)
        self.process.wait(15)
        self.output.close()


def test_two_relay_replicas_publish_every_event_in_order(
    store: EventStore, store_url: str, amqp_uri: str, topology: Topology, tmp_path: Path
) -> None:
    """Both replicas run; only the lease holder publishes; after it is SIGKILLed the other
    takes over within the lease TTL, from the checkpoint: nothing lost, order kept."""
    queue = queue_of(topology)
    connection = connect(amqp_uri)
    try:
        topology.declare(connection.channel())
    finally:
        close_quietly(connection)
    replicas = [RelayProcess(store_url, amqp_uri, topology, tmp_path / f"relay{i}.log")
                for i in range(2)]
    try:
        owners = wait_until(lambda: all(r.owner for r in replicas) and [r.owner for r in replicas],
                            timeout=30, message="both relay replicas to start")
        first = append_pings(store, 100)
        wait_until(lambda: store.checkpoint("relay:alpha") == first[-1].position, timeout=15,
                   message="the lease holder to publish the first 100 events")
        before = [m.properties["message_id"] for m in rabbit.drain(amqp_uri, queue)]
        assert before == [e.event_id for e in first]

        holder = wait_until(lambda: _lease_owner(store), message="a lease holder")
        assert holder in owners
        leader = replicas[owners.index(holder)]
        standby = replicas[1 - owners.index(holder)]
        second = append_pings(store, 100, start=100)
        leader.end(9)  # SIGKILL while (probably) publishing the second wave
        third = append_pings(store, 100, start=200)
        expected = [e.event_id for e in second + third]
        seen: list[str] = []

        def all_arrived() -> bool:
            seen.extend(m.properties["message_id"] for m in rabbit.drain(amqp_uri, queue))
            return set(expected) <= set(seen)

        wait_until(all_arrived, timeout=20, message="every event after the takeover")
        assert _lease_owner(store) == standby.owner
        first_seen = list(dict.fromkeys(seen))  # duplicates are allowed (at least once)...
        assert first_seen == expected  # ...but nothing is lost and the order holds
        # Only the lease holder published the first wave: the standby has now published the
        # third wave, and on its one channel any copy of the first wave it had sent would have
        # come before that, so it would be in `seen` already. None is.
        assert not set(seen) & set(before)
        assert store.checkpoint("relay:alpha") == third[-1].position
    finally:
        for replica in replicas:
            replica.end()


def _lease_owner(store: EventStore) -> str | None:
    from shared.eventstore.dialects import mark
    from shared.eventstore.reader import fetch

    rows = store.run(lambda c: fetch(
        c, f"SELECT owner FROM leases WHERE name = {mark(store.dialect)}", ("relay:alpha",)))
    return str(rows[0][0]) if rows else None


def test_definitions_json_describes_the_topology(topology: Topology) -> None:
    from shared.messaging.topology import DELIVERY_LIMIT, PARKING_LIMIT, definitions_json

    queue = queue_of(topology)
    republish = topology.republish_exchange(queue)
    assert republish == f"{queue.split('.')[0]}.retry"
    data = json.loads(definitions_json(topology))
    assert [(e["name"], e["type"]) for e in data["exchanges"]] == [
        (topology.exchange, "topic"), (republish, "direct")]
    names = {q["name"]: q["arguments"] for q in data["queues"]}
    retry_1 = topology.retry_queue(queue, 1)
    assert names[retry_1] == {
        "x-queue-type": "quorum", "x-message-ttl": 200, "x-dead-letter-exchange": republish,
        "x-dead-letter-routing-key": queue, "x-dead-letter-strategy": "at-least-once",
        "x-overflow": "reject-publish"}
    assert names[queue] == {
        "x-queue-type": "quorum", "x-delivery-limit": DELIVERY_LIMIT,
        "x-dead-letter-exchange": republish, "x-dead-letter-routing-key": f"{queue}.parked",
        "x-dead-letter-strategy": "at-least-once", "x-overflow": "reject-publish"}
    assert names[f"{queue}.parked"] == {
        "x-queue-type": "quorum", "x-max-length": PARKING_LIMIT, "x-overflow": "reject-publish"}
    binding = {"vhost": "/", "destination_type": "queue", "arguments": {}}
    assert data["bindings"] == [
        {**binding, "source": topology.exchange, "destination": queue,
         "routing_key": "alpha.PingRecorded"},
        {**binding, "source": republish, "destination": queue, "routing_key": queue},
        {**binding, "source": republish, "destination": retry_1, "routing_key": retry_1},
        {**binding, "source": republish, "destination": topology.retry_queue(queue, 2),
         "routing_key": topology.retry_queue(queue, 2)},
        {**binding, "source": republish, "destination": f"{queue}.parked",
         "routing_key": f"{queue}.parked"},
    ]
    assert ping(1).type == "PingRecorded"


def test_checkpoint_written_at_intervals_when_idle_and_on_stop(
    sqlite_store: EventStore, amqp_uri: str, topology: Topology,
) -> None:
    queue = queue_of(topology)
    first = append_pings(sqlite_store, 2)
    relay = Relay(sqlite_store, amqp_uri, topology, "alpha",
                  settings=RelaySettings(checkpoint_interval=3600.0, poll_interval=0.02))
    try:
        assert relay.run_once() == 2
        assert sqlite_store.checkpoint(relay.name) == first[-1].position  # the first write
        second = append_pings(sqlite_store, 3, start=2)
        assert relay.run_once() == 3  # confirmed, kept in memory: not due yet
        assert sqlite_store.checkpoint(relay.name) == first[-1].position
        assert rabbit.message_count(amqp_uri, queue) == 5
        relay.start()  # its loop finds nothing new: idle, so it writes what is confirmed
        wait_until(lambda: sqlite_store.checkpoint(relay.name) == second[-1].position,
                   timeout=10, message="the idle relay to write its checkpoint")
        third = append_pings(sqlite_store, 1, start=5)
        wait_until(lambda: rabbit.message_count(amqp_uri, queue) == 6, timeout=10,
                   message="the woken relay to publish")
    finally:
        relay.stop()
    assert sqlite_store.checkpoint(relay.name) == third[-1].position  # written on the way out

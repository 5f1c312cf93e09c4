"""M1 (relay throughput with confirms) and M2 (consumer with inbox), side by side with nameko.

M1: ours = `Relay.run_once` passes over N pre-appended events (PostgreSQL store) to a private
vhost with the topology declared (pipelined confirms); peer = nameko's standalone
`event_dispatcher` dispatching the same bodies one by one (a confirm per event). Both into one
bound durable queue each, persistent; the queues are purged between runs.

M2: ours = our `@event_handler` in a `nameko run` process (inbox on PostgreSQL, a trivial
effect); peer = a bare nameko `@event_handler` doing one INSERT per event into the same
database. N events are published before the process starts; the rate is measured from the
first handled event to the last (polling the inbox / the peer's table every 20 ms).
"""

from __future__ import annotations

import time
from contextlib import ExitStack
from pathlib import Path
from tempfile import TemporaryDirectory
from typing import Any

from sqlalchemy import create_engine, text

from bench.harness import Size, Workload
from shared.eventstore.store import EventStore
from shared.messaging.publisher import OutgoingMessage, Publisher, close_quietly, connect
from shared.messaging.relay import Relay, RelaySettings, event_message
from shared.messaging.topology import queue_type_arguments
from shared.testing import databases
from shared.testing.messaging_app import REGISTRY, make_topology, ping
from shared.testing.processes import ServiceProcess
from shared.testing.rabbit import private_vhost

M1_EXCHANGE = "bench.events"
M1_QUEUE = "bench.relay"
PEER_SOURCE = "bench_src"
PEER_QUEUE = "bench.peer"


def append_many(store: EventStore, count: int, per_tx: int = 500) -> None:
    done = 0
    while done < count:
        with store.transaction() as tx:
            for seq in range(done, min(count, done + per_tx)):
                event = ping(seq)
                tx.append(f"alpha-{event.data['ping_id']}", [event], expected_version=0)
        done = min(count, done + per_tx)


def purge(uri: str, *queues: str) -> None:
    connection = connect(uri)
    try:
        channel = connection.channel()
        for queue in queues:
            channel.queue_purge(queue)
    finally:
        close_quietly(connection)


def declare_peer_queue(channel: Any, queue: str, source: str = PEER_SOURCE) -> None:
    """The peer's queue: a quorum queue, as ours (`make_topology`) and the deployment's are,
    so that the ratios compare relays and consumers, not queue types."""
    channel.exchange_declare(f"{source}.events", "topic", durable=True, auto_delete=False)
    channel.queue_declare(queue, durable=True, exclusive=False, auto_delete=False,
                          arguments=queue_type_arguments("quorum"))
    channel.queue_bind(queue, f"{source}.events", "PingRecorded")


class RelayBench:
    def __init__(self, size: Size) -> None:
        self.count = 10_000 if size == "full" else 50
        self.stack = ExitStack()
        self.runs = 0

    def setup(self) -> None:
        self.uri = self.stack.enter_context(private_vhost("clearance_bench"))
        self.url = self.stack.enter_context(databases.postgres_database("clearance_bench"))
        self.store = EventStore(self.url, REGISTRY)
        self.stack.callback(self.store.close)
        self.topology = make_topology(M1_EXCHANGE, M1_QUEUE)
        append_many(self.store, self.count)
        self.events = self.store.read_all(0, limit=self.count + 1, categories=["alpha"])
        assert len(self.events) == self.count
        self.bodies = [event.to_message() for event in self.events]
        connection = connect(self.uri)
        try:
            channel = connection.channel()
            self.topology.declare(channel)
            declare_peer_queue(channel, PEER_QUEUE)
        finally:
            close_quietly(connection)

    def teardown(self) -> None:
        self.stack.close()

    def ours(self) -> float:
        self.runs += 1
        relay = Relay(self.store, self.uri, self.topology, "alpha",
                      settings=RelaySettings(), name=f"bench-relay-{self.runs}")
        try:
            started = time.perf_counter()
            while relay.published < self.count:
                if not relay.run_once() and relay._failures:
                    raise RuntimeError("the relay could not publish")
            elapsed = time.perf_counter() - started
        finally:
            relay.publisher.close()
        purge(self.uri, M1_QUEUE)
        return self.count / elapsed

    def peer(self) -> float:
        from nameko.standalone.events import event_dispatcher

        dispatch = event_dispatcher({"AMQP_URI": self.uri, "serializer": "json"})
        started = time.perf_counter()
        for body in self.bodies:
            dispatch(PEER_SOURCE, "PingRecorded", body)
        elapsed = time.perf_counter() - started
        purge(self.uri, PEER_QUEUE)
        return self.count / elapsed


class ConsumerBench:
    def __init__(self, size: Size) -> None:
        self.count = 3_000 if size == "full" else 40
        self.stack = ExitStack()

    def setup(self) -> None:
        from bench.workloads import m2_services

        self.uri = self.stack.enter_context(private_vhost("clearance_bench"))
        self.url = self.stack.enter_context(databases.postgres_database("clearance_bench"))
        self.directory = Path(self.stack.enter_context(TemporaryDirectory()))
        store = EventStore(self.url, REGISTRY)  # creates the tables
        append_many(store, self.count)
        # as the relay reads them to publish: with their predecessor's hash
        events = store.read_all(0, limit=self.count + 1, categories=["alpha"], previous=True)
        store.close()
        self.engine = create_engine(self.url, isolation_level="AUTOCOMMIT")
        self.stack.callback(self.engine.dispose)
        # The peer's table is made by the schema owner (the services' role may not create
        # tables); the owner's default privileges let the services' role write it.
        owner = create_engine(databases.owner_url(self.url), isolation_level="AUTOCOMMIT")
        try:
            with owner.connect() as connection:
                connection.execute(text(f"CREATE TABLE {m2_services.PEER_TABLE}"
                                        " (event_id varchar(36) primary key)"))
        finally:
            owner.dispose()
        self.topology = make_topology(m2_services.EXCHANGE, m2_services.QUEUE)
        self.queue = m2_services.QUEUE
        self.peer_queue = f"evt-{PEER_SOURCE}-PingRecorded--bench_peer.on_ping"
        self.ours_messages = [event_message(e, self.topology.exchange) for e in events]
        self.peer_messages = [
            OutgoingMessage(body=m.body, routing_key="PingRecorded", message_id=m.message_id,
                            exchange=f"{PEER_SOURCE}.events") for m in self.ours_messages]
        connection = connect(self.uri)
        try:
            channel = connection.channel()
            self.topology.declare(channel)
            declare_peer_queue(channel, self.peer_queue)
        finally:
            close_quietly(connection)

    def teardown(self) -> None:
        self.stack.close()

    def _publish(self, messages: list[OutgoingMessage]) -> None:
        with Publisher(self.uri) as publisher:
            for start in range(0, len(messages), 1000):
                result = publisher.publish(messages[start:start + 1000])
                if not result.ok:
                    raise RuntimeError(f"pre-publish failed: {result.failed[0].reason}")

    def _run(self, service: str, count_sql: str) -> float:
        config = {"AMQP_URI": self.uri, "EVENT_STORE_URL": self.url, "max_workers": 10,
                  "serializer": "json", "LOGGING": {"version": 1, "root": {"level": "WARNING"}}}
        process = ServiceProcess([f"bench.workloads.m2_services:{service}"], config,
                                 self.directory, name=service).start()
        try:
            first: tuple[float, int] | None = None
            deadline = time.monotonic() + 300
            while True:
                with self.engine.connect() as connection:
                    seen = int(connection.execute(text(count_sql)).scalar_one())
                now = time.perf_counter()
                if first is None and seen:
                    first = (now, seen)
                if seen >= self.count:
                    break
                if time.monotonic() > deadline:
                    raise RuntimeError(f"{service}: {seen} of {self.count} after 300 s")
                process.check_alive()
                time.sleep(0.02)
            assert first is not None
            if now <= first[0]:
                return float(self.count)
            return (self.count - first[1]) / (now - first[0])
        finally:
            process.stop()

    def ours(self) -> float:
        with self.engine.connect() as connection:
            connection.execute(text("DELETE FROM inbox"))
        self._publish(self.ours_messages)
        return self._run("OursService",
                         f"SELECT count(*) FROM inbox WHERE consumer = '{self.queue}'")

    def peer(self) -> float:
        from bench.workloads import m2_services

        with self.engine.connect() as connection:
            connection.execute(text(f"DELETE FROM {m2_services.PEER_TABLE}"))
        self._publish(self.peer_messages)
        return self._run("PeerService", f"SELECT count(*) FROM {m2_services.PEER_TABLE}")


def workloads(size: Size) -> list[Workload]:
    relay = RelayBench(size)
    consumer = ConsumerBench(size)
    return [
        Workload(
            id="M1-relay", unit="events/s", goal="ratio >= 5.0 and >= 2,000 events/s",
            ours=relay.ours, peer=relay.peer, peer_name="nameko EventDispatcher",
            check=lambda ours, peer, ratio: ratio is not None and ratio >= 5.0 and ours >= 2000,
            setup=relay.setup, teardown=relay.teardown,
            notes={"events": relay.count, "store": "postgresql",
                   "batch_size": RelaySettings().batch_size,
                   "peer": "nameko.standalone.events.event_dispatcher, one dispatch per event"}),
        Workload(
            id="M2-consumer", unit="events/s", goal="ratio >= 0.7",
            ours=consumer.ours, peer=consumer.peer,
            peer_name="bare nameko @event_handler (one INSERT per event)",
            check=lambda ours, peer, ratio: ratio is not None and ratio >= 0.7,
            setup=consumer.setup, teardown=consumer.teardown,
            notes={"events": consumer.count, "store": "postgresql", "max_workers": 10,
                   "ours": "inbox record + trivial effect in one transaction per event",
                   "peer": "autocommit INSERT of the event id per event, same database"}),
    ]

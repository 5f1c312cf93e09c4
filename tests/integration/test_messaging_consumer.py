"""The idempotent consumer (`@event_handler`) in a real nameko service process.

Strategy: the `beta` service of `shared.testing.messaging_app` runs as `python -m nameko run`
(eventlet monkey patched, as in production) against a real broker and a fresh database; its
handler appends one PingHandled per PingRecorded, so effects are counted in the log. Events
reach it through an in-process `Relay` or are published by hand (duplicates, garbage). Its
metrics are scraped over HTTP. Retry delays are short (tenths of a second) and every wait is
a poll loop with a deadline.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from shared.eventstore.store import EventStore
from shared.messaging.consumer import ATTEMPTS_HEADER, OUTAGES_HEADER
from shared.messaging.parking import list_parked, parked_count, replay_parked
from shared.messaging.publisher import OutgoingMessage, Publisher
from shared.messaging.relay import Relay, event_message
from shared.messaging.topology import Topology
from shared.testing import rabbit
from shared.testing.databases import database_closed
from shared.testing.messaging_app import (
    REGISTRY,
    append_pings,
    config,
    effects,
    make_topology,
    topology_env,
)
from shared.testing.processes import ServiceProcess, free_port, scrape, scraped
from shared.testing.waiting import wait_until

pytestmark = pytest.mark.rabbitmq

BETA = "shared.testing.messaging_app:BetaService"


class Beta:
    """The running beta service and what the tests look at."""

    def __init__(self, process: ServiceProcess, port: int, queue: str) -> None:
        self.process = process
        self.port = port
        self.queue = queue

    def metric(self, name: str) -> float:
        return scraped(self.port, name, {"consumer": self.queue})


@pytest.fixture
def topology(unique_name: Callable[[str], str]) -> Topology:
    return make_topology(unique_name("events"), unique_name("pings"), retry_delays=(0.8, 0.8))


@pytest.fixture
def queue(topology: Topology) -> str:
    return next(iter(topology.subscriptions))


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
def start_beta(
    amqp_uri: str, topology: Topology, queue: str, tmp_path: Path
) -> Iterator[Callable[..., Beta]]:
    started: list[ServiceProcess] = []

    def start(store: EventStore, fail_flag: str = "", precheck: bool = True) -> Beta:
        port = free_port()
        process = ServiceProcess(
            [BETA], config(amqp_uri, store.url, METRICS_PORT=port), tmp_path,
            name=f"beta{len(started)}", env=topology_env(topology, queue, fail_flag, precheck),
        ).start()
        started.append(process)
        wait_until(lambda: process.check_alive() or rabbit.consumer_count(amqp_uri, queue) > 0,
                   timeout=30, message="the beta service to consume")
        wait_until(lambda: process.check_alive() or _up(port), timeout=10,
                   message="the metrics endpoint")
        return Beta(process, port, queue)

    yield start
    for process in started:
        process.stop()


def _up(port: int) -> bool:
    try:
        scrape(port)
        return True
    except OSError:
        return False


def publish(amqp_uri: str, *messages: OutgoingMessage) -> None:
    with Publisher(amqp_uri) as publisher:
        result = publisher.publish(list(messages))
    assert result.ok, result.failed


def test_duplicate_deliveries_have_one_effect(
    store: EventStore, amqp_uri: str, topology: Topology, queue: str,
    start_beta: Callable[..., Beta],
) -> None:
    beta = start_beta(store)
    [event] = append_pings(store, 1)
    message = event_message(event, topology.exchange)
    publish(amqp_uri, message, message)  # the same message twice, in one batch
    wait_until(lambda: beta.metric("clearance_events_duplicates_ignored_total") == 1,
               timeout=15, message="the duplicate to be recognised")
    assert effects(store) == {event.event_id: 1}
    assert beta.metric("clearance_events_consumed_total") == 1
    assert store.inbox_contains(queue, event.event_id)

    publish(amqp_uri, message)  # a late redelivery: the fast path (inbox checked first)
    wait_until(lambda: beta.metric("clearance_events_duplicates_ignored_total") == 2,
               timeout=15, message="the second duplicate")
    assert effects(store) == {event.event_id: 1}
    assert rabbit.message_count(amqp_uri, queue) == 0
    # The two copies of the batch may have been handled concurrently (prefetch): then both
    # passed the inbox fast path and the transaction's inbox record stopped the second.
    assert beta.metric("clearance_handler_seconds_count") in (1, 2)
    beta.process.check_alive()


def test_without_the_precheck_the_transactions_inbox_record_stops_duplicates(
    store: EventStore, amqp_uri: str, topology: Topology, queue: str,
    start_beta: Callable[..., Beta],
) -> None:
    beta = start_beta(store, precheck=False)
    [event] = append_pings(store, 1)
    message = event_message(event, topology.exchange)
    publish(amqp_uri, message)
    wait_until(lambda: beta.metric("clearance_events_consumed_total") == 1, timeout=15,
               message="the event to be handled")
    publish(amqp_uri, message, message)  # two late redeliveries
    wait_until(lambda: beta.metric("clearance_events_duplicates_ignored_total") == 2,
               timeout=15, message="the duplicates to be recognised")
    assert effects(store) == {event.event_id: 1}
    assert beta.metric("clearance_handler_seconds_count") == 3  # the method ran each time
    assert rabbit.message_count(amqp_uri, queue) == 0
    beta.process.check_alive()


def test_failing_handler_is_retried_then_parked_then_replayed_once(
    sqlite_store: EventStore, amqp_uri: str, topology: Topology, queue: str,
    start_beta: Callable[..., Beta], tmp_path: Path,
) -> None:
    flag = tmp_path / "fail"
    flag.touch()
    beta = start_beta(sqlite_store, fail_flag=str(flag))
    [event] = append_pings(sqlite_store, 1)
    relay = Relay(sqlite_store, amqp_uri, topology, "alpha")
    try:
        assert relay.run_once() == 1
    finally:
        relay.stop()

    # Each failure sends the message to the next retry level with its attempt count.
    for level in (1, 2):
        retry_queue = topology.retry_queue(queue, level)
        [waiting] = wait_until(lambda q=retry_queue: rabbit.peek(amqp_uri, q), timeout=10,  # type: ignore[misc]
                               message=f"the message in {retry_queue}")
        assert waiting.properties["message_id"] == event.event_id
        assert waiting.properties["application_headers"][ATTEMPTS_HEADER] == level

    wait_until(lambda: parked_count(amqp_uri, queue) == 1, timeout=10,
               message="the message to be parked")
    listing = list_parked(amqp_uri, queue)
    assert listing.count == 1
    [parked] = listing.messages
    assert parked.message_id == event.event_id
    assert parked.attempts == 3
    assert parked.original_routing_key == "alpha.PingRecorded"
    assert parked.exception_type == "builtins.RuntimeError"
    assert parked.reason.startswith("RuntimeError: failing on purpose")
    assert listing.reasons == {parked.reason: 1}
    assert "on_ping" in parked.headers["x-traceback"]
    assert parked_count(amqp_uri, queue) == 1  # listing does not consume
    assert beta.metric("clearance_events_retried_total") == 2
    assert beta.metric("clearance_events_parked_total") == 1
    assert beta.metric("clearance_events_consumed_total") == 0
    assert effects(sqlite_store) == {}
    for name in (queue, topology.retry_queue(queue, 1), topology.retry_queue(queue, 2)):
        assert rabbit.message_count(amqp_uri, name) == 0  # nothing lost, nothing elsewhere

    flag.unlink()  # the cause is fixed
    result = replay_parked(amqp_uri, queue)
    assert (result.replayed, result.failed, result.remaining) == (1, 0, 0)
    wait_until(lambda: effects(sqlite_store) == {event.event_id: 1}, timeout=10,
               message="the replayed event to take effect")
    wait_until(lambda: beta.metric("clearance_events_consumed_total") == 1, timeout=5)
    assert parked_count(amqp_uri, queue) == 0
    assert beta.metric("clearance_events_parked_total") == 1


@pytest.mark.postgres
def test_a_database_outage_is_retried_until_it_heals_and_nothing_is_parked(
    pg_url: str, amqp_uri: str, topology: Topology, queue: str,
    start_beta: Callable[..., Beta],
) -> None:
    """Infrastructure failures are transient: retried with the longest delay for as long as
    they last, never parked (the old behaviour parked after the retry levels)."""
    store = EventStore(pg_url, REGISTRY)
    try:
        beta = start_beta(store)
        events = append_pings(store, 5)
        with database_closed(pg_url):
            publish(amqp_uri, *(event_message(e, topology.exchange) for e in events))
            # Each message fails on the database far more often than there are retry levels.
            wait_until(lambda: beta.metric("clearance_events_retried_total")
                       >= 3 * topology.retry_levels * len(events), timeout=30,
                       message="the outage's retries")
            assert parked_count(amqp_uri, queue) == 0
            assert beta.metric("clearance_events_parked_total") == 0
            waiting = [m for level in (1, 2)
                       for m in rabbit.peek(amqp_uri, topology.retry_queue(queue, level))]
            for message in waiting:
                headers = message.properties["application_headers"]
                assert headers[ATTEMPTS_HEADER] == 0 and headers[OUTAGES_HEADER] >= 1
                assert "OperationalError" in headers["x-last-error"]
        # The database is back: every event takes effect once, with no replay by hand.
        wait_until(lambda: effects(store) == {e.event_id: 1 for e in events}, timeout=30,
                   message="the events to take effect after the outage")
        wait_until(lambda: beta.metric("clearance_events_consumed_total") == len(events),
                   timeout=10)
        assert parked_count(amqp_uri, queue) == 0
        beta.process.check_alive()
    finally:
        store.close()


def test_undecodable_messages_are_parked_at_once(
    sqlite_store: EventStore, amqp_uri: str, topology: Topology, queue: str,
    start_beta: Callable[..., Beta],
) -> None:
    beta = start_beta(sqlite_store)
    [event] = append_pings(sqlite_store, 1)
    good = event_message(event, topology.exchange)
    unknown = json.loads(good.body)
    unknown.update(event_id="00000000-0000-0000-0000-000000000001", type="NoSuchEvent")
    publish(
        amqp_uri,
        OutgoingMessage(b"{not json", good.routing_key, "garbage-1", topology.exchange),
        OutgoingMessage(json.dumps(unknown).encode(), good.routing_key, unknown["event_id"],
                        topology.exchange),
        good,
    )
    wait_until(lambda: parked_count(amqp_uri, queue) == 2, timeout=15,
               message="the two undecodable messages in parking")
    wait_until(lambda: effects(sqlite_store) == {event.event_id: 1}, timeout=10,
               message="the good message to take effect")
    listing = list_parked(amqp_uri, queue)
    assert sorted(m.message_id or "" for m in listing.messages) == sorted(
        ["garbage-1", unknown["event_id"]])
    assert all(m.reason.startswith("UndecodableMessage: ") for m in listing.messages)
    assert any("UnknownEventType" in m.reason for m in listing.messages)
    assert all(m.attempts == 1 for m in listing.messages)
    assert beta.metric("clearance_events_retried_total") == 0
    assert beta.metric("clearance_events_parked_total") == 2
    beta.process.check_alive()


def test_consumer_started_after_publication_still_receives_the_events(
    sqlite_store: EventStore, amqp_uri: str, topology: Topology, queue: str,
    start_beta: Callable[..., Beta],
) -> None:
    events = append_pings(sqlite_store, 20)
    relay = Relay(sqlite_store, amqp_uri, topology, "alpha")
    try:
        assert relay.run_once() == 20  # declares the topology, then publishes (mandatory)
    finally:
        relay.stop()
    assert rabbit.message_count(amqp_uri, queue) == 20  # waiting for a consumer

    beta = start_beta(sqlite_store)
    wait_until(lambda: effects(sqlite_store) == {e.event_id: 1 for e in events}, timeout=15,
               message="every event to take effect once")
    wait_until(lambda: beta.metric("clearance_events_consumed_total") == 20, timeout=5)
    assert rabbit.message_count(amqp_uri, queue) == 0

"""Consumers trust the log, not the wire: a delivered event the log does not confirm is
refused (`shared.eventstore.confirm`, checked by the group committer).

Two levels, both on the real SQLite and PostgreSQL stores:

* the group committer in-process (`commit_batch`): a batch of genuine events is confirmed
  and recorded by ONE statement; a batch mixing genuine and forged events by two, writing
  the genuine ones and nothing of the forged ones;
* the `beta` service of `shared.testing.messaging_app` as a real nameko process on the real
  broker: forged messages published straight to its exchange (an invented event hashed as
  the log would, a genuine id at another position, altered data with the hash recomputed by
  our own hashing code, a genuine envelope with altered data, a false or malformed previous
  hash, altered data without a previous hash) next to genuine ones. Each forged one is parked at once
  with a reason starting with `forged`, counted, logged at error, and has no effect; the
  genuine ones take effect once.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from shared.events.envelope import RecordedEvent
from shared.eventstore import EventStore
from shared.eventstore import confirm as confirming
from shared.eventstore.confirm import ForgedEvent, confirm, delivered_hash
from shared.eventstore.store import Transaction
from shared.messaging.commit import Item, commit_batch
from shared.messaging.parking import list_parked, parked_count
from shared.messaging.publisher import OutgoingMessage, Publisher
from shared.messaging.relay import event_message
from shared.messaging.topology import Topology
from shared.testing import rabbit
from shared.testing.messaging_app import (
    REGISTRY,
    PingHandled,
    append_pings,
    config,
    effects,
    make_topology,
    topology_env,
)
from shared.testing.processes import ServiceProcess, free_port, scraped
from shared.testing.waiting import wait_until

BETA = "shared.testing.messaging_app:BetaService"


@pytest.fixture
def store(store_url: str) -> Iterator[EventStore]:
    opened = EventStore(store_url, REGISTRY)
    yield opened
    opened.close()


# -- forging, the way someone with publish rights on the broker would -------------------------

def body_of(event: RecordedEvent) -> dict[str, Any]:
    return event.to_message()


def as_event(body: dict[str, Any]) -> RecordedEvent:
    return RecordedEvent.from_message(body, REGISTRY.decode)


def genuine_pings(store: EventStore, count: int) -> list[RecordedEvent]:
    """`count` new pings as the relay publishes them: with their predecessor's hash."""
    pings = append_pings(store, count)
    published = store.read_all(after=pings[0].position - 1, limit=count, previous=True)
    assert [e.event_id for e in published] == [e.event_id for e in pings]
    assert all(e.previous_hash for e in published)
    return published


def rehashed(body: dict[str, Any]) -> dict[str, Any]:
    """`body` made self-consistent: its chain hash recomputed by the project's own hashing
    code on top of the previous hash it carries (the genuine one, read off the broker)."""
    body["hash"] = delivered_hash(body["previous_hash"], as_event(body))
    return body


def invented(genuine: RecordedEvent) -> dict[str, Any]:
    """An event the log never held, hashed as the log would have: a new id."""
    return rehashed({**body_of(genuine), "event_id": str(uuid.uuid4())})


def altered_data(genuine: RecordedEvent, **changes: Any) -> dict[str, Any]:
    body = body_of(genuine)  # id, position, stream, hash and previous hash all genuine
    body["data"] = {**body["data"], "seq": 999}
    return body | changes


def other_position(genuine: RecordedEvent, position: int) -> dict[str, Any]:
    return rehashed({**body_of(genuine), "position": position})


def forged_batch(store: EventStore) -> tuple[list[RecordedEvent], dict[str, dict[str, Any]]]:
    """Four genuine pings g0..g3 (g3's genuine message is never delivered) and forgeries of
    them, by kind: self-consistent ones (their content hashes to their hash on top of the
    previous hash they carry), which only the log refutes, and inconsistent ones, which are
    refused before the log is asked."""
    pings = genuine_pings(store, 4)
    legacy = altered_data(pings[3])
    del legacy["previous_hash"]  # as published before the previous hash was carried
    forgeries = {
        "unknown": invented(pings[0]),
        "position": other_position(pings[3], pings[0].position),
        "rehashed": rehashed(altered_data(pings[3])),
        "altered": altered_data(pings[3]),
        "previous": {**body_of(pings[3]), "previous_hash": pings[1].hash},
        "malformed": {**body_of(pings[3]), "previous_hash": "g" * 64},
        "legacy": legacy,
    }
    return pings, forgeries


REASONS = {
    "unknown": "forged: unknown event id",
    "position": "is at position",
    "rehashed": "has another hash in the log",
    "altered": "does not hash to its hash on top of the previous hash it carries",
    "previous": "does not hash to its hash on top of the previous hash it carries",
    "malformed": "carries a malformed previous hash",
    "legacy": "does not hash to its stored hash",
}
REFUTED_BY_THE_LOG = {"unknown", "position", "rehashed", "legacy"}


# -- the committer, in-process ---------------------------------------------------------------

def handled(event: RecordedEvent) -> Callable[[Transaction], object]:
    payload = event.payload
    new = REGISTRY.new_event(PingHandled(payload.ping_id, payload.seq),
                             correlation_id=event.correlation_id, causation_id=event.event_id,
                             actor="test")
    return lambda tx: tx.append(f"beta-{payload.ping_id}", [new], None)


def outcome(item: Item) -> bool | BaseException:
    assert item.done.ready(), "every item of a batch is settled"
    try:
        return bool(item.done.wait())
    except Exception as exc:  # noqa: BLE001
        return exc


def test_genuine_events_are_confirmed_by_the_log_including_position_one(
    store: EventStore,
) -> None:
    pings = genuine_pings(store, 3)
    assert pings[0].position == 1  # its predecessor is the genesis hash
    assert pings[0].previous_hash == "0" * 64 and pings[1].previous_hash == pings[0].hash
    with store.transaction() as tx:
        assert confirm(tx, pings) == [None, None, None]
        assert confirm(tx, []) == []
    assert [confirming.vouch(e, confirming.delivered_content(e)) for e in pings] == [True] * 3


class Statements:
    """The statements the store's transactions execute."""

    def __init__(self, monkeypatch: pytest.MonkeyPatch) -> None:
        self.executed: list[str] = []
        real_execute = Transaction.execute

        def counting(tx: Transaction, sql: str, params: Any = ()) -> list[Any]:
            self.executed.append(sql)
            return real_execute(tx, sql, params)

        monkeypatch.setattr(Transaction, "execute", counting)

    def recording(self) -> list[str]:  # the inbox records of events joined to the log by key
        return [s for s in self.executed if s.startswith("WITH v (consumer")]

    def confirming(self) -> list[str]:  # the stored rows by event id, with their predecessor
        return [s for s in self.executed if s.startswith("SELECT e.event_id")]


def test_a_batch_of_genuine_events_is_confirmed_and_recorded_by_one_statement(
    store: EventStore, monkeypatch: pytest.MonkeyPatch,
) -> None:
    pings = genuine_pings(store, 3)
    statements = Statements(monkeypatch)
    batch = [Item("q", as_event(json.loads(json.dumps(body_of(e)))), [handled(e)])
             for e in pings]  # as decoded off the wire
    commit_batch(store, batch)
    assert [outcome(i) for i in batch] == [False, False, False]
    assert len(statements.recording()) == 1 and statements.confirming() == []
    assert effects(store) == {e.event_id: 1 for e in pings}

    # delivered again: duplicates, told from forgeries by one confirming query
    again = [Item("q", as_event(body_of(e)), [handled(e)]) for e in pings]
    commit_batch(store, again)
    assert [outcome(i) for i in again] == [True, True, True]
    assert len(statements.confirming()) == 1
    assert effects(store) == {e.event_id: 1 for e in pings}


def test_a_genuine_event_without_its_previous_hash_is_confirmed_by_the_log(
    store: EventStore,
) -> None:
    pings = genuine_pings(store, 2)
    old_style = {**body_of(pings[1])}
    del old_style["previous_hash"]  # published before the previous hash was carried
    batch = [Item("q", as_event(old_style), [handled(pings[1])]),
             Item("q", as_event(old_style), [handled(pings[1])])]
    commit_batch(store, batch)
    assert [outcome(i) for i in batch] == [False, True]
    assert effects(store) == {pings[1].event_id: 1}
    assert store.inbox_contains("q", pings[1].event_id)


def test_a_batch_is_confirmed_with_at_most_two_queries_and_forged_items_have_no_effect(
    store: EventStore, monkeypatch: pytest.MonkeyPatch,
) -> None:
    pings, forgeries = forged_batch(store)
    statements = Statements(monkeypatch)
    forged_events = {kind: as_event(body) for kind, body in forgeries.items()}
    batch = [Item("q", pings[0], [handled(pings[0])]),
             *(Item("q", e, [handled(e)]) for e in forged_events.values()),
             Item("q", pings[1], [handled(pings[1])]),
             Item("q", as_event(json.loads(json.dumps(body_of(pings[2])))),
                  [handled(pings[2])])]  # genuine, as decoded off the wire
    before = store.last_position()
    commit_batch(store, batch)

    # one statement records what the log holds by key; one query tells the rest apart
    assert len(statements.recording()) == 1 and len(statements.confirming()) == 1
    assert not [s for s in statements.executed if s.startswith("DELETE")]
    outcomes = [outcome(i) for i in batch]
    assert outcomes[0] is False and outcomes[-2:] == [False, False]
    for kind, result in zip(forged_events, outcomes[1:-2], strict=True):
        assert isinstance(result, ForgedEvent), kind
        assert str(result).startswith("forged: ") and REASONS[kind] in str(result), kind
    # only the three genuine events took effect, and only they are in the inbox
    assert store.last_position() == before + 3
    assert effects(store) == {e.event_id: 1 for e in pings[:3]}
    assert [e.payload.seq for e in store.read_all(categories=["beta"])] == [0, 1, 2]
    for event in [*forged_events.values(), pings[3]]:
        assert not store.inbox_contains("q", event.event_id)
    assert store.inbox_contains("q", pings[0].event_id)


def test_inconsistent_forgeries_are_refused_without_asking_the_log(
    store: EventStore, monkeypatch: pytest.MonkeyPatch,
) -> None:
    pings, forgeries = forged_batch(store)
    statements = Statements(monkeypatch)
    batch = [Item("q", as_event(body), [handled(pings[3])])
             for kind, body in forgeries.items() if kind not in REFUTED_BY_THE_LOG]
    commit_batch(store, batch)
    assert all(isinstance(outcome(i), ForgedEvent) for i in batch)
    assert statements.recording() == [] and statements.confirming() == []
    assert effects(store) == {}


def test_a_forged_item_stays_refused_when_the_batch_is_written_one_by_one(
    store: EventStore,
) -> None:
    pings, forgeries = forged_batch(store)

    def failing(tx: Transaction) -> None:
        raise RuntimeError("a write that fails: the batch is written again item by item")

    batch = [Item("q", pings[0], [handled(pings[0])]),
             Item("q", as_event(forgeries["altered"]), [handled(pings[3])]),
             Item("q", pings[1], [failing])]
    commit_batch(store, batch)
    assert outcome(batch[0]) is False
    assert isinstance(outcome(batch[1]), ForgedEvent)
    assert isinstance(outcome(batch[2]), RuntimeError)
    assert effects(store) == {pings[0].event_id: 1}


def test_unhashable_content_and_a_nul_in_the_id_are_refused_not_raised(
    store: EventStore,
) -> None:
    [genuine] = append_pings(store, 1)
    nan = as_event(body_of(genuine))
    nan.data["seq"] = float("nan")  # type: ignore[index]
    surrogate = as_event(body_of(genuine))
    surrogate.data["ping_id"] = "\ud800"  # type: ignore[index]
    nul = as_event({**body_of(genuine), "event_id": "\x00" + genuine.event_id})
    with store.transaction() as tx:
        refused = confirm(tx, [nan, surrogate, nul])
    assert [type(r) for r in refused] == [ForgedEvent, ForgedEvent, ForgedEvent]
    assert "cannot be hashed" in str(refused[0]) and "cannot be hashed" in str(refused[1])
    assert str(refused[2]).startswith(f"{confirming.FORGED}: unknown event id")


# -- the consumer, a real service process on the real broker ---------------------------------

@pytest.fixture
def topology(unique_name: Callable[[str], str]) -> Topology:
    return make_topology(unique_name("events"), unique_name("pings"), retry_delays=(0.5, 0.5))


@pytest.mark.rabbitmq
def test_forged_messages_are_parked_at_once_counted_and_have_no_effect(
    store: EventStore, amqp_uri: str, topology: Topology, tmp_path: Path,
) -> None:
    queue = next(iter(topology.subscriptions))
    port = free_port()
    beta = ServiceProcess(
        [BETA], config(amqp_uri, store.url, METRICS_PORT=port), tmp_path, name="beta",
        env=topology_env(topology, queue, precheck=False),  # as the four services run
    ).start()
    try:
        def consuming() -> bool:
            beta.check_alive()  # raises, with its output, if the process died
            return rabbit.consumer_count(amqp_uri, queue) > 0

        wait_until(consuming, timeout=30, message="the beta service to consume")

        def metric(name: str) -> float:
            return scraped(port, name, {"consumer": queue})

        wait_until(lambda: _scrapes(metric), timeout=10, message="the metrics endpoint")
        assert metric("clearance_forged_messages_total") == 0  # exposed before any forgery

        pings, forgeries = forged_batch(store)
        genuine = [event_message(e, topology.exchange) for e in pings[:3]]
        routing_key = genuine[0].routing_key
        forged = {kind: OutgoingMessage(json.dumps(body).encode(), routing_key,
                                        f"forged-{kind}", topology.exchange,
                                        content_type="application/json")
                  for kind, body in forgeries.items()}
        with Publisher(amqp_uri) as publisher:  # one go: genuine and forged share batches
            result = publisher.publish([genuine[0], forged["unknown"], genuine[1],
                                        *(forged[kind] for kind in forged
                                          if kind != "unknown"), genuine[2]])
        assert result.ok, result.failed

        wait_until(lambda: parked_count(amqp_uri, queue) == len(forged), timeout=20,
                   message="the forged messages in parking")
        wait_until(lambda: effects(store) == {e.event_id: 1 for e in pings[:3]}, timeout=10,
                   message="the genuine events to take effect")
        wait_until(lambda: metric("clearance_events_consumed_total") == 3, timeout=5)

        listing = list_parked(amqp_uri, queue)
        parked = {m.message_id: m for m in listing.messages}
        assert set(parked) == {f"forged-{kind}" for kind in forgeries}
        for kind in forgeries:
            message = parked[f"forged-{kind}"]
            assert message.reason.startswith("forged: "), message.reason
            assert REASONS[kind] in message.reason, message.reason
            assert message.attempts == 1  # parked at once: no retry
            assert message.original_routing_key == routing_key
            assert message.exception_type == "shared.eventstore.confirm.ForgedEvent"
        assert metric("clearance_forged_messages_total") == len(forged)
        assert metric("clearance_events_parked_total") == len(forged)
        assert metric("clearance_events_retried_total") == 0
        assert metric("clearance_events_duplicates_ignored_total") == 0
        # no effect: no PingHandled for g3 nor for the forged id, no inbox record of either
        assert [e.payload.seq for e in store.read_all(categories=["beta"])] == [0, 1, 2]
        assert not store.inbox_contains(queue, pings[3].event_id)
        assert not store.inbox_contains(queue, forgeries["unknown"]["event_id"])
        for name in (queue, topology.retry_queue(queue, 1), topology.retry_queue(queue, 2)):
            assert rabbit.message_count(amqp_uri, name) == 0
        errors = [json.loads(line) for line in beta.output().splitlines()
                  if "forged message refused" in line]
        assert len(errors) == len(forged) and {e["level"] for e in errors} == {"error"}
        beta.check_alive()
    finally:
        beta.stop()


def _scrapes(metric: Callable[[str], float]) -> bool:
    try:
        metric("clearance_forged_messages_total")
        return True
    except OSError:
        return False

"""The log follower (a read model fed by tailing the log) on real SQLite and PostgreSQL.

A test read model `followed` (one row per event, the position its primary key: applying an
event twice would fail) is fed by `LogFollower`s run pass by pass (`run_once`) or in their
threads. What is checked: every event applied once, in log order, with its lean payload; the
checkpoint moves in the read model's transaction (a failing page leaves both unchanged); one
replica at a time applies (the lease), another takes over from the checkpoint when the holder
stops; a replica whose lease was taken over writes nothing (the fence).
"""

from __future__ import annotations

import time
from collections.abc import Iterator, Sequence
from datetime import timedelta

import pytest

from shared.eventstore.reader import ScannedEvent
from shared.eventstore.store import EventStore, Transaction
from shared.messaging.follower import LeaseLost, LogFollower
from shared.testing import databases
from shared.testing.messaging_app import REGISTRY, PingUnrouted, append_pings
from shared.testing.waiting import wait_until

FIELDS = {"PingRecorded": ("ping_id",)}


@pytest.fixture
def store(store_url: str) -> Iterator[EventStore]:
    owner = EventStore(databases.owner_url(store_url), REGISTRY)  # the read model's DDL
    with owner.transaction() as tx:
        tx.execute("CREATE TABLE followed (position BIGINT PRIMARY KEY, type TEXT NOT NULL,"
                   " ping_id TEXT)")
        if tx.dialect == "postgresql":
            tx.execute(f"GRANT SELECT, INSERT ON followed TO {databases.SERVICE_ROLE}")
    owner.close()
    store = EventStore(store_url, REGISTRY)
    yield store
    store.close()


def apply(tx: Transaction, rows: Sequence[ScannedEvent]) -> None:
    for position, _event_id, type_, _version, _correlation, _at, payload in rows:
        tx.execute("INSERT INTO followed (position, type, ping_id) VALUES "
                   + ("(%s, %s, %s)" if tx.dialect == "postgresql" else "(?, ?, ?)"),
                   (position, type_, payload.ping_id if payload is not None else None))


def followed(store: EventStore) -> list[tuple[int, str, str | None]]:
    return [tuple(row) for row in store.run(lambda c: _all(c))]


def _all(connection: object) -> list[object]:
    cursor = connection.cursor()  # type: ignore[attr-defined]
    try:
        cursor.execute("SELECT position, type, ping_id FROM followed ORDER BY position")
        return list(cursor.fetchall())
    finally:
        cursor.close()


def unrouted(store: EventStore, n: int) -> None:
    store.append(f"alpha-u{n}", [REGISTRY.new_event(PingUnrouted(f"u{n}", n),
                                                    correlation_id=f"C-u{n}", actor="tests")], 0)


def test_every_event_is_applied_once_in_order_with_the_checkpoint(store: EventStore) -> None:
    pings = append_pings(store, 3)
    unrouted(store, 1)
    follower = LogFollower(store, "tests", FIELDS, apply, batch_size=2, owner="one")
    assert follower.run_once() == 2  # a page of two
    assert store.checkpoint("follow:tests") == pings[1].position
    assert follower.run_once() == 2
    assert follower.run_once() == 0
    rows = followed(store)
    assert [r[0] for r in rows] == list(range(1, 5))
    # the lean payload: the kept field of the types asked for, nothing for the others
    assert rows[:3] == [(p.position, "PingRecorded", p.data["ping_id"]) for p in pings]
    assert rows[3][1:] == ("PingUnrouted", None)
    assert store.checkpoint("follow:tests") == store.last_position() == 4
    # a later append is picked up from the checkpoint
    [more] = append_pings(store, 1, start=10)
    assert follower.run_once() == 1
    assert followed(store)[-1] == (more.position, "PingRecorded", more.data["ping_id"])


def test_a_failing_page_leaves_the_read_model_and_checkpoint_unchanged(
        store: EventStore) -> None:
    append_pings(store, 2)
    failing = {"on": True}

    def apply_or_fail(tx: Transaction, rows: Sequence[ScannedEvent]) -> None:
        apply(tx, rows)
        if failing["on"]:
            raise RuntimeError("the read model's code failed")

    follower = LogFollower(store, "tests", FIELDS, apply_or_fail, owner="one")
    with pytest.raises(RuntimeError):
        follower.run_once()
    assert followed(store) == []
    assert store.checkpoint("follow:tests") == 0
    failing["on"] = False
    assert follower.run_once() == 2
    assert [r[0] for r in followed(store)] == [1, 2]


def test_one_replica_follows_and_another_takes_over_from_the_checkpoint(
        store: EventStore) -> None:
    append_pings(store, 5)
    first = LogFollower(store, "tests", FIELDS, apply, owner="first", lease_ttl=30)
    second = LogFollower(store, "tests", FIELDS, apply, owner="second", lease_ttl=30)
    assert first.run_once() == 5
    assert second.run_once() == 0  # standing by: the lease is the first's
    append_pings(store, 2, start=5)
    assert second.run_once() == 0
    first.start()
    wait_until(lambda: len(followed(store)) == 7, timeout=10, message="the first follows")
    first.stop()  # releases the lease
    append_pings(store, 3, start=7)
    second._next_lease_attempt = 0.0  # ask at once instead of after its standby interval
    assert second.run_once() == 3
    assert [r[0] for r in followed(store)] == list(range(1, 11))  # each once (primary key)


def test_a_replica_whose_lease_was_taken_over_writes_nothing(store: EventStore) -> None:
    append_pings(store, 2)
    stale = LogFollower(store, "tests", FIELDS, apply, owner="stale", lease_ttl=0.5)
    assert stale.run_once() == 2
    append_pings(store, 2, start=2)
    time.sleep(0.6)  # its lease runs out; another replica takes it
    assert store.try_acquire_lease("follow:tests", "other", timedelta(seconds=30))
    stale._lease_until = time.monotonic() + 30  # it believes it still holds it
    stale._renew_at = time.monotonic() + 30
    with pytest.raises(LeaseLost):
        stale.run_once()
    assert [r[0] for r in followed(store)] == [1, 2]
    assert store.checkpoint("follow:tests") == 2

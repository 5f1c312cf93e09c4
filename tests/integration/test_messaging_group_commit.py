"""Group commit (`shared.messaging.commit`): a batch of handled events in one transaction,
and a failing item isolated so the rest still commit. Real SQLite and PostgreSQL stores."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from shared.eventstore import EventStore, WrongExpectedVersion
from shared.eventstore.store import Transaction
from shared.messaging.commit import Item, commit_batch
from shared.messaging.writes import Together
from shared.testing.messaging_app import REGISTRY, PingHandled, append_pings, effects


@pytest.fixture
def store(store_url: str) -> Iterator[EventStore]:
    opened = EventStore(store_url, REGISTRY)
    yield opened
    opened.close()


def handled(event_id: str, ping_id: str, seq: int, expected: int | None = None) -> object:
    new = REGISTRY.new_event(PingHandled(ping_id, seq), correlation_id=ping_id,
                             causation_id=event_id, actor="test")
    return lambda tx: tx.append(f"beta-{ping_id}", [new], expected)


def outcome(item: Item) -> bool | BaseException:
    assert item.done.ready(), "every item of a batch is settled"
    try:
        return bool(item.done.wait())
    except Exception as exc:  # noqa: BLE001
        return exc


def test_a_batch_commits_once_with_duplicates_recognised(store: EventStore) -> None:
    pings = append_pings(store, 3)
    batch = [Item("q", e, [handled(e.event_id, e.data["ping_id"], i)])  # type: ignore[list-item]
             for i, e in enumerate(pings)]
    batch.append(Item("q", pings[0], [handled(pings[0].event_id, "again", 9)]))  # type: ignore[list-item]
    before = store.last_position()
    commit_batch(store, batch)
    assert [outcome(i) for i in batch] == [False, False, False, True]
    assert effects(store) == {e.event_id: 1 for e in pings}
    assert store.last_position() == before + 3

    commit_batch(store, again := [Item("q", pings[1], [])])  # a late redelivery
    assert outcome(again[0]) is True


def test_a_failing_item_is_isolated_and_the_others_commit(store: EventStore) -> None:
    pings = append_pings(store, 3)
    store.append("beta-taken", [REGISTRY.new_event(PingHandled("taken", 0), correlation_id="x",
                                                   actor="test")], 0)

    def failing(tx: Transaction) -> None:
        handled(pings[1].event_id, "taken", 1, expected=0)(tx)  # type: ignore[operator]

    batch = [Item("q", pings[0], [handled(pings[0].event_id, "p0", 0)]),  # type: ignore[list-item]
             Item("q", pings[1], [failing]),
             Item("q", pings[2], [handled(pings[2].event_id, "p2", 2)])]  # type: ignore[list-item]
    commit_batch(store, batch)
    assert outcome(batch[0]) is False and outcome(batch[2]) is False
    assert isinstance(outcome(batch[1]), WrongExpectedVersion)
    assert effects(store) == {pings[0].event_id: 1, pings[2].event_id: 1}
    # the failed event left no inbox record: its retry will be handled
    assert not store.inbox_contains("q", pings[1].event_id)
    assert store.inbox_contains("q", pings[0].event_id)


def test_together_writes_are_applied_once_per_batch_with_every_fresh_event(
    store: EventStore,
) -> None:
    pings = append_pings(store, 3)
    calls: list[list[str]] = []

    def apply_all(tx: Transaction, values: list[str]) -> None:
        calls.append(values)
        for value in values:
            tx.append(f"beta-{value}", [REGISTRY.new_event(
                PingHandled(value, 0), correlation_id=value, actor="test")], 0)

    commit_batch(store, [Item("q", pings[0], [Together(apply_all, "a")])])
    batch = [Item("q", pings[0], [Together(apply_all, "again")]),  # a duplicate: not applied
             Item("q", pings[1], [Together(apply_all, "b")]),
             Item("q", pings[2], [Together(apply_all, "c")])]
    commit_batch(store, batch)
    assert [outcome(i) for i in batch] == [True, False, False]
    assert calls == [["a"], ["b", "c"]]
    assert [e.stream for e in store.read_all(categories=["beta"])] == [
        "beta-a", "beta-b", "beta-c"]

"""The store's contract, written once and run against SQLite and PostgreSQL alike.

Every test uses a fresh database on the real server (or a fresh SQLite file): append and read,
optimistic concurrency, all-or-nothing batches, the registry guarding what is appended, the
global order, consignment reads, the inbox, checkpoints, leases and automatic migrations.
"""

from __future__ import annotations

from datetime import timedelta

import pytest

from shared.events import InvalidEventData, NewEvent, UnknownEventType
from shared.eventstore import DuplicateEventId, EventStore, EventStoreError, WrongExpectedVersion
from shared.eventstore.migrate import current_revision, head_revision
from shared.eventstore.reader import fetch
from shared.observability.metrics import sample

from .conftest import OtherNoted, thing


def test_append_then_read_stream(store: EventStore) -> None:
    recorded = store.append("thing-A", [thing("a"), thing("b")], expected_version=0)
    assert [e.stream_version for e in recorded] == [1, 2]
    assert [e.position for e in recorded] == [1, 2]
    read = store.read_stream("thing-A")
    assert read == recorded
    assert read[1].data == {"name": "b", "amount": "1.00"}
    assert store.read_stream("thing-A", from_version=2) == recorded[1:]
    assert store.stream_version("thing-A") == 2
    assert store.stream_version("thing-none") == 0


def test_wrong_expected_version_is_named_and_stores_nothing(store: EventStore) -> None:
    store.append("thing-A", [thing()], expected_version=0)
    with pytest.raises(WrongExpectedVersion) as behind:
        store.append("thing-A", [thing()], expected_version=0)
    assert behind.value.actual == 1
    with pytest.raises(WrongExpectedVersion):
        store.append("thing-A", [thing()], expected_version=5)  # ahead: no hole allowed
    assert store.stream_version("thing-A") == 1
    assert store.last_position() == 1


def test_batch_is_all_or_nothing(store: EventStore) -> None:
    first = thing("first")
    store.append("thing-A", [first], expected_version=0)
    again = NewEvent(type=first.type, version=1, data=dict(first.data), correlation_id="C1",
                     actor="test", event_id=first.event_id)
    with pytest.raises(DuplicateEventId):
        store.append("thing-B", [thing("ok"), again], expected_version=0)
    assert store.read_stream("thing-B") == []
    # positions stay gap-free after the failed batch
    assert store.append("thing-B", [thing("next")], 0)[0].position == 2


def test_registry_refuses_unknown_and_invalid_events(store: EventStore) -> None:
    with pytest.raises(UnknownEventType):
        store.append("thing-A", [NewEvent("Nope", 1, {}, "C1", "test")], 0)
    with pytest.raises(InvalidEventData):
        store.append("thing-A", [NewEvent("ThingHappened", 1, {"name": 3}, "C1", "test")], 0)
    with pytest.raises(EventStoreError):  # an event of another service's category
        store.append("thing-A", [store.registry.new_event(  # type: ignore[union-attr]
            OtherNoted("n"), correlation_id="C1", actor="t")], 0)
    assert store.last_position() == 0


def test_read_all_in_pages_and_by_category(store: EventStore, registry) -> None:  # type: ignore[no-untyped-def]
    for i in range(7):
        store.append(f"thing-{i}", [thing(str(i))], 0)
        store.append(f"other-{i}", [registry.new_event(OtherNoted(str(i)), correlation_id="C1",
                                                       actor="t")], 0)
    pages = list(store.iter_all(after=0, page=4))
    assert [len(p) for p in pages] == [4, 4, 4, 2]
    positions = [e.position for page in pages for e in page]
    assert positions == list(range(1, 15))
    things = store.read_all(after=0, limit=100, categories=["thing"])
    assert [e.data["name"] for e in things] == [str(i) for i in range(7)]
    assert store.read_all(after=3, limit=2) == [e for p in pages for e in p][3:5]


def test_read_one_consignment_across_services(store: EventStore, registry) -> None:  # type: ignore[no-untyped-def]
    store.append("thing-1", [thing("a", correlation="C1")], 0)
    store.append("thing-2", [thing("b", correlation="C2")], 0)
    store.append("other-1", [registry.new_event(OtherNoted("n"), correlation_id="C1",
                                                actor="t")], 0)
    history = store.read_correlation("C1")
    assert [(e.stream, e.type) for e in history] == [("thing-1", "ThingHappened"),
                                                       ("other-1", "OtherNoted")]
    assert store.read_correlation("C1", up_to=1) == history[:1]


def test_inbox_records_once_in_the_handlers_transaction(store: EventStore) -> None:
    with store.transaction() as tx:
        assert tx.record_inbox("risk.assess", "E1", 1)
        tx.append("thing-A", [thing()], 0)
    with store.transaction() as tx:
        assert not tx.record_inbox("risk.assess", "E1", 1)  # duplicate
    assert store.inbox_contains("risk.assess", "E1")
    assert not store.inbox_contains("payment.assess", "E1")
    # a failed handler leaves neither its inbox record nor its appends
    with pytest.raises(RuntimeError), store.transaction() as tx:
        tx.record_inbox("risk.assess", "E2", 2)
        tx.append("thing-B", [thing()], 0)
        raise RuntimeError("handler failed")
    assert not store.inbox_contains("risk.assess", "E2")
    assert store.read_stream("thing-B") == []


def test_appended_metric_and_listener(store: EventStore) -> None:
    heard = []
    store.on_append(heard.extend)
    store.append("thing-A", [thing(), thing()], 0)
    assert [e.stream_version for e in heard] == [1, 2]
    assert sample("clearance_events_appended_total", {"category": "thing"}) == 2


def test_checkpoints_only_move_forward_and_are_fenced_by_the_lease(store: EventStore) -> None:
    assert store.checkpoint("relay:thing") == 0
    ttl = timedelta(seconds=30)
    assert store.try_acquire_lease("relay:thing", "one", ttl)
    assert not store.try_acquire_lease("relay:thing", "two", ttl)
    assert store.try_acquire_lease("relay:thing", "one", ttl)  # renewal
    assert store.save_checkpoint("relay:thing", 5, lease="relay:thing", owner="one")
    assert not store.save_checkpoint("relay:thing", 9, lease="relay:thing", owner="two")
    assert store.save_checkpoint("relay:thing", 3)
    assert store.checkpoint("relay:thing") == 5
    store.release_lease("relay:thing", "one")
    assert store.try_acquire_lease("relay:thing", "two", ttl)


def test_expired_lease_is_taken_over(store: EventStore) -> None:
    assert store.try_acquire_lease("relay:x", "one", timedelta(seconds=-1))
    assert store.try_acquire_lease("relay:x", "two", timedelta(seconds=30))
    assert not store.try_acquire_lease("relay:x", "one", timedelta(seconds=30))


def test_schema_is_migrated_on_first_use_and_only_once(store_url: str, registry) -> None:  # type: ignore[no-untyped-def]
    first = EventStore(store_url, registry)
    assert current_revision(first.schema_engine) == head_revision()
    first.append("thing-A", [thing()], 0)
    second = EventStore(store_url, registry)  # a second process starting later
    assert second.read_stream("thing-A") == first.read_stream("thing-A")
    [(versions,)] = second.run(lambda c: fetch(c, "SELECT count(*) FROM alembic_version"))
    assert versions == 1
    first.close()
    second.close()


def test_recorded_event_survives_the_wire_form(store: EventStore) -> None:
    from shared.events import RecordedEvent

    recorded = store.append("thing-A", [thing()], 0)[0]
    assert RecordedEvent.from_message(recorded.to_message()) == recorded

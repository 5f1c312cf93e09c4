"""The inbox recorded for a whole batch of handled events in one statement (group commit),
on SQLite and PostgreSQL alike."""

from __future__ import annotations

import pytest

from shared.eventstore import EventStore

from .conftest import thing


def test_many_inbox_records_report_the_new_ones_and_the_duplicates(store: EventStore) -> None:
    with store.transaction() as tx:
        assert tx.record_inbox_many([("risk", "E1", 1)]) == {("risk", "E1")}
    with store.transaction() as tx:
        new = tx.record_inbox_many([
            ("risk", "E1", 1),      # recorded by the earlier transaction
            ("risk", "E2", 2),
            ("payment", "E1", 1),   # another consumer: not a duplicate
            ("risk", "E2", 2),      # repeated within the batch
        ])
    assert new == {("risk", "E2"), ("payment", "E1")}
    assert store.inbox_contains("risk", "E2") and store.inbox_contains("payment", "E1")
    with store.transaction() as tx:
        assert tx.record_inbox_many([]) == set()


def test_a_failed_batch_leaves_no_inbox_record(store: EventStore) -> None:
    with pytest.raises(RuntimeError), store.transaction() as tx:
        tx.record_inbox_many([("risk", "E3", 3), ("risk", "E4", 4)])
        tx.append("thing-A", [thing()], 0)
        raise RuntimeError("a handler's write failed")
    assert not store.inbox_contains("risk", "E3")
    assert not store.inbox_contains("risk", "E4")
    assert store.read_stream("thing-A") == []

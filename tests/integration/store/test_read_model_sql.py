"""The driver-level helpers the read models use on hot paths, on SQLite and PostgreSQL:
`insert_rows` (skip or refuse a taken key) and `EventStore.query`."""

from __future__ import annotations

import pytest
from sqlalchemy import Column, MetaData, String, Table
from sqlalchemy.exc import IntegrityError

from shared.eventstore import EventStore
from shared.eventstore.sql import insert_rows

NOTES = Table("notes_for_test", MetaData(), Column("key", String(20), primary_key=True),
              Column("body", String(100), nullable=False))


def test_insert_rows_skips_or_refuses_taken_keys_and_query_reads_them(store: EventStore) -> None:
    with store.engines.writer.begin() as connection:
        NOTES.create(connection)
        insert_rows(connection, NOTES, [{"key": f"k{i}", "body": f"b{i}"} for i in range(1203)])
        insert_rows(connection, NOTES, [{"key": "k1", "body": "other"},
                                        {"key": "new", "body": "n"}], conflict="key")
    m = store.mark
    assert store.query(f"SELECT count(*) FROM notes_for_test WHERE key <> {m}", ("new",)) == [
        (1203,)]
    assert store.query(f"SELECT body FROM notes_for_test WHERE key IN ({m}, {m}) ORDER BY key",
                       ("k1", "new")) == [("b1",), ("n",)]
    with pytest.raises(IntegrityError), store.engines.writer.begin() as connection:
        insert_rows(connection, NOTES, [{"key": "k2", "body": "taken"}])
    assert store.query(f"SELECT body FROM notes_for_test WHERE key = {m}", ("k2",)) == [("b2",)]

"""Immutability and tamper evidence, on both backends.

The database itself refuses UPDATE and DELETE of events (triggers). To prove the hash chain,
the tests then drop the triggers, as an attacker with database access would, tamper with the
rows directly, and check that the verifier names the first bad position.
"""

from __future__ import annotations

import pytest
from sqlalchemy import text
from sqlalchemy.exc import DBAPIError

from shared.eventstore import EventStore
from shared.eventstore.hashing import chain_hash
from shared.eventstore.verify import verify_log

from .conftest import thing


def fill(store: EventStore, n: int = 8) -> None:
    for i in range(n):
        store.append(f"thing-{i % 3}", [thing(str(i))], expected_version=i // 3)


def execute(store: EventStore, *statements: str) -> None:
    with store.engines.writer.begin() as connection:
        for statement in statements:
            connection.execute(text(statement))


def drop_triggers(store: EventStore) -> None:
    if store.dialect == "postgresql":
        execute(store, "DROP TRIGGER events_immutable ON events",
                "DROP TRIGGER events_no_truncate ON events")
    else:
        execute(store, "DROP TRIGGER events_immutable", "DROP TRIGGER events_no_delete")


@pytest.mark.parametrize("statement", [
    "UPDATE events SET actor = 'mallory' WHERE position = 2",
    "DELETE FROM events WHERE position = 2",
    "DELETE FROM events",
])
def test_the_database_rejects_changes_to_events(store: EventStore, statement: str) -> None:
    fill(store)
    with pytest.raises(DBAPIError, match="immutable"):
        execute(store, statement)
    assert store.read_all(limit=100)[1].actor == "test"
    assert verify_log(store).ok


def test_truncate_is_rejected_on_postgresql(pg_url: str, registry) -> None:  # type: ignore[no-untyped-def]
    store = EventStore(pg_url, registry)
    fill(store)
    with pytest.raises(DBAPIError, match="immutable"):
        execute(store, "TRUNCATE events")
    store.close()


def test_untouched_log_verifies(store: EventStore) -> None:
    fill(store, 20)
    progress: list[int] = []
    result = verify_log(store, page=6, progress=lambda checked, _last: progress.append(checked))
    assert result.ok and result.events_checked == 20 and result.first_bad_position is None
    assert progress[-1] == 20 and len(progress) >= 4


def test_altered_event_is_found(store: EventStore) -> None:
    fill(store)
    drop_triggers(store)
    execute(store, """UPDATE events SET data = '{"amount":"1.00","name":"forged"}'
                      WHERE position = 5""")
    result = verify_log(store)
    assert not result.ok and result.first_bad_position == 5
    assert result.problems[-1].kind == "hash"


def test_deleted_event_is_found(store: EventStore) -> None:
    fill(store)
    drop_triggers(store)
    execute(store, "DELETE FROM events WHERE position = 4")
    result = verify_log(store)
    assert result.first_bad_position == 4 and result.problems[-1].kind == "missing"


def test_deleted_last_event_is_found_by_the_head(store: EventStore) -> None:
    fill(store)
    drop_triggers(store)
    execute(store, "DELETE FROM events WHERE position = 8")
    result = verify_log(store)
    assert result.first_bad_position == 8


def test_swapped_events_are_found(store: EventStore) -> None:
    fill(store)
    drop_triggers(store)
    execute(store,
            "UPDATE events SET position = -1 WHERE position = 3",
            "UPDATE events SET position = 3 WHERE position = 6",
            "UPDATE events SET position = 6 WHERE position = -1")
    assert verify_log(store).first_bad_position == 3


def test_inserted_event_is_found(store: EventStore) -> None:
    """A forged event with a well-formed hash over wrong content, inserted in the middle."""
    fill(store)
    drop_triggers(store)
    execute(store, *[f"UPDATE events SET position = position + 100 WHERE position = {p}"
                     for p in range(8, 4, -1)])
    execute(store, *[f"UPDATE events SET position = position - 99 WHERE position = {p}"
                     for p in range(105, 109)])
    forged_hash = chain_hash("0" * 64, position=5, event_id="f", stream="thing-x",
                             stream_version=1, type="ThingHappened", version=1,
                             correlation_id="C1", causation_id=None, actor="mallory",
                             occurred_at=store.read_all()[0].occurred_at,
                             recorded_at=store.read_all()[0].recorded_at, data_text="{}")
    execute(store, f"""INSERT INTO events (position, event_id, stream, category, stream_version,
        type, version, correlation_id, causation_id, actor, occurred_at, recorded_at, data, hash)
        SELECT 5, 'forged-id', 'thing-x', 'thing', 1, type, version, correlation_id, NULL,
        'mallory', occurred_at, recorded_at, '{{}}', '{forged_hash}' FROM events
        WHERE position = 1""")
    assert verify_log(store).first_bad_position == 5


def test_missing_trigger_is_reported(store: EventStore) -> None:
    fill(store)
    drop_triggers(store)
    result = verify_log(store)
    assert not result.ok
    assert {p.kind for p in result.problems} == {"trigger"}
    assert result.first_bad_position is None

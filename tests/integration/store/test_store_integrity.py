"""Immutability and tamper evidence, on both backends: what the store promises, and what not.

Promised, and tested here:

* The database itself refuses UPDATE and DELETE of events (and TRUNCATE on PostgreSQL), by
  triggers. That stops the application and anyone writing through it; it does not stop the
  database owner, who can drop or disable triggers. The tests below then play that owner.
* An owner who drops the triggers and edits, deletes, inserts or swaps event rows without
  recomputing the hash chain: `verify_log` names the first bad position.
* An owner who edits an event AND recomputes every hash from there on with the project's own
  hashing code (`shared/eventstore/hashing.py`), but leaves the log-head row alone: the head
  no longer matches the end of the chain, and `verify_log` reports the head.
* A missing immutability trigger is reported.

Not promised by the chain ALONE: an owner who rewrites the chain AND the log-head row (and
puts the triggers back) leaves a log whose chain verifies
(`test_a_full_rewrite_with_the_head_fixed_is_not_detected_without_a_seal`). Seals, signed
outside the database, catch it and a truncation: test_seals.py. (The tampering is done as the
schema owner, tests/integration/store/insider.py: on PostgreSQL the service role is refused
before any trigger runs, test_database_roles.py.)
"""

from __future__ import annotations

from contextlib import AbstractContextManager

import pytest
from sqlalchemy.exc import DBAPIError

from shared.eventstore import EventStore
from shared.eventstore.hashing import chain_hash
from shared.eventstore.verify import verify_log

from . import insider
from .conftest import thing


def fill(store: EventStore, n: int = 8) -> None:
    for i in range(n):
        store.append(f"thing-{i % 3}", [thing(str(i))], expected_version=i // 3)


def execute(store: EventStore, *statements: str) -> None:
    """As the schema owner (on PostgreSQL the service role may not even try)."""
    insider.execute(store.url, *statements)


def drop_triggers(store: EventStore) -> None:
    insider.drop_triggers(store.url)


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


# -- an owner who recomputes the chain --------------------------------------------------------

FORGED = insider.FORGED


def triggers_put_back_afterwards(store: EventStore) -> AbstractContextManager[None]:
    return insider.triggers_put_back_afterwards(store.url)


def rechain(store: EventStore, start: int) -> str:
    return insider.rechain(store.url, start)


def test_a_recomputed_chain_is_found_by_the_log_head(store: EventStore) -> None:
    fill(store)
    before = store.read_all(limit=100)
    with triggers_put_back_afterwards(store):
        execute(store, f"UPDATE events SET data = '{FORGED}' WHERE position = 5")
        new_last = rechain(store, 5)
    after = store.read_all(limit=100)
    assert after[4].data["name"] == "forged" and new_last != before[-1].hash
    assert [e.hash for e in after[:4]] == [e.hash for e in before[:4]]  # untouched before 5
    assert all(a.hash != b.hash for a, b in zip(after[4:], before[4:], strict=True))

    result = verify_log(store)
    # The chain itself now links (no hash problem): only the head row gives it away.
    assert not result.ok and result.events_checked == 8
    assert [(p.position, p.kind) for p in result.problems] == [(8, "head")]


def test_a_full_rewrite_with_the_head_fixed_is_not_detected_without_a_seal(
    store: EventStore,
) -> None:
    """The chain alone cannot tell a consistent rewrite from the original: that is what seals
    are for (test_seals.py: the same rewrite, detected by a seal, naming position 5)."""
    fill(store)
    insider.rewrite(store.url, 5)
    assert store.read_all(limit=100)[4].data["name"] == "forged"
    result = verify_log(store)
    assert result.ok and result.events_checked == 8, result.problems  # undetected by the chain

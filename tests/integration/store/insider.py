"""An insider with the database owner's powers, tampering the way a real one would: with the
schema owner's connection (on PostgreSQL the owner role of the test database, since the
service role may not even try), the triggers out of the way and put back afterwards as they
were, the chain recomputed with the project's own open-source hashing code
(`shared/eventstore/hashing.py` `row_hash`), and the log-head row fixed.

Imported by the store tests as `.insider` and by the CLI tests as `integration.store.insider`
(it imports nothing from the test folders)."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from sqlalchemy import Engine, select, text, update

from shared.eventstore.connections import schema_engine
from shared.eventstore.hashing import row_hash
from shared.eventstore.tables import GENESIS_HASH, events, log_head
from shared.testing.databases import owner_url

FORGED = '{"amount":"1000000.00","name":"forged"}'


@contextmanager
def owner(url: str) -> Iterator[Engine]:
    """A SQLAlchemy engine on the store at `url` with the schema owner's rights."""
    engine = schema_engine(owner_url(url) if url.startswith("postgresql") else url)
    try:
        yield engine
    finally:
        engine.dispose()


def execute(url: str, *statements: str) -> None:
    with owner(url) as engine, engine.begin() as connection:
        for statement in statements:
            connection.execute(text(statement))


def drop_triggers(url: str) -> None:
    if url.startswith("postgresql"):
        execute(url, "DROP TRIGGER events_immutable ON events",
                "DROP TRIGGER events_no_truncate ON events")
    else:
        execute(url, "DROP TRIGGER events_immutable", "DROP TRIGGER events_no_delete")


@contextmanager
def triggers_put_back_afterwards(url: str) -> Iterator[None]:
    """The triggers dropped for the edit, then created again from their own saved SQL, as an
    owner covering their tracks would (so the verifier's trigger check has nothing to say)."""
    if url.startswith("postgresql"):
        with owner(url) as engine, engine.connect() as connection:
            saved = [*connection.execute(text(
                "SELECT pg_get_functiondef('clearance_events_immutable'::regproc)")).scalars(),
                *connection.execute(text(
                    "SELECT pg_get_triggerdef(oid) FROM pg_trigger WHERE tgrelid = "
                    "'events'::regclass AND NOT tgisinternal")).scalars()]
        assert len(saved) == 3
        execute(url, "DROP FUNCTION clearance_events_immutable() CASCADE")
        yield
        execute(url, *saved)
        return
    with owner(url) as engine, engine.connect() as connection:
        saved = list(connection.execute(text(
            "SELECT sql FROM sqlite_master WHERE type = 'trigger' AND tbl_name = 'events'"
        )).scalars())
    assert len(saved) == 2
    drop_triggers(url)
    yield
    execute(url, *saved)


def rechain(url: str, start: int) -> str:
    """Recompute the stored hash of every event from `start` on, with the project's own
    hashing code, over the rows as they now stand; the new last hash."""
    with owner(url) as engine, engine.begin() as connection:
        rows = connection.execute(select(events).order_by(events.c.position)).mappings().all()
        previous = GENESIS_HASH
        for row in rows:
            digest = row["hash"]
            if row["position"] >= start:
                digest = row_hash(previous, row)
                connection.execute(update(events).where(events.c.position == row["position"])
                                   .values(hash=digest))
            previous = digest
    return previous


def fix_head(url: str) -> None:
    """Point the log-head row at the last event as it now stands."""
    with owner(url) as engine, engine.begin() as connection:
        last = connection.execute(
            select(events.c.position, events.c.hash).order_by(events.c.position.desc())
            .limit(1)).one_or_none()
        position, digest = (last[0], last[1]) if last else (0, GENESIS_HASH)
        connection.execute(update(log_head).where(log_head.c.id == 1)
                           .values(position=position, hash=digest))


def rewrite(url: str, position: int, data: str = FORGED) -> None:
    """The full insider rewrite: event `position`'s data replaced, every following hash
    recomputed, the head fixed, the triggers put back."""
    with triggers_put_back_afterwards(url):
        execute(url, f"UPDATE events SET data = '{data}' WHERE position = {position}")
        rechain(url, position)
        fix_head(url)


def cut_tail(url: str, keep: int) -> None:
    """Delete every event after position `keep` and fix the head, the triggers put back."""
    with triggers_put_back_afterwards(url):
        execute(url, f"DELETE FROM events WHERE position > {keep}")
        fix_head(url)

"""Database roles on the real PostgreSQL (issue 11): the services' role reads the log and
appends through the owner's definer functions, writes its bookkeeping and read models, and
is refused (a PERMISSION error, SQLSTATE 42501, before any trigger runs) every statement that
could change or remove what the log holds. Services never migrate PostgreSQL: on a database
`clearance migrate` has not prepared they refuse to start, naming it."""

from __future__ import annotations

import sys
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import psycopg2
import pytest
from psycopg2 import errors

from shared.events import EventRegistry
from shared.eventstore import EventStore
from shared.eventstore.migrate import SchemaNotCurrent, current_revision, head_revision
from shared.testing import databases
from shared.testing.processes import ServiceProcess, free_port
from shared.testing.rabbit import private_vhost
from shared.testing.waiting import wait_until

from .conftest import thing

pytestmark = pytest.mark.postgres

FORBIDDEN = [
    "UPDATE events SET data = '{}'",
    "DELETE FROM events",
    "TRUNCATE events",
    "TRUNCATE event_log_head",
    "DROP TRIGGER events_immutable ON events",
    "DROP TRIGGER events_no_truncate ON events",
    "ALTER TABLE events DISABLE TRIGGER events_immutable",
    "ALTER TABLE events ENABLE REPLICA TRIGGER events_immutable",
    "ALTER TABLE events ADD COLUMN extra integer",
    "ALTER TABLE events RENAME TO events_old",
    "DROP TABLE events",
    "DROP TABLE event_log_head",
    "UPDATE event_log_head SET position = 0",
    "DELETE FROM event_log_head",
    "SELECT position FROM event_log_head WHERE id = 1 FOR UPDATE",
    # A row of its own, with a hash of its own: only `clearance_append` inserts events.
    "INSERT INTO events SELECT * FROM events",
    "DROP FUNCTION clearance_events_immutable() CASCADE",
    "DROP FUNCTION clearance_lock_appends()",
    "CREATE OR REPLACE FUNCTION clearance_events_immutable() RETURNS trigger "
    "LANGUAGE plpgsql AS $$ BEGIN RETURN NULL; END $$",
    "CREATE TABLE planted (id integer)",
    "UPDATE alembic_version SET version_num = '0001'",
    "SET session_replication_role = replica",
    "ALTER TABLE inbox ADD COLUMN extra integer",  # no DDL on its own tables either
]


@pytest.fixture
def service_store(pg_url: str, registry: EventRegistry) -> Iterator[EventStore]:
    """A store opened as the SERVICE role (what `pg_url` gives), holding one event."""
    assert databases.SERVICE_ROLE in pg_url
    store = EventStore.for_service(pg_url, registry)
    store.append("thing-1", [thing("a")], 0)
    yield store
    store.close()


@pytest.mark.parametrize("statement", FORBIDDEN)
def test_the_service_role_is_refused_with_a_permission_error(service_store: EventStore,
                                                             statement: str) -> None:
    connection = psycopg2.connect(service_store.pool._dsn)
    try:
        with pytest.raises(errors.InsufficientPrivilege), connection.cursor() as cursor:
            cursor.execute(statement)
    finally:
        connection.close()
    assert service_store.last_position() == 1
    assert [e.stream for e in service_store.read_all()] == ["thing-1"]


def test_the_service_role_appends_and_writes_what_services_write(
        service_store: EventStore) -> None:
    service_store.append("thing-1", [thing("b"), thing("c")], 1)  # one-statement append
    with service_store.transaction() as tx:  # a consumer's transaction
        tx.append("thing-2", [thing("d")], 0)
        assert tx.record_inbox("consumer", "event-1", 1)
        assert not tx.record_inbox("consumer", "event-1", 1)
        tx.execute("UPDATE inbox SET position = 2 WHERE consumer = 'consumer'")
    with service_store.transaction() as tx:  # holds appends back (a rebuild's catch-up)
        tx.lock_appends()
        assert tx.last_position() == 4
    assert service_store.save_checkpoint("relay", 4)
    assert service_store.checkpoint("relay") == 4
    assert service_store.try_acquire_lease("relay", "me", timedelta(seconds=30))
    assert service_store.save_checkpoint("relay", 4, lease="relay", owner="me")
    service_store.release_lease("relay", "me")  # a DELETE on leases
    assert service_store.try_acquire_lease("relay", "other", timedelta(seconds=30))
    with service_store.transaction() as tx:  # read models: every kind of write
        tx.execute("INSERT INTO release_cases VALUES ('c1', '{}', 'held', 1)")
        tx.execute("UPDATE release_cases SET outcome = 'released' WHERE consignment_id = 'c1'")
        tx.execute("INSERT INTO risk_cases VALUES ('m1', 'c1', 'green')")
        for table in ("declaration_status", "risk_cases", "payment_cases",
                      "payment_references", "release_cases"):
            tx.execute(f"DELETE FROM {table}")
    assert [e.position for e in service_store.read_all()] == [1, 2, 3, 4]
    from shared.eventstore.verify import verify_log

    assert verify_log(service_store).ok  # the chain, checked as the service role can read it


def test_tables_the_owner_creates_later_are_written_by_the_service_role(pg_url: str) -> None:
    """A rebuild (run by the owner) swaps in new read-model tables: the services keep
    writing them (the owner's default privileges)."""
    owner = psycopg2.connect(databases.owner_url(pg_url))
    owner.autocommit = True
    service = psycopg2.connect(pg_url)
    service.autocommit = True
    try:
        with owner.cursor() as cursor:
            cursor.execute("CREATE TABLE release_cases__new (LIKE release_cases)")
        with service.cursor() as cursor:
            cursor.execute("INSERT INTO release_cases__new VALUES ('c', '{}', 'held', 1)")
            cursor.execute("UPDATE release_cases__new SET outcome = 'released'")
            cursor.execute("DELETE FROM release_cases__new")
    finally:
        owner.close()
        service.close()


def test_the_owner_keeps_its_powers(pg_url: str, registry: EventRegistry) -> None:
    store = EventStore(databases.owner_url(pg_url), registry)
    try:
        store.append("thing-1", [thing("a")], 0)
        with pytest.raises(Exception, match="immutable"):  # the trigger, for the owner too
            store.run(lambda c: c.cursor().execute("DELETE FROM events"))
        store.run(lambda c: c.cursor().execute("ALTER TABLE inbox ADD COLUMN extra integer"))
    finally:
        store.close()


def test_a_service_refuses_an_unmigrated_database_naming_clearance_migrate(
        registry: EventRegistry) -> None:
    with databases.postgres_database(migrated=False) as url:
        with pytest.raises(SchemaNotCurrent, match="clearance migrate") as refused:
            EventStore.for_service(url, registry)
        assert "an empty database" in str(refused.value)
        owner = databases.owner_url(url)
        engine = EventStore(owner, registry, migrate=False).schema_engine
        try:
            assert current_revision(engine) is None  # the service created nothing
        finally:
            engine.dispose()


def test_a_service_refuses_a_schema_behind_the_head(registry: EventRegistry) -> None:
    with databases.postgres_database() as url:
        owner = psycopg2.connect(databases.owner_url(url))
        owner.autocommit = True
        try:
            with owner.cursor() as cursor:
                cursor.execute("UPDATE alembic_version SET version_num = '0004'")
        finally:
            owner.close()
        with pytest.raises(SchemaNotCurrent, match=f"revision 0004, not revision "
                                                   f"{head_revision()}.*clearance migrate"):
            EventStore.for_service(url, registry)


def test_sqlite_still_migrates_itself_for_a_service(sqlite_url: str,
                                                    registry: EventRegistry) -> None:
    store = EventStore.for_service(sqlite_url, registry)
    try:
        assert current_revision(store.schema_engine) == head_revision()
        store.append("thing-1", [thing("a")], 0)
    finally:
        store.close()


def test_a_service_process_does_not_start_on_an_unmigrated_database(tmp_path: Path) -> None:
    from shared.identity.development import dev_environment

    with private_vhost("clearance_roles") as amqp_uri, \
            databases.postgres_database(migrated=False) as url:
        config = {"AMQP_URI": amqp_uri, "EVENT_STORE_URL": url,
                  "WEB_SERVER_ADDRESS": f"127.0.0.1:{free_port()}", "max_workers": 4,
                  "serializer": "json", **dev_environment(tmp_path / "var")}
        process = ServiceProcess(["services.declaration.service"], config, tmp_path,
                                 name="declaration").start()
        try:
            wait_until(lambda: not process.alive, timeout=60,
                       message="the service to exit")
        finally:
            process.stop()
        assert process.process is not None and process.process.returncode != 0
        assert "clearance migrate" in process.output(), process.output()[-3000:]
        engine = EventStore(databases.owner_url(url), None, migrate=False).schema_engine
        try:
            assert current_revision(engine) is None
        finally:
            engine.dispose()
    assert sys.executable

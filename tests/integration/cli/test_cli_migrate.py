"""`clearance migrate` (issue 11, database roles): run once as the schema owner, it migrates
and grants the service role exactly what the services need; run again it changes nothing and
says so; on SQLite it only migrates. The real command in a child process, on the real
PostgreSQL."""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator
from pathlib import Path

import psycopg2
import pytest
from clirun import clearance
from psycopg2 import sql
from sqlalchemy.engine import make_url

from shared.eventstore import EventStore
from shared.eventstore.migrate import head_revision
from shared.testing import databases

HEAD = head_revision()


def privileges(url: str, role: str, table: str) -> set[str]:
    connection = psycopg2.connect(databases.as_role(url, "admin"))
    try:
        with connection.cursor() as cursor:
            cursor.execute(
                "SELECT p FROM unnest(ARRAY['SELECT','INSERT','UPDATE','DELETE','TRUNCATE',"
                "'REFERENCES','TRIGGER']) AS p WHERE has_table_privilege(%s, %s, p)",
                (role, table))
            return {row[0] for row in cursor.fetchall()}
    finally:
        connection.close()


def may_execute(url: str, role: str, function: str) -> bool:
    connection = psycopg2.connect(databases.as_role(url, "admin"))
    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT has_function_privilege(%s, %s, 'EXECUTE')", (role, function))
            return bool(cursor.fetchone()[0])
    finally:
        connection.close()


@pytest.fixture
def empty_pg() -> Iterator[str]:
    """An empty database owned by the owner role: the SERVICE role's URL."""
    with databases.postgres_database(migrated=False) as url:
        yield url


def migrate(service_url: str, owner_url: str, *args: str) -> tuple[int, str, str]:
    run = clearance("migrate", *args, url=service_url,
                    env={"EVENT_STORE_OWNER_URL": owner_url})
    return run.code, run.out, run.err


@pytest.mark.postgres
def test_migrate_as_owner_grants_the_service_role_and_is_idempotent(empty_pg: str) -> None:
    owner = databases.owner_url(empty_pg)
    role = databases.SERVICE_ROLE
    code, out, err = migrate(empty_pg, owner, "--service-role", role)
    assert code == 0, err
    assert f"schema at revision {HEAD} (migrated from an empty database)" in out
    assert f"{role}: SELECT on alembic_version, event_log_head, events" in out
    assert f"{role}: EXECUTE on clearance_append, clearance_lock_appends" in out

    assert privileges(empty_pg, role, "events") == {"SELECT"}
    assert privileges(empty_pg, role, "event_log_head") == {"SELECT"}
    assert privileges(empty_pg, role, "alembic_version") == {"SELECT"}
    for table in ("inbox", "relay_checkpoints", "leases", "declaration_status", "risk_cases",
                  "payment_cases", "payment_references", "release_cases"):
        assert privileges(empty_pg, role, table) == {"SELECT", "INSERT", "UPDATE", "DELETE"}
    for function in ("clearance_lock_appends()", "clearance_append(text, text, integer, "
                     "timestamptz, text, text[], text[], integer[], text[], text[], text[], "
                     "timestamptz[], text[], text[], text[])"):
        assert may_execute(empty_pg, role, function)
        assert not may_execute(empty_pg, "public", function)  # revoked from PUBLIC

    again, out_again, err_again = migrate(empty_pg, owner, "--service-role", role, "--json")
    assert again == 0, err_again
    report = json.loads(out_again)
    assert report["migrated"] is False and report["from"] == HEAD and report["revision"] == HEAD
    assert report["role_created"] is False and report["read_only"] == [
        "alembic_version", "event_log_head", "events"]
    assert privileges(empty_pg, role, "events") == {"SELECT"}

    store = EventStore.for_service(empty_pg, None)  # the services start, as the service role
    try:
        from shared.events import NewEvent

        store.append("thing-1", [NewEvent(event_id=str(uuid.uuid4()), type="T", version=1,
                                          data={}, correlation_id="c", actor="a")], 0)
        assert store.last_position() == 1
    finally:
        store.close()


@pytest.mark.postgres
def test_excess_privileges_given_by_hand_are_taken_back(empty_pg: str) -> None:
    owner = databases.owner_url(empty_pg)
    role = databases.SERVICE_ROLE
    assert migrate(empty_pg, owner, "--service-role", role)[0] == 0
    connection = psycopg2.connect(owner)
    connection.autocommit = True
    try:
        with connection.cursor() as cursor:
            cursor.execute(f"GRANT ALL ON events, event_log_head TO {role}")
    finally:
        connection.close()
    assert "UPDATE" in privileges(empty_pg, role, "events")
    assert migrate(empty_pg, owner, "--service-role", role)[0] == 0
    assert privileges(empty_pg, role, "events") == {"SELECT"}
    assert privileges(empty_pg, role, "event_log_head") == {"SELECT"}


@pytest.mark.postgres
def test_a_missing_role_exits_1_unless_asked_to_create_it(empty_pg: str) -> None:
    role = f"clearance_t_{uuid.uuid4().hex[:10]}"
    admin = databases.as_role(empty_pg, "admin")  # CREATEROLE: here the superuser owns
    try:
        code, out, err = migrate(empty_pg, admin, "--service-role", role)
        assert code == 1
        assert f"no role {role!r}" in err and "--create-role" in err
        code, out, err = migrate(empty_pg, admin, "--service-role", role, "--create-role")
        assert code == 0, err
        assert f"created role {role}" in out
        assert privileges(empty_pg, role, "events") == {"SELECT"}
        code, out, err = migrate(empty_pg, admin, "--service-role", role, "--create-role")
        assert code == 0, err
        assert "created role" not in out and "already current" in out
    finally:
        connection = psycopg2.connect(databases.POSTGRES_ADMIN_DSN)
        connection.autocommit = True
        try:
            with connection.cursor() as cursor:
                database = make_url(empty_pg).database
                cursor.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(
                    sql.Identifier(str(database))))
                cursor.execute(sql.SQL("DROP ROLE IF EXISTS {}").format(sql.Identifier(role)))
        finally:
            connection.close()


@pytest.mark.postgres
def test_a_role_with_the_owners_powers_is_refused(empty_pg: str) -> None:
    owner = databases.owner_url(empty_pg)
    code, _, err = migrate(empty_pg, owner, "--service-role", databases.OWNER_ROLE)
    assert code == 1
    assert "would keep the owner's powers" in err
    superuser = str(make_url(databases.POSTGRES_ADMIN_DSN).username)
    code, _, err = migrate(empty_pg, owner, "--service-role", superuser)
    assert code == 1 and "superuser" in err


def test_a_malformed_role_name_is_bad_usage(tmp_path: Path) -> None:
    run = clearance("migrate", "--service-role", "x; DROP TABLE events",
                    url=f"sqlite:///{tmp_path}/x.db")
    assert run.code == 2
    assert "not a plain role name" in run.err
    assert not (tmp_path / "x.db").exists()


def test_on_sqlite_it_only_migrates_and_is_idempotent(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path}/clearance.db"
    first = clearance("migrate", url=url)
    assert first.code == 0, first.err
    assert f"schema at revision {HEAD} (migrated from an empty database)" in first.out
    assert "SQLite: no database roles" in first.out
    second = clearance("migrate", "--json", url=url)
    assert second.code == 0, second.err
    assert json.loads(second.out)["migrated"] is False
    store = EventStore.open_existing(url, None)
    store.close()


@pytest.mark.postgres
def test_the_service_role_is_by_default_the_user_of_event_store_url(empty_pg: str) -> None:
    code, out, err = migrate(empty_pg, databases.owner_url(empty_pg))
    assert code == 0, err
    assert f"{databases.SERVICE_ROLE}: SELECT on alembic_version, event_log_head, events" in out


@pytest.mark.postgres
def test_with_one_url_for_both_nothing_is_granted_and_it_says_so(empty_pg: str) -> None:
    owner = databases.owner_url(empty_pg)
    run = clearance("migrate", url=owner)  # no EVENT_STORE_OWNER_URL: the owner's URL only
    assert run.code == 0, run.err
    assert "no service role granted: the services connect as the owner" in run.out
    assert privileges(empty_pg, databases.SERVICE_ROLE, "events") == set()


@pytest.mark.postgres
def test_the_service_role_cannot_migrate(empty_pg: str) -> None:
    run = clearance("migrate", url=empty_pg)  # the services' URL, no owner given
    assert run.code == 1
    assert "cannot migrate the event store" in run.err and "EVENT_STORE_OWNER_URL" in run.err
    assert "permission denied" in run.err

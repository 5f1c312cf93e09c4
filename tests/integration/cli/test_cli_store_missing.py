"""Commands that read the store never create one (issue 9, point 5).

The real `clearance` is run against a mistyped SQLite path, a PostgreSQL database that does
not exist, a PostgreSQL database without an event log, and an empty migrated store, on both
backends. Each must exit 1 with a message on stderr naming the URL (password hidden), print
nothing on stdout, and leave nothing behind: no file or folder, no database, no table.
"""

from __future__ import annotations

import uuid
from pathlib import Path

import psycopg2
import pytest
from clirun import clearance, fill
from sqlalchemy.engine import make_url

from shared.eventstore import EventStore
from shared.testing import databases
from shared.testing.databases import POSTGRES_ADMIN_DSN

READERS = [
    ["verify"],
    ["verify", "--decisions", "--json"],
    ["rebuild"],
    ["rebuild", "--check"],
    ["trs", "--json"],
    ["history", "C0000001"],
]
FEW_READERS = [["verify"], ["rebuild"], ["trs", "--json"], ["history", "C0000001"]]


@pytest.mark.parametrize("args", READERS, ids=" ".join)
def test_a_mistyped_sqlite_path_exits_1_naming_it_and_creates_nothing(
        args: list[str], tmp_path: Path) -> None:
    in_missing_folder = f"sqlite:///{tmp_path}/no-such-folder/clearance.db"
    next_to_nothing = f"sqlite:///{tmp_path}/claerance.db"
    for url in (in_missing_folder, next_to_nothing):
        run = clearance(*args, url=url)
        assert run.code == 1, run
        assert run.err.startswith(f"clearance: no event store at {url}"), run.err
        assert run.out == ""
    assert list(tmp_path.iterdir()) == []  # no folder, no database, no -wal or -shm file


def _database_exists(name: str) -> bool:
    admin = psycopg2.connect(POSTGRES_ADMIN_DSN)
    try:
        with admin.cursor() as cursor:
            cursor.execute("SELECT 1 FROM pg_database WHERE datname = %s", (name,))
            return cursor.fetchone() is not None
    finally:
        admin.close()


def _tables(url: str) -> list[str]:
    connection = psycopg2.connect(make_url(url).render_as_string(hide_password=False))
    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT table_name FROM information_schema.tables "
                           "WHERE table_schema NOT IN ('pg_catalog', 'information_schema')")
            return sorted(row[0] for row in cursor.fetchall())
    finally:
        connection.close()


@pytest.mark.postgres
@pytest.mark.parametrize("args", FEW_READERS, ids=" ".join)
def test_a_missing_postgresql_database_exits_1_with_the_password_hidden_and_is_not_created(
        args: list[str]) -> None:
    name = f"clearance_test_missing_{uuid.uuid4().hex[:12]}"
    url = make_url(POSTGRES_ADMIN_DSN).set(database=name, password="s3cret-pw")
    typed = url.render_as_string(hide_password=False)
    run = clearance(*args, url=typed)
    assert run.code == 1, run
    shown = url.render_as_string(hide_password=True)
    assert "***" in shown
    assert run.err.startswith(f"clearance: no event store at {shown}"), run.err
    assert "s3cret-pw" not in run.err + run.out
    assert run.out == ""
    assert not _database_exists(name)


@pytest.mark.postgres
@pytest.mark.parametrize("args", FEW_READERS, ids=" ".join)
def test_a_postgresql_database_without_an_event_log_exits_1_and_is_not_migrated(
        args: list[str]) -> None:
    with databases.postgres_database(migrated=False) as pg_url:
        run = clearance(*args, url=pg_url)
        assert run.code == 1, run
        assert run.err.startswith(f"clearance: no event store at {pg_url}: the database holds "
                                  "no event log"), run.err
        assert run.out == ""
        assert _tables(pg_url) == []  # not even alembic_version


@pytest.mark.parametrize("args", READERS, ids=" ".join)
def test_an_empty_store_exits_1_naming_it(args: list[str], store_url: str) -> None:
    EventStore(store_url).close()  # created and migrated, as a service does; no event
    run = clearance(*args, url=store_url)
    assert run.code == 1, run
    shown = make_url(store_url).render_as_string(hide_password=True)
    assert run.err.startswith(f"clearance: the event store at {shown} holds no events"), run.err
    if args[0] == "rebuild":
        assert "nothing to rebuild" in run.err
    assert run.out == ""
    store = EventStore.open_existing(store_url)
    try:
        assert store.last_position() == 0
    finally:
        store.close()


def test_the_same_commands_read_a_store_that_holds_events(tmp_path: Path) -> None:
    """The other side of the above: one event makes the store readable (exit 0)."""
    url = f"sqlite:///{tmp_path}/clearance.db"
    assert fill(url, 1) == 2
    for args in (["verify"], ["trs", "--json"], ["history", "C0000000"], ["rebuild"]):
        run = clearance(*args, url=url)
        assert run.code == 0, run
        assert run.err == ""

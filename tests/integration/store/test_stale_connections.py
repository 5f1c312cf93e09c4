"""Pooled PostgreSQL connections that the server dropped (a restart, an idle timeout) are
replaced: a read or an append is retried once on a fresh connection, a transaction that
finds its connection broken at BEGIN starts again on a fresh one. Real server: the backends
are killed with pg_terminate_backend."""

from __future__ import annotations

import psycopg2
import pytest

from shared.eventstore import EventStore
from shared.testing.databases import POSTGRES_ADMIN_DSN

from .conftest import REGISTRY, thing

pytestmark = pytest.mark.postgres


def terminate_backends(database: str) -> int:
    admin = psycopg2.connect(POSTGRES_ADMIN_DSN)
    admin.autocommit = True
    try:
        with admin.cursor() as cursor:
            cursor.execute("SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity"
                           " WHERE datname = %s AND pid <> pg_backend_pid()", (database,))
            return int(cursor.fetchone()[0])
    finally:
        admin.close()


def test_connections_dropped_by_the_server_are_replaced(pg_url: str) -> None:
    store = EventStore(pg_url, REGISTRY)
    database = pg_url.rsplit("/", 1)[1]
    try:
        store.append("thing-A", [thing()], expected_version=0)
        assert terminate_backends(database) >= 1
        assert [e.stream for e in store.read_all()] == ["thing-A"]  # read: retried
        assert terminate_backends(database) >= 1
        with store.transaction() as tx:  # BEGIN on a dead connection: a fresh one
            tx.append("thing-B", [thing()], expected_version=0)
        assert terminate_backends(database) >= 1
        store.append("thing-C", [thing()], expected_version=0)  # append: retried
        assert terminate_backends(database) >= 1
        store.ping()
        assert [e.stream for e in store.read_all()] == ["thing-A", "thing-B", "thing-C"]
    finally:
        store.close()

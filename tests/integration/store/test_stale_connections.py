"""Pooled PostgreSQL connections that the server dropped (a restart, an idle timeout) are
found and replaced before use once they sat idle in the pool (engine.PING_AFTER_IDLE_S);
the direct pool retries once on a fresh connection. Real server: the backends are killed
with pg_terminate_backend."""

from __future__ import annotations

import psycopg2
import pytest
from sqlalchemy import text

from shared.eventstore import EventStore, engine
from shared.testing.databases import POSTGRES_ADMIN_DSN

from .conftest import thing

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


def test_connections_dropped_by_the_server_are_replaced(
    pg_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    store = EventStore(pg_url)
    try:
        store.append("thing-A", [thing()], expected_version=0)
        with store.engines.reader.connect() as connection:
            assert connection.execute(text("SELECT 1")).scalar_one() == 1
        assert terminate_backends(pg_url.rsplit("/", 1)[1]) >= 1
        monkeypatch.setattr(engine, "PING_AFTER_IDLE_S", 0.0)  # every pooled one is "idle"
        with store.engines.reader.connect() as connection:  # pinged, replaced
            assert connection.execute(text("SELECT 1")).scalar_one() == 1
        with store.transaction() as tx:
            tx.append("thing-B", [thing()], expected_version=0)
        assert [e.stream for e in store.read_all()] == ["thing-A", "thing-B"]
    finally:
        store.close()

"""Driver-level connections for the store's hot paths (appends and reads).

SQLAlchemy's pool and event machinery (checkout, pre-ping, reset-on-return, the `begin`
listener) costs more than the work itself on a one-event append. These pools hand out plain
DBAPI connections instead:

- PostgreSQL: psycopg2 connections in autocommit mode, so `SELECT clearance_append(...)` is one
  round trip that also commits, and a read is one statement (a consistent snapshot). A
  connection found broken is dropped and the call is retried once on a fresh one (an append is
  safe to retry: a repeated event id or stream version is refused by the unique keys).
- SQLite: sqlite3 connections with the same pragmas as the engines (WAL, synchronous=FULL,
  busy timeout), in autocommit mode; appends run in `BEGIN IMMEDIATE` ... `COMMIT`.

Pools are lists used with atomic `pop()`/`append()`, safe across threads and green threads.
"""

from __future__ import annotations

import os
import sqlite3
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any, TypeVar

from sqlalchemy.engine import make_url

from .engine import SQLITE_BUSY_TIMEOUT_MS

T = TypeVar("T")
KEEP = 16  # idle connections kept per pool (a service under load uses 10 to 15 at once)


class DirectPool:
    """A pool of raw DBAPI connections of one database."""

    def __init__(self, url: str, dialect: str) -> None:
        self.dialect = dialect
        self._idle: list[Any] = []
        parsed = make_url(url)
        if dialect == "sqlite":
            self._database = str(parsed.database)
        else:
            self._dsn = parsed.set(drivername="postgresql").render_as_string(
                hide_password=False)

    def _connect(self) -> Any:
        if self.dialect == "sqlite":
            connection = sqlite3.connect(self._database, timeout=SQLITE_BUSY_TIMEOUT_MS / 1000,
                                         check_same_thread=False, isolation_level=None,
                                         cached_statements=256)
            connection.execute("PRAGMA journal_mode=WAL")
            connection.execute("PRAGMA synchronous=FULL")
            connection.execute(f"PRAGMA busy_timeout={SQLITE_BUSY_TIMEOUT_MS}")
            return connection
        import psycopg2

        # Session time zone UTC: timestamptz values come back in UTC (tzinfo is datetime.UTC),
        # so reads convert nothing.
        connection = psycopg2.connect(
            self._dsn, application_name=os.environ.get("SERVICE_NAME", "clearance"),
            options="-c timezone=UTC")
        connection.autocommit = True
        return connection

    @contextmanager
    def connection(self) -> Iterator[Any]:
        connection = self.take()
        try:
            yield connection
        except BaseException:
            self._discard_if_broken(connection)
            raise
        self._put(connection)

    # The same as `connection()` without the context manager, for the append hot path:
    # take(); on an exception discard_if_broken(); otherwise give_back().
    def take(self) -> Any:
        try:
            return self._idle.pop()
        except IndexError:
            return self._connect()

    def give_back(self, connection: Any) -> None:
        self._put(connection)

    def discard_if_broken(self, connection: Any) -> None:
        self._discard_if_broken(connection)

    def run(self, work: Callable[[Any], T]) -> T:
        """`work(connection)`; on PostgreSQL retried once on a fresh connection when the
        pooled one turns out to be broken (a server restart, an idle timeout)."""
        if self.dialect == "sqlite":
            with self.connection() as connection:
                return work(connection)
        import psycopg2

        try:
            connection = self._idle.pop()
            fresh = False
        except IndexError:
            connection, fresh = self._connect(), True
        try:
            result = work(connection)
        except (psycopg2.OperationalError, psycopg2.InterfaceError):
            _close(connection)
            if fresh:
                raise
            connection = self._connect()
            try:
                result = work(connection)
            except BaseException:
                self._discard_if_broken(connection)
                raise
        except BaseException:
            self._discard_if_broken(connection)
            raise
        self._put(connection)
        return result

    def _put(self, connection: Any) -> None:
        if len(self._idle) < KEEP:
            self._idle.append(connection)
        else:
            _close(connection)

    def _discard_if_broken(self, connection: Any) -> None:
        if self.dialect == "sqlite":
            if connection.in_transaction:
                try:
                    connection.execute("ROLLBACK")
                except sqlite3.Error:
                    _close(connection)
                    return
            self._put(connection)
            return
        if connection.closed:
            return
        self._put(connection)

    def dispose(self) -> None:
        while self._idle:
            _close(self._idle.pop())


def _close(connection: Any) -> None:
    try:
        connection.close()
    except Exception:  # already gone
        pass

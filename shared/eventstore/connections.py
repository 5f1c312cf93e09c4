"""The store's two ways to the database, each for one reason:

- `DirectPool`, plain DBAPI connections: every read and write at run time (appends, log reads,
  transactions, read models), because SQLAlchemy's pool and statement machinery cost more
  than the work itself on these hot paths.
- `schema_engine`, one SQLAlchemy engine: schema work only (Alembic migrations and creating or
  dropping tables from their `Table` definitions), because Alembic and DDL need SQLAlchemy.

PostgreSQL connections run in autocommit mode with the session time zone UTC: a standalone
append (`SELECT clearance_append(...)`) or read is one statement, and a transaction is an
explicit BEGIN ... COMMIT. SQLite connections have the durability pragmas (WAL,
synchronous=FULL, a busy timeout) and take the file's write lock at BEGIN IMMEDIATE.

Every PostgreSQL connection has limits (settings, in seconds; 0 turns one off): a connect
timeout (`EVENT_STORE_CONNECT_TIMEOUT`), `statement_timeout`, `lock_timeout` (a wait for the
log-head lock included) and `idle_in_transaction_session_timeout`
(`EVENT_STORE_STATEMENT_TIMEOUT`, `_LOCK_TIMEOUT`, `_IDLE_TIMEOUT`), and TCP keepalives, so a
dead server or a stalled peer ends in an error (which the consumers retry, `shared.failures`)
instead of a wait forever. `postgres_options` gives them.

A pooled PostgreSQL connection found broken (a server restart, an idle timeout) is dropped and
the work retried once on a fresh connection; work is retried only when it cannot have taken
effect (an append is refused twice by the unique keys; a transaction fails at its BEGIN).
Pools are lists used with atomic pop()/append(), safe across threads and green threads.
"""

from __future__ import annotations

import os
import sqlite3
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

from sqlalchemy import Engine, create_engine, event
from sqlalchemy.engine import make_url

T = TypeVar("T")
KEEP = 16  # idle connections kept per pool (a service under load uses 10 to 15 at once)
SQLITE_BUSY_TIMEOUT_MS = 60_000
DEFAULT_URL = "sqlite:///var/clearance.db"


def url_from_env() -> str:
    from shared.settings import setting

    return setting("EVENT_STORE_URL")


def dialect_of(url: str) -> str:
    """"sqlite" or "postgresql" (ValueError for anything else or an in-memory SQLite)."""
    parsed = make_url(url)
    backend = parsed.get_backend_name()
    if backend == "sqlite":
        if not parsed.database or parsed.database == ":memory:":
            raise ValueError("the event store needs a SQLite file (several processes share it)")
        return "sqlite"
    if backend == "postgresql":
        return "postgresql"
    raise ValueError(f"unsupported EVENT_STORE_URL backend {backend!r} (sqlite or postgresql)")


def shown(url: str) -> str:
    """The URL as it may be shown to people (password hidden)."""
    return make_url(url).render_as_string(hide_password=True)


def _application_name() -> str:
    return os.environ.get("SERVICE_NAME", "clearance")


@dataclass(frozen=True)
class Limits:
    """The PostgreSQL session limits, in seconds (0: none)."""

    connect: float
    statement: float
    lock: float
    idle_in_transaction: float

    @classmethod
    def from_settings(cls) -> Limits:
        from shared.settings import setting

        def seconds(name: str) -> float:
            value = float(setting(name))
            if value < 0:
                raise ValueError(f"{name} must be 0 (none) or a number of seconds, not {value}")
            return value

        return cls(seconds("EVENT_STORE_CONNECT_TIMEOUT"),
                   seconds("EVENT_STORE_STATEMENT_TIMEOUT"),
                   seconds("EVENT_STORE_LOCK_TIMEOUT"), seconds("EVENT_STORE_IDLE_TIMEOUT"))


def postgres_options(limits: Limits) -> dict[str, Any]:
    """psycopg2.connect keyword arguments: UTC, the limits, TCP keepalives."""
    settings = {"timezone": "UTC",
                "statement_timeout": f"{int(limits.statement * 1000)}",
                "lock_timeout": f"{int(limits.lock * 1000)}",
                "idle_in_transaction_session_timeout":
                    f"{int(limits.idle_in_transaction * 1000)}"}
    options: dict[str, Any] = {
        "application_name": _application_name(),
        "options": " ".join(f"-c {name}={value}" for name, value in settings.items()),
        "keepalives": 1, "keepalives_idle": 30, "keepalives_interval": 10,
        "keepalives_count": 3,
    }
    if limits.connect > 0:
        options["connect_timeout"] = max(1, int(round(limits.connect)))
    return options


def _broken_errors() -> tuple[type[BaseException], ...]:
    import psycopg2

    return (psycopg2.OperationalError, psycopg2.InterfaceError)


class DirectPool:
    """A pool of plain DBAPI connections to one database."""

    def __init__(self, url: str) -> None:
        self.dialect = dialect_of(url)
        self._idle: list[Any] = []
        parsed = make_url(url)
        if self.dialect == "sqlite":
            self._database = str(parsed.database)
            Path(self._database).parent.mkdir(parents=True, exist_ok=True)
        else:
            self._dsn = parsed.set(drivername="postgresql").render_as_string(
                hide_password=False)
            self.limits = Limits.from_settings()
            self._options = postgres_options(self.limits)

    def connect(self) -> Any:
        """A new connection (not pooled until given back)."""
        if self.dialect == "sqlite":
            connection = sqlite3.connect(self._database, timeout=SQLITE_BUSY_TIMEOUT_MS / 1000,
                                         check_same_thread=False, isolation_level=None,
                                         cached_statements=256)
            connection.execute("PRAGMA journal_mode=WAL")
            connection.execute("PRAGMA synchronous=FULL")
            connection.execute(f"PRAGMA busy_timeout={SQLITE_BUSY_TIMEOUT_MS}")
            return connection
        import psycopg2

        connection = psycopg2.connect(self._dsn, **self._options)
        connection.autocommit = True
        return connection

    def take(self) -> tuple[Any, bool]:
        """(a connection, True when it was pooled rather than new)."""
        try:
            return self._idle.pop(), True
        except IndexError:
            return self.connect(), False

    def give_back(self, connection: Any) -> None:
        """Return a connection after use; one left broken or mid-transaction is not kept."""
        if self.dialect == "sqlite":
            if connection.in_transaction:
                try:
                    connection.execute("ROLLBACK")
                except sqlite3.Error:
                    _close(connection)
                    return
        elif connection.closed:
            return
        if len(self._idle) < KEEP:
            self._idle.append(connection)
        else:
            _close(connection)

    def discard(self, connection: Any) -> None:
        _close(connection)

    def run(self, work: Callable[[Any], T]) -> T:
        """`work(connection)` on a pooled connection; on PostgreSQL retried once on a fresh
        connection when the pooled one turns out to be broken."""
        connection, pooled = self.take()
        try:
            result = work(connection)
        except BaseException as exc:
            if self.dialect == "postgresql" and pooled and isinstance(exc, _broken_errors()):
                _close(connection)
                connection = self.connect()
                try:
                    result = work(connection)
                except BaseException:
                    self.give_back(connection)
                    raise
                self.give_back(connection)
                return result
            self.give_back(connection)
            raise
        self.give_back(connection)
        return result

    def dispose(self) -> None:
        while self._idle:
            _close(self._idle.pop())


def _close(connection: Any) -> None:
    try:
        connection.close()
    except Exception:  # already gone
        pass


def schema_engine(url: str) -> Engine:
    """The SQLAlchemy engine for schema work (migrations, rebuild tables): small and short-lived
    connections; SQLite transactions take the write lock at BEGIN (BEGIN IMMEDIATE)."""
    dialect = dialect_of(url)
    parsed = make_url(url)
    if dialect == "postgresql":
        if parsed.drivername == "postgresql":
            parsed = parsed.set(drivername="postgresql+psycopg2")
        limits = Limits.from_settings()
        connect_args: dict[str, Any] = {"application_name": _application_name()}
        if limits.connect > 0:  # no statement or lock limit: migrations may take long
            connect_args["connect_timeout"] = max(1, int(round(limits.connect)))
        return create_engine(parsed, pool_size=1, max_overflow=4, pool_pre_ping=True,
                             connect_args=connect_args)
    Path(str(parsed.database)).parent.mkdir(parents=True, exist_ok=True)
    engine = create_engine(parsed, connect_args={
        "timeout": SQLITE_BUSY_TIMEOUT_MS / 1000, "check_same_thread": False})

    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection: Any, _record: Any) -> None:
        dbapi_connection.isolation_level = None  # transactions are ours, not pysqlite's
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA synchronous=FULL")
        cursor.execute(f"PRAGMA busy_timeout={SQLITE_BUSY_TIMEOUT_MS}")
        cursor.close()

    @event.listens_for(engine, "begin")
    def _on_begin(connection: Any) -> None:
        connection.exec_driver_sql("BEGIN IMMEDIATE")

    return engine

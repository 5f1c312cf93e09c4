"""Engines for the two backends.

SQLite (the embedded default): WAL, `synchronous=FULL`, a busy timeout, and writes in
`BEGIN IMMEDIATE` transactions so that several processes can share one file and every writer
takes the file's write lock before it reads the log head. Reads use a separate engine with
deferred transactions, so readers never wait for writers (WAL).

PostgreSQL: one pooled engine (psycopg2); position assignment is serialised by the log-head
row lock taken in each append.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sqlalchemy import Engine, create_engine, event
from sqlalchemy.engine import make_url

DEFAULT_URL = "sqlite:///var/clearance.db"
SQLITE_BUSY_TIMEOUT_MS = 60_000


def url_from_env() -> str:
    return os.environ.get("EVENT_STORE_URL", DEFAULT_URL)


@dataclass(frozen=True)
class Engines:
    writer: Engine
    reader: Engine
    dialect: str  # "sqlite" or "postgresql"

    def dispose(self) -> None:
        self.writer.dispose()
        if self.reader is not self.writer:
            self.reader.dispose()


def create_engines(url: str, *, pool_size: int = 5) -> Engines:
    parsed = make_url(url)
    backend = parsed.get_backend_name()
    if backend == "sqlite":
        database = parsed.database
        if not database or database == ":memory:":
            raise ValueError("the event store needs a SQLite file (several processes share it)")
        Path(database).parent.mkdir(parents=True, exist_ok=True)
        writer = _sqlite_engine(url, begin="BEGIN IMMEDIATE")
        reader = _sqlite_engine(url, begin="BEGIN")
        return Engines(writer, reader, "sqlite")
    if backend == "postgresql":
        if parsed.drivername == "postgresql":
            parsed = parsed.set(drivername="postgresql+psycopg2")
        engine = create_engine(
            parsed,
            pool_size=pool_size,
            max_overflow=pool_size * 2,
            pool_pre_ping=True,
            connect_args={"application_name": os.environ.get("SERVICE_NAME", "clearance")},
        )
        return Engines(engine, engine, "postgresql")
    raise ValueError(f"unsupported EVENT_STORE_URL backend {backend!r} (sqlite or postgresql)")


def _sqlite_engine(url: str, *, begin: str) -> Engine:
    engine = create_engine(
        url,
        connect_args={"timeout": SQLITE_BUSY_TIMEOUT_MS / 1000, "check_same_thread": False},
    )

    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection: Any, _record: Any) -> None:
        # Take control of transactions from pysqlite, then set the durability pragmas.
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA synchronous=FULL")
        cursor.execute(f"PRAGMA busy_timeout={SQLITE_BUSY_TIMEOUT_MS}")
        cursor.close()

    @event.listens_for(engine, "begin")
    def _on_begin(connection: Any) -> None:
        connection.exec_driver_sql(begin)

    return engine

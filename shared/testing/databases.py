"""Fresh databases for tests: a SQLite file, or a PostgreSQL database created and dropped."""

from __future__ import annotations

import os
import tempfile
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import psycopg2
from psycopg2 import sql

POSTGRES_ADMIN_DSN = os.environ.get(
    "CLEARANCE_TEST_POSTGRES_DSN", "postgresql://postgres@127.0.0.1:5432/test"
)


def sqlite_url(directory: Path, name: str = "clearance.db") -> str:
    return f"sqlite:///{directory / name}"


def _with_database(dsn: str, database: str) -> str:
    base, _, _ = dsn.rpartition("/")
    return f"{base}/{database}"


@contextmanager
def postgres_database(prefix: str = "clearance_test") -> Iterator[str]:
    """A new, empty PostgreSQL database (its SQLAlchemy URL), dropped afterwards."""
    name = f"{prefix}_{uuid.uuid4().hex[:12]}"
    admin = psycopg2.connect(POSTGRES_ADMIN_DSN)
    admin.autocommit = True
    try:
        with admin.cursor() as cursor:
            cursor.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
        yield _with_database(POSTGRES_ADMIN_DSN, name)
    finally:
        with admin.cursor() as cursor:
            cursor.execute(
                sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name))
            )
        admin.close()


@contextmanager
def fresh_store_url(backend: str, prefix: str = "clearance_bench") -> Iterator[str]:
    """The URL of an empty store on `backend` ("sqlite" or "postgresql"), removed afterwards."""
    if backend == "sqlite":
        with tempfile.TemporaryDirectory() as folder:
            yield sqlite_url(Path(folder), "bench.db")
        return
    with postgres_database(prefix) as url:
        yield url

"""Fixtures shared by every test folder: real databases and clean metrics.

PostgreSQL tests get a database of their own (created from the real server, dropped after);
SQLite tests a file of their own. Nothing here skips: CI starts both servers (.ci/run).
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator

import psycopg2
import pytest

from shared.observability.metrics import use_registry

PG_ADMIN_URL = os.environ.get("TEST_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/postgres")


def _admin_dsn() -> str:
    return PG_ADMIN_URL.replace("postgresql+psycopg2://", "postgresql://")


def create_pg_database() -> str:
    name = f"clearance_test_{uuid.uuid4().hex[:12]}"
    connection = psycopg2.connect(_admin_dsn())
    connection.autocommit = True
    with connection.cursor() as cursor:
        cursor.execute(f'CREATE DATABASE "{name}"')
    connection.close()
    base = PG_ADMIN_URL.rsplit("/", 1)[0]
    return f"{base}/{name}"


def drop_pg_database(url: str) -> None:
    name = url.rsplit("/", 1)[1]
    connection = psycopg2.connect(_admin_dsn())
    connection.autocommit = True
    with connection.cursor() as cursor:
        cursor.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    connection.close()


@pytest.fixture
def pg_url() -> Iterator[str]:
    url = create_pg_database()
    try:
        yield url
    finally:
        drop_pg_database(url)


@pytest.fixture
def sqlite_url(tmp_path: os.PathLike[str]) -> str:
    return f"sqlite:///{os.path.join(str(tmp_path), 'clearance.db')}"


@pytest.fixture(params=["sqlite", "postgresql"])
def store_url(request: pytest.FixtureRequest) -> Iterator[str]:
    """The same test on both backends."""
    if request.param == "sqlite":
        yield request.getfixturevalue("sqlite_url")
    else:
        yield request.getfixturevalue("pg_url")


@pytest.fixture(autouse=True)
def fresh_metrics() -> None:
    """A new Prometheus registry per test: counts never leak between tests."""
    use_registry()

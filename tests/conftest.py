"""Fixtures shared by every test folder: real databases, a private broker vhost, clean metrics.

* `sqlite_url` / `pg_url`: a SQLite file in the test's tmp_path / a new PostgreSQL database
  (created on the real server, dropped after).
* `store_url`: the same test on both backends.
* `amqp_uri`: a RabbitMQ vhost of the session's own (rabbitmqctl), deleted at the end.
* `fresh_metrics` (autouse): a new Prometheus registry per test, so counts never leak.

Nothing here skips: CI starts both servers (.ci/run).
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from shared.known_warnings import filterwarnings_entries
from shared.observability.metrics import Metrics, use_registry
from shared.testing import databases
from shared.testing.rabbit import private_vhost


def pytest_configure(config: pytest.Config) -> None:
    for entry in filterwarnings_entries():  # the known warnings, acknowledged by name in one place
        config.addinivalue_line("filterwarnings", entry)


@pytest.fixture
def sqlite_url(tmp_path: Path) -> str:
    return databases.sqlite_url(tmp_path)


@pytest.fixture
def pg_url() -> Iterator[str]:
    with databases.postgres_database() as url:
        yield url


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def store_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    if request.param == "sqlite":
        yield databases.sqlite_url(tmp_path)
    else:
        with databases.postgres_database() as url:
            yield url


@pytest.fixture(scope="session")
def amqp_uri() -> Iterator[str]:
    with private_vhost() as uri:
        yield uri


@pytest.fixture
def unique_name() -> Callable[[str], str]:
    """`unique_name("events")` -> "events.<test-unique suffix>"."""
    suffix = uuid.uuid4().hex[:8]
    return lambda prefix: f"{prefix}.{suffix}"


@pytest.fixture(autouse=True)
def fresh_metrics() -> Metrics:
    return use_registry()

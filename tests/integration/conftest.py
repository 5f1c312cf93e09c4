"""Shared fixtures of the integration tests: fresh databases and a private RabbitMQ vhost.

* `sqlite_store_url`: a SQLite file in the test's tmp_path.
* `postgres_store_url`: a new PostgreSQL database `clearance_test_<random>`, dropped after.
* `store_url`: parametrised over both backends (the postgres case is marked `postgres`).
* `amqp_uri`: a vhost created for the session with rabbitmqctl (deleted at the end); tests
  still use unique exchange and queue names (`unique_name`) so they never see each other.
* `fresh_metrics`: a fresh Prometheus registry for the test (`use_registry`).
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from shared.observability.metrics import Metrics, use_registry
from shared.testing import databases
from shared.testing.rabbit import private_vhost


@pytest.fixture
def sqlite_store_url(tmp_path: Path) -> str:
    return databases.sqlite_url(tmp_path)


@pytest.fixture
def postgres_store_url() -> Iterator[str]:
    with databases.postgres_database() as url:
        yield url


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
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


@pytest.fixture
def fresh_metrics() -> Metrics:
    return use_registry()

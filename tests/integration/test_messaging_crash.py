"""Crashes (SIGKILL) of real service processes lose no event and double no effect.

Strategy, on SQLite and on PostgreSQL, with real processes throughout:

1. A process appends 20 events and is SIGKILLed before any relay ran (killed after appending,
   before publishing): nothing reached the broker, the checkpoint is 0.
2. The `alpha` service (`nameko run`, relay inside) starts and publishes them; no consumer
   runs yet, so they wait in the subscription queue the relay declared.
   Then 10 more events are appended and the relay's checkpoint write is held up by a lock
   taken in the test (SQLite write lock / PostgreSQL row lock on the checkpoint), so the relay
   publishes them, gets their confirms, and blocks before recording its progress; `alpha` is
   SIGKILLed there (killed between publish and checkpoint).
3. `alpha` restarts (same replica name, so it takes its lease back at once), resumes from the
   checkpoint and publishes the 10 again. The `beta` service then consumes all 40 messages:
   exactly one effect per event (30), and the 10 redelivered copies counted as duplicates.
"""

from __future__ import annotations

import os
import signal
import sqlite3
import subprocess
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

import psycopg2
import pytest
from sqlalchemy.engine import make_url

from shared.eventstore.store import EventStore
from shared.messaging.topology import Topology
from shared.testing import rabbit
from shared.testing.messaging_app import (
    REGISTRY,
    append_pings,
    config,
    effects,
    make_topology,
    topology_env,
)
from shared.testing.processes import REPO_ROOT, ServiceProcess, free_port, scraped
from shared.testing.waiting import wait_until

pytestmark = pytest.mark.rabbitmq

ALPHA = "shared.testing.messaging_app:AlphaService"
BETA = "shared.testing.messaging_app:BetaService"
RELAY = "relay:alpha"


@pytest.fixture
def store(store_url: str) -> Iterator[EventStore]:
    store = EventStore(store_url, REGISTRY)
    yield store
    store.close()


@pytest.fixture
def topology(unique_name: Callable[[str], str]) -> Topology:
    return make_topology(unique_name("events"), unique_name("pings"))


@contextmanager
def checkpoint_writes_blocked(store_url: str) -> Iterator[None]:
    """Hold a lock that makes the relay's next checkpoint write wait (not fail)."""
    url = make_url(store_url)
    if url.get_backend_name() == "sqlite":
        assert url.database
        connection = sqlite3.connect(url.database, timeout=30, isolation_level=None)
        connection.execute("BEGIN IMMEDIATE")  # the database's write lock
    else:
        connection = psycopg2.connect(  # type: ignore[assignment]
            host=url.host, port=url.port, user=url.username, dbname=url.database)
        connection.cursor().execute(
            "SELECT position FROM relay_checkpoints WHERE name = %s FOR UPDATE", (RELAY,))
    try:
        yield
    finally:
        if url.get_backend_name() != "sqlite":
            # The killed relay's write may still wait in its server backend (one autocommit
            # statement), and would land once the lock is gone: end it, as if the process
            # had died before sending it.
            connection.cursor().execute(
                "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname ="
                " current_database() AND wait_event_type = 'Lock' AND pid <> pg_backend_pid()")
        connection.rollback()
        connection.close()


def test_sigkilled_services_lose_no_event_and_double_no_effect(
    store: EventStore, store_url: str, amqp_uri: str, topology: Topology, tmp_path: Path
) -> None:
    queue = next(iter(topology.subscriptions))
    env = topology_env(topology, queue)
    processes: list[ServiceProcess] = []

    def service(target: str, name: str, **extra: object) -> ServiceProcess:
        process = ServiceProcess([target], config(amqp_uri, store_url, **extra), tmp_path,
                                 name=name, env=env).start()
        processes.append(process)
        return process

    # The relay polls slowly here, so that it cannot slip a whole pass in between the
    # append and the lock in phase 2; appends in its own process would still wake it.
    relay_settings = {"owner": "alpha-replica-1", "lease_ttl": 60, "poll_interval": 0.5}
    try:
        # 1. Killed after appending, before publishing.
        appender = subprocess.Popen(
            [sys.executable, "-m", "shared.testing.messaging_app", "append", store_url, "20"],
            cwd=REPO_ROOT, env={**os.environ, **env}, stdout=subprocess.PIPE,
        )
        assert appender.stdout is not None
        line = appender.stdout.readline().decode()
        os.kill(appender.pid, signal.SIGKILL)
        appender.wait(10)
        assert line.startswith("APPENDED "), line
        first = store.read_all(categories=["alpha"])
        assert len(first) == 20 and first[-1].position == int(line.split()[1])
        assert store.checkpoint(RELAY) == 0
        assert rabbit.message_count(amqp_uri, queue) == 0

        # 2. The relay publishes them; then it is killed between publish and checkpoint.
        alpha = service(ALPHA, "alpha", RELAY=relay_settings)
        wait_until(lambda: alpha.check_alive() or store.checkpoint(RELAY) == first[-1].position,
                   timeout=30, message="the restarted relay to publish the first events")
        assert rabbit.message_count(amqp_uri, queue) == 20

        second = append_pings(store, 10, start=20)
        with checkpoint_writes_blocked(store_url):
            wait_until(lambda: alpha.check_alive() or
                       rabbit.message_count(amqp_uri, queue) == 30,
                       timeout=15, message="the second events to be published")
            alpha.kill()
        assert store.checkpoint(RELAY) == first[-1].position  # published, not checkpointed

        # 3. Restart: the relay resumes from its checkpoint; the consumer dedupes.
        alpha = service(ALPHA, "alpha-restarted", RELAY=relay_settings)
        wait_until(lambda: alpha.check_alive() or
                   store.checkpoint(RELAY) == second[-1].position,
                   timeout=30, message="the restarted relay to catch up")
        assert rabbit.message_count(amqp_uri, queue) == 40  # the 10 went out twice

        port = free_port()
        beta = service(BETA, "beta", METRICS_PORT=port)
        expected = {event.event_id: 1 for event in first + second}
        wait_until(lambda: beta.check_alive() or effects(store) == expected, timeout=30,
                   message=lambda: f"one effect per event, have {effects(store)}")
        labels = {"consumer": queue}
        wait_until(
            lambda: scraped(port, "clearance_events_duplicates_ignored_total", labels) == 10,
            timeout=10, message="the 10 redelivered copies to be counted as duplicates")
        assert scraped(port, "clearance_events_consumed_total", labels) == 30
        assert rabbit.message_count(amqp_uri, queue) == 0
        assert effects(store) == expected  # still: nothing late
    finally:
        for process in processes:
            process.stop()

"""Competing consumers (issue 16): two replicas of each of the four services on one
PostgreSQL log and one broker, as a deployment scales out.

Replica A is started as `make start` starts the services; replica B by the same runner with
its own var folder (holding copies of A's development signing and draw keys, as replicas of
one deployment share their keys), its own HTTP ports, and the same database and broker. The
demo's parties send every request to A or B in turn (the journeys' lodgements, controls,
holds, payments, amendments and invalidations land on both), while each subscription queue
has a consumer in each replica and the broker hands each message to one of them; the relays
and the status follower hold one lease each, so exactly one replica of each publishes or
follows at a time.

At the end, as in the chaos run: every consignment in its planned final state; one
GoodsReleased per MRN and one PaymentReceived per reference in the log; every release heard
once by a partner agency (after dropping repeats on `notification_id`); nothing parked; both
replicas handled events of each subscription; `clearance verify` and `clearance rebuild
--check` are clean.
"""

from __future__ import annotations

import itertools
import shutil
import sys
import threading
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest
from prometheus_client.parser import text_string_to_metric_families

import cli.http
from cli import demo
from shared.testing.processes import free_port
from tests.e2e.conftest import SERVICES, Cluster, running_cluster

from .chaos import (
    ENTRIES,
    assert_cleared_exactly_once,
    copies,
    declare_listener,
    settled_figures,
)

pytestmark = [pytest.mark.postgres, pytest.mark.rabbitmq]

BATCHES = 4  # the valid samples, four times over


@pytest.fixture(params=[pytest.param("postgresql", marks=pytest.mark.postgres)])
def cluster(request: pytest.FixtureRequest,
            tmp_path_factory: pytest.TempPathFactory) -> Iterator[Cluster]:
    yield from running_cluster(request, tmp_path_factory)


@pytest.fixture
def replica(cluster: Cluster, tmp_path: Path) -> Iterator[Cluster]:
    """Replica B of the four services: same store and broker, same keys, other ports."""
    var = tmp_path / "var-b"
    var.mkdir()
    for folder in ("auth", "risk"):
        if (cluster.var / folder).exists():
            shutil.copytree(cluster.var / folder, var / folder)
    env = {**cluster.env, "CLEARANCE_VAR": str(var)}
    for service in SERVICES:
        env[f"{service.upper()}_HTTP"] = f"127.0.0.1:{free_port()}"
    other = Cluster(env, cluster.store_url, cluster.amqp_uri, var)
    started = other.run(sys.executable, "-m", "services.runner", "start", timeout=180)
    try:
        assert started.returncode == 0, started.stdout + started.stderr + other.logs()
        yield other
    finally:
        other.run(sys.executable, "-m", "services.runner", "stop", timeout=120)


def consumed(cluster: Cluster, service: str) -> dict[str, float]:
    """The events each consumer of `service`'s replica handled with effect."""
    with urllib.request.urlopen(
            f"http://{cluster.env[f'{service.upper()}_HTTP']}/metrics", timeout=10) as answer:
        text = answer.read().decode()
    return {s.labels["consumer"]: s.value
            for family in text_string_to_metric_families(text)
            if family.name == "clearance_events_consumed"
            for s in family.samples if s.name.endswith("_total")}


@pytest.mark.timeout(900)
def test_two_replicas_of_each_service_clear_every_consignment_exactly_once(
        cluster: Cluster, replica: Cluster, monkeypatch: pytest.MonkeyPatch) -> None:
    declare_listener(cluster.amqp_uri)
    turn = itertools.count()
    lock = threading.Lock()

    def either_replica(service: str) -> str:
        with lock:
            chosen = (cluster, replica)[next(turn) % 2]
        return chosen.env[f"{service.upper()}_HTTP"]

    monkeypatch.setattr(cli.http, "http_address", either_replica)
    parties = demo.Parties.for_entries(copies(ENTRIES, 0), cluster.var)
    started = time.monotonic()
    journeys: list[demo.Journey] = []
    for batch in range(1, BATCHES + 1):
        journeys += demo.run_plan(copies(ENTRIES, batch), "R", timeout=300, workers=8,
                                  parties=parties)
    result = settled_figures(cluster, journeys, [], 0, started, wait=60)
    assert_cleared_exactly_once(cluster, result, journeys)

    # Competing consumers: the busy subscriptions' events were shared by the two replicas
    # (the broker hands each message to one consumer; the quieter queues, a few messages
    # each, may fall to one replica).
    for queue in ("risk.declarations", "payment.declarations", "release.facts"):
        service = queue.split(".")[0]
        a, b = consumed(cluster, service), consumed(replica, service)
        print(f"{queue}: replica A handled {a.get(queue, 0):.0f}, B {b.get(queue, 0):.0f}")
        assert a.get(queue, 0) > 0 and b.get(queue, 0) > 0, (queue, a, b)


"""Chaos (issue 15): consignments of every lane, with controls, payments, an amendment, an
invalidation and an agency hold, driven through the four real services on PostgreSQL and
RabbitMQ while, in turn, each service is SIGKILLed and restarted (`make start`'s runner),
the broker is restarted and PostgreSQL is restarted. At the end:

* every consignment is in the final state its plan expects;
* each release is recorded once in the log (one GoodsReleased per MRN) and each payment once
  (one PaymentReceived per reference);
* a partner agency's durable queue heard every release at least once, and exactly once after
  dropping repeats on `notification_id`;
* no message is parked;
* `clearance verify` and `clearance rebuild --check` are clean.

`make test` runs a short version (CHAOS_CONSIGNMENTS, default 100, and one round of the six
faults, the consignments going on until both are done); `make chaos` runs at least 1,000
consignments with rounds of faults until they are through, and prints the figures.
"""

from __future__ import annotations

import os
import threading
import time
from collections.abc import Iterator

import pytest

from cli import demo
from tests.e2e.conftest import Cluster, running_cluster

from .chaos import (
    ENTRIES,
    RESULTS,
    Client,
    Faults,
    assert_cleared_exactly_once,
    copies,
    declare_listener,
    services_back_whatever_happens,
    settled_figures,
)

pytestmark = [pytest.mark.postgres, pytest.mark.rabbitmq]

CONSIGNMENTS = int(os.environ.get("CHAOS_CONSIGNMENTS", "100"))
GAP = float(os.environ.get("CHAOS_GAP", "2"))  # seconds of calm between two faults
FULL = CONSIGNMENTS > 200  # `make chaos`: rounds of faults for as long as the run lasts


@pytest.fixture(params=[pytest.param("postgresql", marks=pytest.mark.postgres)])
def cluster(request: pytest.FixtureRequest,
            tmp_path_factory: pytest.TempPathFactory) -> Iterator[Cluster]:
    yield from running_cluster(request, tmp_path_factory)


@pytest.mark.timeout(7200 if FULL else 900)
def test_consignments_come_through_kills_and_restarts_exactly_once(
        cluster: Cluster, monkeypatch: pytest.MonkeyPatch) -> None:
    for service in ("declaration", "risk", "payment", "release"):
        monkeypatch.setenv(f"{service.upper()}_HTTP", cluster.env[f"{service.upper()}_HTTP"])
    declare_listener(cluster.amqp_uri)
    client = Client()
    monkeypatch.setattr(demo, "call", client.call)
    parties = demo.Parties.for_entries(copies(ENTRIES, 0), cluster.var)
    journeys: list[demo.Journey] = []
    faults = Faults(cluster)
    faults_over = threading.Event()
    failures: list[BaseException] = []

    def drive() -> None:
        batch = 0
        try:
            while len(journeys) < CONSIGNMENTS or not faults_over.is_set():
                batch += 1
                journeys.extend(demo.run_plan(copies(ENTRIES, batch), "X", timeout=600 if FULL else 300,
                                              workers=8, parties=parties))
        except BaseException as exc:  # noqa: BLE001 - reported by the test
            failures.append(exc)

    started = time.monotonic()
    with services_back_whatever_happens():
        driver = threading.Thread(target=drive, name="chaos-driver", daemon=True)
        driver.start()
        try:
            time.sleep(GAP)
            faults.round(lambda: time.sleep(GAP))
            while FULL and driver.is_alive() and len(journeys) < CONSIGNMENTS:
                faults.round(lambda: time.sleep(GAP))  # more rounds, until they are through
        finally:
            faults_over.set()
            driver.join(timeout=3600)
    assert not driver.is_alive(), "the consignments did not come through within the hour"
    assert not failures, failures

    result = settled_figures(cluster, journeys, faults.done, client.repeats, started)
    RESULTS.append(result)
    assert len(faults.done) >= 6
    assert_cleared_exactly_once(cluster, result, journeys)

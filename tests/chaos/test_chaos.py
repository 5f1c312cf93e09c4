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
import sys
import threading
import time
from collections.abc import Iterator

import pytest

from cli import demo
from shared.testing.databases import owner_url
from shared.testing.rabbit import message_count
from tests.e2e.conftest import Cluster, running_cluster

from .chaos import (
    ENTRIES,
    LISTENER,
    RESULTS,
    Client,
    Faults,
    copies,
    declare_listener,
    figures,
    services_back_whatever_happens,
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
                journeys.extend(demo.run_plan(copies(ENTRIES, batch), "X", timeout=600,
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

    released = {j.mrn for j in journeys if j.final == "cleared"}
    assert released
    # The relay publishes after the log: wait for the last notifications to reach the queue.
    deadline = time.monotonic() + 120
    while message_count(cluster.amqp_uri, LISTENER) < len(released) \
            and time.monotonic() < deadline:
        time.sleep(0.5)
    result = figures(cluster, journeys, faults.done, client.repeats,
                     time.monotonic() - started)
    RESULTS.append(result)

    assert len(faults.done) >= 6
    assert not result.not_as_planned, result.not_as_planned[:20]
    assert set(result.releases_in_log) >= released
    assert all(n == 1 for n in result.releases_in_log.values()), result.releases_in_log
    assert result.payments_in_log and all(n == 1 for n in result.payments_in_log.values())
    assert result.heard_mrns == set(result.releases_in_log), "a release no agency heard of"
    assert len(result.heard) == len(result.releases_in_log)  # one id per release
    assert sum(result.parked.values()) == 0, result.parked

    env = {**cluster.env, "EVENT_STORE_URL": owner_url(cluster.store_url)}
    for command in (["verify"], ["rebuild", "--check"]):
        ran = cluster.run(sys.executable, "-m", "cli.main", *command, env=env)
        assert ran.returncode == 0, (command, ran.stdout[-3000:], ran.stderr[-3000:])

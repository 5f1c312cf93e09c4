"""The four services, each connected as its own least-privilege broker user, clear a
consignment (issue 11).

Strategy: a private vhost holds the deployment's topology, declared by the operator (guest) as
the definitions do at boot; each service runs as a real `nameko run` process whose AMQP_URI is
its own user's (`rabbit.service_users`: the permissions the users file grants), all on one
SQLite log. A partner agency's queue is bound to `clearance.releases` and read by a user with
read permission on it only. The declaration events of three consignments are appended to the
log (the declaration service's relay publishes them, as its own user); the risk and payment
services decide, a cashier pays over HTTP, and every consignment the risk service sent down
the green lane must be released and notified to the agency, and the declaration service answers
an RPC call (its reply published as its own user). No service may have been refused
anything by the broker (its log shows no ACCESS_REFUSED), and each service's declarations
made only its own namespace: its retry queues dead-letter through its own exchange.
"""

from __future__ import annotations

import copy
import json
import urllib.error
import urllib.request
import uuid
from collections.abc import Iterator
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

import pytest

from services.declaration.domain.identifiers import format_mrn
from services.release.notifications import EXCHANGE as RELEASES_EXCHANGE
from services.topology import QUEUE_TYPE, SUBSCRIPTIONS, agency_queue_arguments
from shared.events.catalog import registry
from shared.events.declaration import DeclarationAccepted, DeclarationReceived
from shared.events.envelope import stream_name
from shared.eventstore import EventStore
from shared.identity.development import dev_environment, mint
from shared.messaging.publisher import close_quietly, connect
from shared.messaging.topology import Topology, agency_permissions
from shared.settings import SERVICES
from shared.testing import databases, rabbit
from shared.testing.processes import ServiceProcess, draw_key_environment, free_port
from shared.testing.waiting import wait_until

pytestmark = pytest.mark.rabbitmq

ROOT = Path(__file__).resolve().parents[3]
RETRY_DELAYS = (0.2, 0.5, 1.0)
TOPOLOGY = Topology(registry(), SUBSCRIPTIONS, retry_delays=RETRY_DELAYS,
                    queue_type=QUEUE_TYPE)
AGENCY_QUEUE = "agency.lp"


def post(http: str, path: str, body: Any, token: str) -> tuple[int, Any]:
    request = urllib.request.Request(f"http://{http}{path}", data=json.dumps(body).encode(),
                                     method="POST",
                                     headers={"Content-Type": "application/json",
                                              "Authorization": f"Bearer {token}"})
    try:
        with urllib.request.urlopen(request, timeout=10) as reply:
            return reply.status, json.loads(reply.read())
    except urllib.error.HTTPError as error:
        return error.code, json.loads(error.read())


def ready(http: str, process: ServiceProcess) -> bool:
    process.check_alive()
    try:
        with urllib.request.urlopen(f"http://{http}/ready", timeout=1) as reply:
            return bool(reply.status == 200)
    except OSError:
        return False


class Cluster:
    def __init__(self, tmp_path: Path, admin: str, users: dict[str, str]) -> None:
        self.admin = admin
        self.url = databases.sqlite_url(tmp_path)
        self.store = EventStore(self.url, registry())
        self.var = tmp_path / "var"
        self.http: dict[str, str] = {}
        self.processes: dict[str, ServiceProcess] = {}
        for service in SERVICES:
            http = f"127.0.0.1:{free_port()}"
            config = {"AMQP_URI": users[service], "EVENT_STORE_URL": self.url,
                      "WEB_SERVER_ADDRESS": http, "max_workers": 10, "serializer": "json",
                      **dev_environment(self.var),
                      **(draw_key_environment() if service == "risk" else {})}
            process = ServiceProcess([f"services.{service}.service"], config, tmp_path,
                                     name=service,
                                     env={"RETRY_DELAYS": ",".join(map(str, RETRY_DELAYS))})
            process.start()
            self.http[service], self.processes[service] = http, process
        for service, process in self.processes.items():
            wait_until(lambda h=self.http[service], p=process: ready(h, p),  # type: ignore[misc]
                       timeout=60, message=f"{service} ready")

    def logs(self) -> str:
        return "\n".join(p.read_text() for p in self.var.parent.glob("*.log"))

    def stop(self) -> None:
        for process in self.processes.values():
            process.stop()
        self.store.close()


@pytest.fixture
def cluster(tmp_path: Path) -> Iterator[Cluster]:
    with rabbit.private_vhost("clearance_lp_services") as admin:
        connection = connect(admin)  # the definitions' topology, made by the operator
        try:
            channel = connection.channel()
            TOPOLOGY.declare(channel)
            channel.exchange_declare(RELEASES_EXCHANGE, "topic", durable=True,
                                     auto_delete=False)
            channel.queue_declare(AGENCY_QUEUE, durable=True, auto_delete=False,
                                  arguments=agency_queue_arguments())
            channel.queue_bind(AGENCY_QUEUE, RELEASES_EXCHANGE, "GBDEM001.*")
        finally:
            close_quietly(connection)
        with rabbit.service_users(admin, TOPOLOGY) as users:
            cluster = Cluster(tmp_path, admin, dict(users))
            try:
                yield cluster
            finally:
                cluster.stop()


def accept(store: EventStore, consignment: str, mrn: str) -> None:
    document = copy.deepcopy(json.loads((ROOT / "samples/01-green-paid.json").read_text()))
    events = [
        registry().new_event(DeclarationReceived(consignment, document["lrn"],
                                                 document["declarant"]["eori"], "sha256:x",
                                                 document),
                             correlation_id=consignment, actor="test"),
        registry().new_event(DeclarationAccepted(consignment, mrn, document["lrn"],
                                                 document["declarant"]["eori"],
                                                 document["office"],
                                                 document["transport"]["mode"],
                                                 date.today(), 1, document),
                             correlation_id=consignment, actor="test",
                             occurred_at=datetime.now(UTC)),
    ]
    store.append(stream_name("declaration", consignment), events, 0)


def test_four_least_privilege_services_clear_consignments(cluster: Cluster) -> None:
    consignments = {str(uuid.uuid4()): format_mrn(2026, "GB", 7_000_000 + i) for i in range(3)}
    for consignment, mrn in consignments.items():
        accept(cluster.store, consignment, mrn)

    def decided(consignment: str, category: str, event_type: str) -> Any:
        found = [e for e in cluster.store.read_stream(stream_name(category, consignment))
                 if e.type == event_type]
        return registry().decode(found[0]) if found else None

    cashier = mint(cluster.var, roles=["cashier"], sub="cashier-lp")
    green = []
    for consignment, mrn in consignments.items():
        risk = wait_until(lambda c=consignment: decided(c, "risk", "RiskAssessed"),  # type: ignore[misc]
                          timeout=60, message=f"the risk decision on {mrn}")
        duty = wait_until(lambda c=consignment: decided(c, "payment", "DutyAssessed"),  # type: ignore[misc]
                          timeout=60, message=f"the duty of {mrn}")
        status, body = post(cluster.http["payment"], "/payments",
                            {"mrn": mrn, "reference": f"P-{mrn}",
                             "amount": str(duty.amount_due), "currency": duty.currency},
                            cashier)
        assert status == 201, body
        if risk.lane == "green":
            green.append(consignment)
    assert green, "no consignment went down the green lane"

    for consignment in green:
        wait_until(lambda c=consignment: decided(c, "release", "GoodsReleased"),  # type: ignore[misc]
                   timeout=60, message="the release")
    with rabbit.broker_user(cluster.admin, agency_permissions(AGENCY_QUEUE), "agency") as agency:
        notified = wait_until(
            lambda: (lambda got: got if len(got) >= len(green) else None)(
                rabbit.peek(agency, AGENCY_QUEUE)),
            timeout=30, message="the agency's notifications")
    assert sorted(json.loads(m.body)["mrn"] for m in notified) == sorted(
        consignments[c] for c in green)

    # The declaration service answers nameko RPC as its own user (replies on nameko-rpc).
    from nameko.standalone.rpc import ClusterRpcProxy

    auditor = mint(cluster.var, roles=["auditor"], sub="auditor-lp")
    with ClusterRpcProxy({"AMQP_URI": cluster.admin}, timeout=30) as rpc:
        mrn = consignments[green[0]]
        assert rpc.declaration.status(mrn, auditor)["mrn"] == mrn

    for process in cluster.processes.values():
        process.check_alive()
    assert "ACCESS_REFUSED" not in cluster.logs()

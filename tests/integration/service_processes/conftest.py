"""Integration of one service at a time on the real broker and a real store.

Strategy: start ONE service as a real `nameko run` process (its own vhost, its own SQLite
store), feed it the upstream events the other services would have published (appended to the
store under their categories and published by a relay run in the test), and check what the
service appended to the log and answers over HTTP.

The service trusts the development signing key under the test's own `var/auth/` (its config
holds `dev_environment(var)`), and the test calls it with real tokens signed by that key
(`running.token(roles, ...)`), as a declarant, an officer, a cashier or an agency would.
The risk service draws with the session's test draw key (`TEST_DRAW_KEY`, in its config).
"""

from __future__ import annotations

import copy
import json
import urllib.request
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

import pytest

from services.topology import QUEUE_TYPE, SUBSCRIPTIONS
from shared.events.catalog import registry
from shared.events.declaration import DeclarationAccepted, DeclarationReceived
from shared.events.envelope import RecordedEvent, stream_name
from shared.eventstore import EventStore
from shared.identity.development import dev_environment, mint
from shared.messaging.relay import Relay
from shared.messaging.topology import Topology
from shared.testing import databases
from shared.testing.processes import ServiceProcess, draw_key_environment, free_port
from shared.testing.rabbit import private_vhost
from shared.testing.waiting import wait_until

ROOT = Path(__file__).resolve().parents[3]
RETRY_DELAYS = (0.2, 0.5, 1.0)
# The relay in the test declares the same retry queues as the service (same delays).
TEST_TOPOLOGY = Topology(registry(), SUBSCRIPTIONS, retry_delays=RETRY_DELAYS,
                         queue_type=QUEUE_TYPE)


def sample(name: str) -> dict[str, Any]:
    document: dict[str, Any] = json.loads((ROOT / "samples" / name).read_text())
    return copy.deepcopy(document)


@dataclass
class Running:
    store: EventStore
    amqp_uri: str
    http: str
    process: ServiceProcess
    var: Path  # the development signing key the service trusts is under var/auth/
    relays: dict[str, Relay] = field(default_factory=dict)

    def token(self, roles: Sequence[str], **claims: Any) -> str:
        """A bearer token the service accepts: signed by its development key, with `roles`
        and `claims` (sub, eori, offices, agency, ttl: see `mint`)."""
        return mint(self.var, roles=roles, **claims)

    def publish(self, category: str) -> None:
        """Publish everything appended under `category` (as that service's relay would; one
        relay per category, holding its lease, as in a service process)."""
        if category not in self.relays:
            self.relays[category] = Relay(self.store, self.amqp_uri, TEST_TOPOLOGY, category)
        while self.relays[category].run_once():
            pass

    def close(self) -> None:
        for relay in self.relays.values():
            relay.publisher.close()
        self.store.close()

    def stream(self, name: str, types: int = 1, timeout: float = 30) -> list[RecordedEvent]:
        found: list[RecordedEvent] = []

        def enough() -> bool:
            nonlocal found
            self.process.check_alive()
            found = self.store.read_stream(name)
            return len(found) >= types

        wait_until(enough, timeout=timeout, message=f"{types} events in {name}")
        return found

    def accept(self, document: dict[str, Any], mrn: str, consignment_id: str) -> None:
        """The declaration service's two events for `document`, appended and published."""
        now = datetime.now(UTC)
        events = [
            registry().new_event(DeclarationReceived(consignment_id, document["lrn"],
                                                     document["declarant"]["eori"], "sha256:x",
                                                     document),
                                 correlation_id=consignment_id, actor="test"),
            registry().new_event(DeclarationAccepted(consignment_id, mrn, document["lrn"],
                                                     document["declarant"]["eori"],
                                                     document["office"],
                                                     document["transport"]["mode"],
                                                     date.today(), 1, document),
                                 correlation_id=consignment_id, actor="test", occurred_at=now),
        ]
        self.store.append(stream_name("declaration", consignment_id), events, 0)
        self.publish("declaration")


@pytest.fixture
def run_service(tmp_path: Path) -> Iterator[Callable[[str], Running]]:
    started: list[Running] = []
    with private_vhost("clearance_svc") as amqp_uri:

        def start(service: str) -> Running:
            url = databases.sqlite_url(tmp_path)
            store = EventStore(url, registry())
            http = f"127.0.0.1:{free_port()}"
            var = tmp_path / "var"
            config = {"AMQP_URI": amqp_uri, "EVENT_STORE_URL": url, "WEB_SERVER_ADDRESS": http,
                      "max_workers": 10, "serializer": "json", **dev_environment(var),
                      **(draw_key_environment() if service == "risk" else {})}
            process = ServiceProcess([f"services.{service}.service"], config, tmp_path,
                                     name=service, env={"RETRY_DELAYS": ",".join(map(str, RETRY_DELAYS))})
            process.start()
            running = Running(store, amqp_uri, http, process, var)
            started.append(running)
            def ready() -> bool:
                process.check_alive()
                try:
                    with urllib.request.urlopen(f"http://{http}/ready", timeout=1) as reply:
                        return bool(reply.status == 200)
                except OSError:
                    return False

            wait_until(ready, timeout=60, message=f"{service} ready")
            return running

        try:
            yield start
        finally:
            for running in started:
                running.process.stop()
                running.close()

"""A tiny application for the messaging tests: two event types, a publishing service (relay
only) and a consuming service (one idempotent handler that appends one event per event).

* `alpha` category: `PingRecorded` (what the tests append), `PingUnrouted` (nobody subscribes).
* `beta` category: `PingHandled` (the effect: one per PingRecorded handled, causation = it).

The services read their names from the environment, since nameko builds the service class
at import time: `CLEARANCE_TEST_EXCHANGE`, `CLEARANCE_TEST_QUEUE`,
`CLEARANCE_TEST_RETRY_DELAYS` (seconds, comma separated), and `CLEARANCE_TEST_FAIL_FLAG` (a
file path: while it exists the handler raises), and `CLEARANCE_TEST_PRECHECK` ("0": the
handler's inbox pre-check is off). `METRICS_PORT` in the nameko config exposes
the process's metrics over HTTP.

`FaultService` (name `faults`): HTTP endpoints that misbehave on purpose, for the logging tests.

`python -m shared.testing.messaging_app append STORE_URL COUNT` appends COUNT PingRecorded
events with no relay running, prints `APPENDED <last position>`, and then waits to be killed.

`python -m shared.testing.messaging_app relay STORE_URL AMQP_URI LEASE_TTL` runs a plain
`Relay` of the alpha category (topology from the environment, as above) until SIGTERM; it
prints `RELAY <owner>` once started.
"""

from __future__ import annotations

import os
import signal
import sys
import time
import uuid
import warnings
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, ClassVar

import eventlet
from nameko.extensions import DependencyProvider

from shared.events.envelope import NewEvent, RecordedEvent
from shared.events.registry import EventRegistry
from shared.eventstore.store import EventStore
from shared.messaging.consumer import event_handler
from shared.messaging.relay import Relay, RelayProvider, RelaySettings
from shared.messaging.topology import Topology
from shared.messaging.writes import Append
from shared.observability.logging import configure
from shared.observability.metrics import metrics
from shared.web.entrypoint import api
from shared.web.identity import PUBLIC

REGISTRY = EventRegistry()


@dataclass(frozen=True)
class PingRecorded:
    TYPE: ClassVar[str] = "PingRecorded"
    VERSION: ClassVar[int] = 1
    CATEGORY: ClassVar[str] = "alpha"
    ping_id: str
    seq: int


@dataclass(frozen=True)
class PingUnrouted:
    TYPE: ClassVar[str] = "PingUnrouted"
    VERSION: ClassVar[int] = 1
    CATEGORY: ClassVar[str] = "alpha"
    ping_id: str
    seq: int


@dataclass(frozen=True)
class PingHandled:
    TYPE: ClassVar[str] = "PingHandled"
    VERSION: ClassVar[int] = 1
    CATEGORY: ClassVar[str] = "beta"
    ping_id: str
    seq: int


REGISTRY.register(PingRecorded)
REGISTRY.register(PingUnrouted)
REGISTRY.register(PingHandled)


def make_topology(
    exchange: str, queue: str, retry_delays: tuple[float, ...] = (0.2, 0.4)
) -> Topology:
    """The pings' topology, with quorum queues as the deployment's (services/topology.py)."""
    return Topology(REGISTRY, {queue: ("PingRecorded",)}, exchange=exchange,
                    retry_delays=retry_delays, queue_type="quorum")


def topology_env(topology: Topology, queue: str, fail_flag: str = "",
                 precheck: bool = True) -> dict[str, str]:
    """The environment that makes a service process build `topology`."""
    return {
        "CLEARANCE_TEST_EXCHANGE": topology.exchange,
        "CLEARANCE_TEST_QUEUE": queue,
        "CLEARANCE_TEST_RETRY_DELAYS": ",".join(str(d) for d in topology.retry_delays),
        "CLEARANCE_TEST_FAIL_FLAG": fail_flag,
        "CLEARANCE_TEST_PRECHECK": "1" if precheck else "0",
    }


def ping(seq: int, ping_id: str | None = None) -> NewEvent:
    ping_id = ping_id or uuid.uuid4().hex
    return REGISTRY.new_event(PingRecorded(ping_id, seq), correlation_id=f"C-{ping_id}",
                              actor="tests")


def append_pings(store: EventStore, count: int, start: int = 0) -> list[RecordedEvent]:
    """`count` PingRecorded events, each on its own stream `alpha-<ping id>`."""
    recorded: list[RecordedEvent] = []
    for seq in range(start, start + count):
        event = ping(seq)
        recorded += store.append(f"alpha-{event.data['ping_id']}", [event], expected_version=0)
    return recorded


def effects(store: EventStore) -> dict[str, int]:
    """PingHandled events per causing event id."""
    counts: dict[str, int] = {}
    for page in store.iter_all(categories=["beta"]):
        for event in page:
            if event.type == "PingHandled" and event.causation_id:
                counts[event.causation_id] = counts.get(event.causation_id, 0) + 1
    return counts


def _env_topology() -> tuple[Topology, str]:
    queue = os.environ.get("CLEARANCE_TEST_QUEUE", "messaging-tests.pings")
    delays = tuple(
        float(d) for d in os.environ.get("CLEARANCE_TEST_RETRY_DELAYS", "0.2,0.4").split(",") if d
    )
    exchange = os.environ.get("CLEARANCE_TEST_EXCHANGE", "messaging-tests.events")
    return make_topology(exchange, queue, delays), queue


TOPOLOGY, QUEUE = _env_topology()


class MetricsServer(DependencyProvider):  # type: ignore[misc]
    """Serves this process's metrics on config METRICS_PORT (if set); configures logging."""

    def setup(self) -> None:
        configure(self.container.service_name, level="DEBUG")
        port = self.container.config.get("METRICS_PORT")
        self.server: Any = None
        if port:
            from prometheus_client import start_http_server

            self.server, _ = start_http_server(int(port), "127.0.0.1",
                                               registry=metrics().registry)

    def stop(self) -> None:
        if self.server is not None:
            self.server.shutdown()

    def get_dependency(self, worker_ctx: Any) -> None:
        return None


class AlphaService:
    """Publishes the alpha category (the relay only)."""

    name = "alpha"
    relay = RelayProvider(TOPOLOGY, category="alpha")
    metrics_server = MetricsServer()


class BetaService:
    """Consumes PingRecorded and appends one PingHandled per event (fails while the flag
    file exists)."""

    name = "beta"
    metrics_server = MetricsServer()

    @event_handler(QUEUE, topology=TOPOLOGY,
                   precheck=os.environ.get("CLEARANCE_TEST_PRECHECK", "1") != "0")
    def on_ping(self, event: RecordedEvent, payload: PingRecorded) -> Append:
        flag = os.environ.get("CLEARANCE_TEST_FAIL_FLAG")
        if flag and os.path.exists(flag):
            raise RuntimeError(f"failing on purpose while {flag} exists")
        handled = REGISTRY.new_event(
            PingHandled(payload.ping_id, payload.seq),
            correlation_id=event.correlation_id,
            causation_id=event.event_id,
            actor="beta",
        )
        # expected_version None: a second effect of the same event would show up as a second
        # event here (it must never happen: the inbox prevents it).
        return Append(f"beta-{payload.ping_id}", [handled], expected_version=None)


class LoggingSetup(DependencyProvider):  # type: ignore[misc]
    """Configures logging as the clearance services do (`configure(service name)`)."""

    def setup(self) -> None:
        configure(self.container.service_name)


def _greenthread_dies() -> None:
    raise RuntimeError("a greenthread died on purpose")


class FaultService:
    """HTTP endpoints that misbehave on purpose, for the logging tests: `GET /ping` answers
    200; `GET /boom` raises an unhandled error (a 500); `GET /warn` issues a Python warning;
    `GET /stray` prints a line to stdout and lets a greenthread die of an unhandled error
    (eventlet's hub prints its traceback on stderr)."""

    name = "faults"
    logging_setup = LoggingSetup()

    @api("GET", "/ping", roles=PUBLIC, summary="Ping")
    def ping(self, request: Any) -> tuple[int, dict[str, Any]]:
        return 200, {"pong": True}

    @api("GET", "/boom", roles=PUBLIC, summary="An unhandled error")
    def boom(self, request: Any) -> tuple[int, dict[str, Any]]:
        raise RuntimeError("failing on purpose in GET /boom")

    @api("GET", "/warn", roles=PUBLIC, summary="A warning")
    def warn(self, request: Any) -> tuple[int, dict[str, Any]]:
        warnings.warn("a warning issued on purpose by GET /warn", UserWarning, stacklevel=1)
        return 200, {"warned": True}

    @api("GET", "/stray", roles=PUBLIC, summary="Stray output")
    def stray(self, request: Any) -> tuple[int, dict[str, Any]]:
        print("a line printed on purpose by GET /stray")
        eventlet.spawn(_greenthread_dies)
        eventlet.sleep(0.05)  # the greenthread runs, dies, and the hub prints its traceback
        return 200, {"strayed": True}


def _main(argv: list[str]) -> int:
    if len(argv) == 3 and argv[0] == "append":
        store = EventStore(argv[1], REGISTRY)
        recorded = append_pings(store, int(argv[2]))
        print(f"APPENDED {recorded[-1].position}", flush=True)
        while True:  # the relay never gets to run: the test kills this process
            time.sleep(60)
    if len(argv) == 4 and argv[0] == "relay":
        configure("relay", level="INFO")
        relay = Relay(
            EventStore(argv[1], REGISTRY), argv[2], TOPOLOGY, "alpha",
            settings=RelaySettings(lease_ttl=float(argv[3]), poll_interval=0.02),
        )
        signal.signal(signal.SIGTERM, lambda *_: relay.stop(timeout=0))
        print(f"RELAY {relay.owner}", flush=True)
        relay.run()
        return 0
    print(__doc__, file=sys.stderr)
    return 2


def config(amqp_uri: str, store_url: str, **extra: Any) -> Mapping[str, Any]:
    """A nameko config for these services."""
    return {"AMQP_URI": amqp_uri, "EVENT_STORE_URL": store_url, "max_workers": 10, **extra}


if __name__ == "__main__":
    raise SystemExit(_main(sys.argv[1:]))

"""The two consumer services of benchmark M2, run as real `nameko run` processes.

* `OursService`: our `@event_handler` (inbox record + a trivial effect in the service's group
  commit, no inbox pre-check: as the clearance services' handlers are configured) on the
  queue `BENCH_QUEUE` of the topology built from the environment, with its
  logging configured as the clearance services configure theirs (JSON, `LOG_LEVEL`, default
  INFO: the per-event debug line is filtered, as in production).
* `PeerService`: a bare nameko `@event_handler` on `bench_src.events` / `PingRecorded` doing one
  INSERT (autocommit) per event into `bench_peer_seen` of the same PostgreSQL database. Its
  queue is a quorum queue, as ours is (the deployment's queue type, services/topology.py):
  the ratio compares the consumers, not the queue types. (Quorum queues cost both sides:
  ours consumed about 10% fewer events a second from a quorum queue than from a classic one
  when they were introduced, issue 15.)
"""

from __future__ import annotations

import os
from typing import Any

from kombu import Queue
from nameko.events import EventHandler as NamekoEventHandler
from nameko.extensions import DependencyProvider

from shared.events.envelope import RecordedEvent
from shared.eventstore.store import Transaction
from shared.messaging.consumer import event_handler
from shared.messaging.store_provider import make_psycopg_green
from shared.messaging.topology import queue_type_arguments
from shared.observability.logging import configure
from shared.testing.messaging_app import make_topology

EXCHANGE = os.environ.get("BENCH_EXCHANGE", "bench.events")
QUEUE = os.environ.get("BENCH_QUEUE", "bench.pings")
PEER_SOURCE = "bench_src"
PEER_TABLE = "bench_peer_seen"
TOPOLOGY = make_topology(EXCHANGE, QUEUE)


def _nothing(tx: Transaction) -> None:
    return None


class Logging(DependencyProvider):  # type: ignore[misc]
    def setup(self) -> None:
        configure(self.container.service_name)


class OursService:
    name = "bench_ours"
    logging = Logging()

    # As the clearance services run their handlers: the write is returned, so the inbox
    # record in the transaction stops a redelivery and no pre-check query is made.
    @event_handler(QUEUE, topology=TOPOLOGY, precheck=False)
    def on_ping(self, event: RecordedEvent, payload: Any) -> Any:
        return _nothing


class Database(DependencyProvider):  # type: ignore[misc]
    def setup(self) -> None:
        from sqlalchemy import create_engine

        make_psycopg_green()
        self.engine = create_engine(self.container.config["EVENT_STORE_URL"], pool_size=10,
                                    isolation_level="AUTOCOMMIT")

    def stop(self) -> None:
        self.engine.dispose()

    def get_dependency(self, worker_ctx: Any) -> Any:
        return self.engine


class QuorumEventHandler(NamekoEventHandler):  # type: ignore[misc]
    """nameko's own event handler, consuming a quorum queue of the same name (nameko declares
    classic queues and has no option for it)."""

    def setup(self) -> None:
        super().setup()
        queue = self.queue
        self.queue = Queue(queue.name, exchange=queue.exchange, routing_key=queue.routing_key,
                           durable=True, auto_delete=False, exclusive=False,
                           queue_arguments=queue_type_arguments("quorum"))


nameko_event_handler = QuorumEventHandler.decorator


class PeerService:
    name = "bench_peer"
    db = Database()

    @nameko_event_handler(PEER_SOURCE, "PingRecorded")  # type: ignore[untyped-decorator]
    def on_ping(self, payload: dict[str, Any]) -> None:
        from sqlalchemy import text

        with self.db.connect() as connection:
            connection.execute(text(f"INSERT INTO {PEER_TABLE} (event_id) VALUES (:e)"),
                               {"e": payload["event_id"]})

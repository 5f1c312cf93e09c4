"""The event store inside a nameko service: one `EventStore` per container, opened in setup().

`SharedEventStore` is a nameko SharedExtension: the relay, the event handlers and the
`EventStoreProvider` of one service all get the same `EventStore` object, so an append made by
any of them wakes the relay at once (`EventStore.on_append` is per object). Nothing is opened
at import time. A service never migrates a PostgreSQL store: it refuses to start, naming
`clearance migrate`, when the schema is not at the head revision (`EventStore.for_service`;
the embedded SQLite store still migrates itself). Under eventlet monkey patching a PostgreSQL
store first makes psycopg2 cooperative (our own wait callback, see `make_psycopg_green`), otherwise every query would
block the whole process.
"""

from __future__ import annotations

from typing import Any

import greenlet
import psycopg2
from eventlet import patcher
from eventlet.hubs import trampoline
from eventlet.semaphore import Semaphore
from nameko.extensions import DependencyProvider, SharedExtension
from psycopg2 import extensions

from shared.events.registry import EventRegistry
from shared.eventstore.connections import url_from_env
from shared.eventstore.migrate import SchemaNotCurrent
from shared.eventstore.store import EventStore
from shared.observability.logging import get_logger

log = get_logger(__name__)

EVENT_STORE_URL_KEY = "EVENT_STORE_URL"

_green_psycopg = False


def make_psycopg_green() -> bool:
    """Make psycopg2 cooperative when eventlet has monkey patched the socket module (as
    `nameko run` does): a query's wait lets the hub run other green threads, EXCEPT while the
    waiting green thread's transaction holds the log-head lock (`shared.eventstore.holding`):
    then it waits for the database without yielding, so the lock is released after the
    transaction's own round trips and not after whatever other green threads run meanwhile.
    Idempotent; True when psycopg2 is (now) green."""
    global _green_psycopg
    if _green_psycopg:
        return True
    if not patcher.is_monkey_patched("socket"):
        return False
    from shared.eventstore import holding

    global HOLDER_WAIT
    from shared.eventstore.connections import Limits

    HOLDER_WAIT = holder_wait(Limits.from_settings().statement)
    extensions.set_wait_callback(_wait)
    holding.register(_hold, _release)
    _green_psycopg = True
    return True


_blocking_select = patcher.original("select").select
_holders: set[Any] = set()  # green threads whose transaction holds the log-head lock


def _hold() -> None:
    _holders.add(greenlet.getcurrent())


def _release() -> None:
    _holders.discard(greenlet.getcurrent())


# The longest a green thread holding the log-head lock waits for one answer of the database
# without yielding; then the connection is closed (the server rolls the transaction back and
# frees the lock) and the work fails as a lost connection would (a transient failure: the
# consumers retry it). Set from EVENT_STORE_STATEMENT_TIMEOUT plus a margin, so the server's
# own statement_timeout fires first whenever the server is the slow part.
HOLDER_WAIT = 35.0


def holder_wait(statement_timeout: float) -> float:
    """`HOLDER_WAIT` for a statement timeout (0: none, then 5 minutes)."""
    return statement_timeout + 5.0 if statement_timeout > 0 else 300.0


def _wait(connection: Any, timeout: float | None = None) -> None:
    """psycopg2's wait callback: green (trampoline) unless this green thread holds the lock;
    then a blocking select bounded by `HOLDER_WAIT`."""
    blocking = greenlet.getcurrent() in _holders
    while True:
        state = connection.poll()
        if state == extensions.POLL_OK:
            return
        if state not in (extensions.POLL_READ, extensions.POLL_WRITE):
            raise psycopg2.OperationalError(f"bad result from poll: {state!r}")
        reading = state == extensions.POLL_READ
        if not blocking:
            trampoline(connection.fileno(), read=reading, write=not reading)
            continue
        fds = [connection.fileno()]
        ready = _blocking_select(fds if reading else [], [] if reading else fds, [],
                                 HOLDER_WAIT)
        if not any(ready):
            connection.close()
            raise psycopg2.OperationalError(
                f"no answer from the database in {HOLDER_WAIT:g}s while holding the log-head"
                " lock: connection closed (the server rolls the transaction back)")


def store_url(config: dict[str, Any]) -> str:
    url = config.get(EVENT_STORE_URL_KEY)
    return str(url) if url else url_from_env()


def merged_registry(first: EventRegistry | None, second: EventRegistry | None) -> EventRegistry | None:
    if first is None or second is None or first is second:
        return first or second
    combined = EventRegistry()
    combined.include(first)
    combined.include(second)
    return combined


class SharedEventStore(SharedExtension):  # type: ignore[misc]
    """The container's one EventStore (config `EVENT_STORE_URL`), closed when it stops."""

    def __init__(self) -> None:
        self.store: EventStore | None = None
        self._lock = Semaphore(1)

    def open(self, registry: EventRegistry | None = None) -> EventStore:
        """The store, opened on first use (from the setup() of the extensions using it).

        Extensions with different registries share one store whose registry knows both."""
        with self._lock:
            if self.store is None:
                url = store_url(self.container.config)
                green = url.startswith("postgresql") and make_psycopg_green()
                try:
                    self.store = EventStore.for_service(url, registry)
                except SchemaNotCurrent as exc:
                    log.error("event store schema not current: refusing to start",
                              reason=str(exc))
                    raise
                log.info("event store opened", backend=self.store.dialect,
                         green_psycopg=green)
            elif registry is not None and registry is not self.store.registry:
                self.store.registry = merged_registry(self.store.registry, registry)
            return self.store

    def stop(self) -> None:
        if self.store is not None:
            self.store.close()
            self.store = None

    def kill(self) -> None:
        self.stop()


class EventStoreProvider(DependencyProvider):  # type: ignore[misc]
    """Injects the container's `EventStore` (validating appends with `registry`)::

        class RiskService:
            name = "risk"
            store = EventStoreProvider(REGISTRY)
    """

    shared_store = SharedEventStore()

    def __init__(self, registry: EventRegistry | None = None) -> None:
        self.registry = registry
        self.store: EventStore | None = None

    def setup(self) -> None:
        self.store = self.shared_store.open(self.registry)

    def get_dependency(self, worker_ctx: Any) -> EventStore:
        assert self.store is not None, "EventStoreProvider used before setup()"
        return self.store

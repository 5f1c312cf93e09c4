"""The follower: a read model fed by tailing the gap-free log, not by the broker.

A `LogFollower` reads the log after its checkpoint `follow:<name>`, page by page in position
order, as lean rows (`EventStore.scan`: each payload typed but holding only the fields the
read model reads), and hands each page to `apply(tx, rows)` inside one store transaction that
also moves the checkpoint (fenced by the lease `follow:<name>`): the read model and its
checkpoint commit together, so a crash replays nothing twice and skips nothing. One replica
at a time follows (the lease, `LeasedLoop`); the others stand by and take over within the
lease's TTL.

Positions are gap-free (an append takes the log-head lock and commits before the next one
numbers its events), so reading up to `last_position()` never passes an event committed
later. The follower is woken at once by appends made through the same `EventStore` object
and otherwise polls every `poll_interval` (the other services' appends).

Why not the broker: a projection that hears every event type took a delivery, a decode, a
confirmation against the log and an inbox row per event; tailing takes two reads and one
transaction per page, whatever the page's size. `FollowerProvider` runs one in a nameko
service.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Mapping, Sequence
from typing import Any

from nameko.extensions import DependencyProvider

from shared.events.envelope import RecordedEvent
from shared.eventstore import bookkeeping
from shared.eventstore.reader import ScannedEvent
from shared.eventstore.store import EventStore, Transaction
from shared.observability.logging import get_logger
from shared.observability.metrics import metrics

from .leased import LeasedLoop
from .relay import default_owner
from .store_provider import SharedEventStore

log = get_logger(__name__)

Apply = Callable[[Transaction, Sequence[ScannedEvent]], None]


class LeaseLost(RuntimeError):
    """Another replica holds the follower's lease: this page's writes are rolled back."""


class LogFollower(LeasedLoop):
    kind = "follower"

    def __init__(self, store: EventStore, name: str, fields: Mapping[str, Sequence[str]],
                 apply: Apply, *, owner: str | None = None, batch_size: int = 1000,
                 poll_interval: float = 0.1, lease_ttl: float = 10.0,
                 max_backoff: float = 5.0, linger: float = 0.02) -> None:
        super().__init__(store, f"follow:{name}", owner or default_owner(),
                         batch_size=batch_size, poll_interval=poll_interval,
                         lease_ttl=lease_ttl, max_backoff=max_backoff, linger=linger)
        self.fields = dict(fields)
        self.apply = apply
        self.followed = 0  # events this instance applied and checkpointed
        self._checkpoint: int | None = None  # known while leading
        store.on_append(self._on_append)

    def _on_append(self, appended: Sequence[RecordedEvent]) -> None:
        self._wake.set()

    def run_once(self) -> int:
        """One pass: the events applied (at most `batch_size`)."""
        if not self.hold_lease():
            return 0
        labels = ("all", self.name)
        if self._checkpoint is None:
            self._checkpoint = self.store.checkpoint(self.name)
        after = self._checkpoint
        head = self.store.last_position()
        if head <= after:
            self._failures = 0
            metrics().relay_lag.labels(*labels).set(0)
            return 0
        up_to = min(head, after + self.batch_size)
        rows = [row for page in self.store.log.scan(after, up_to, self.batch_size, self.fields)
                for row in page]
        with self.store.transaction() as tx:
            self.apply(tx, rows)
            if not tx.run(lambda c: bookkeeping.save_checkpoint(
                    c, tx.dialect, self.name, up_to, lease=self.name, owner=self.owner)):
                raise LeaseLost(f"{self.name}: lease held by another replica")
        self._checkpoint = up_to
        self._failures = 0
        self.followed += up_to - after
        metrics().relay_lag.labels(*labels).set(head - up_to)
        return up_to - after

    def lease_regained(self) -> None:
        self._checkpoint = None


class FollowerProvider(DependencyProvider):  # type: ignore[misc]
    """Runs a `LogFollower` in a nameko service, on the container's shared store.

    Config: an optional `FOLLOWER` section with batch_size, poll_interval, lease_ttl, owner."""

    shared_store = SharedEventStore()

    def __init__(self, name: str, fields: Mapping[str, Sequence[str]], apply: Apply) -> None:
        self.name = name
        self.fields = fields
        self.apply = apply
        self.follower: LogFollower | None = None
        self._stop = threading.Event()
        self._gt: Any = None

    def setup(self) -> None:
        section = dict(self.container.config.get("FOLLOWER") or {})
        unknown = set(section) - {"batch_size", "poll_interval", "lease_ttl", "owner"}
        if unknown:
            raise ValueError(f"unknown FOLLOWER setting {sorted(unknown)}")
        options: dict[str, Any] = {
            key: (int if key == "batch_size" else float)(value)
            for key, value in section.items() if key != "owner"}
        self.follower = LogFollower(self.shared_store.open(), self.name, self.fields,
                                    self.apply, owner=section.get("owner") or None, **options)

    def start(self) -> None:
        assert self.follower is not None
        self._stop.clear()
        follower = self.follower
        self._gt = self.container.spawn_managed_thread(
            lambda: follower.run(self._stop), identifier=follower.name)

    def stop(self) -> None:
        self._stop.set()
        if self.follower is not None:
            self.follower.wake()
        if self._gt is not None:
            self._gt.wait()
            self._gt = None

    def kill(self) -> None:
        self._stop.set()
        if self.follower is not None:
            self.follower.wake()

    def get_dependency(self, worker_ctx: Any) -> LogFollower | None:
        return self.follower

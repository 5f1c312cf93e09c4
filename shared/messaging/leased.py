"""A loop that runs in exactly one replica at a time: the base of the relay and the follower.

`LeasedLoop.run` calls `run_once` pass after pass. The subclass's `run_once` first calls
`hold_lease()`: a lease `name` in the store (taken, renewed every third of its TTL, and
counted on this process's monotonic clock from before it asked, so the holder always stops
before the database lets another replica take over). A replica that is not the holder asks
again every `standby_interval`. A pass that raises is logged and followed by a backoff (up to
`max_backoff`); a pass that did a full batch is followed at once by the next; otherwise the
loop sleeps `poll_interval` or until `wake()`. Hooks: `lease_regained` (state read under the
previous holding is stale), `went_idle` (a pass found nothing), `stopping` (before the lease
is released on the way out) and `closed` (after).
"""

from __future__ import annotations

import threading
import time
from datetime import timedelta

from shared.eventstore.store import EventStore
from shared.observability.logging import get_logger

log = get_logger(__name__)


class LeasedLoop:
    kind = "loop"  # in log lines: "relay", "follower"

    def __init__(self, store: EventStore, name: str, owner: str, *, batch_size: int,
                 poll_interval: float, lease_ttl: float, max_backoff: float,
                 linger: float = 0.0, linger_window: float = 0.05) -> None:
        self.store = store
        self.name = name
        self.owner = owner
        self.batch_size = batch_size
        self.poll_interval = poll_interval
        self.lease_ttl = lease_ttl
        self.max_backoff = max_backoff
        self.linger = linger
        self.linger_window = linger_window
        self._wake = threading.Event()
        self._stopping = threading.Event()
        self._thread: threading.Thread | None = None
        self._lease_until = 0.0  # monotonic time the held lease runs out (0: not held)
        self._renew_at = 0.0
        self._next_lease_attempt = 0.0
        self._failures = 0
        self._last_pass = float("-inf")

    # -- to provide ---------------------------------------------------------------------
    def run_once(self) -> int:
        """One pass; the number of events done (`batch_size`: more may be waiting)."""
        raise NotImplementedError

    def lease_regained(self) -> None:
        """The lease was (re)taken: another holder may have moved things meanwhile."""

    def went_idle(self) -> None:
        """A pass found nothing to do while holding the lease."""

    def stopping(self) -> None:
        """The loop ends, still holding the lease (released next)."""

    def closed(self) -> None:
        """The loop has ended and the lease is released."""

    # -- the lease ----------------------------------------------------------------------
    @property
    def is_leader(self) -> bool:
        return time.monotonic() < self._lease_until

    def wake(self) -> None:
        self._wake.set()

    def lose_lease(self) -> None:
        """The store says another replica holds the lease now."""
        self._lease_until = 0.0
        self.lease_regained()

    def hold_lease(self) -> bool:
        """Take or renew the lease when due; True while this replica holds it."""
        now = time.monotonic()
        if now < self._lease_until and now < self._renew_at:
            return True
        if self._lease_until == 0.0 and now < self._next_lease_attempt:
            return False
        ttl = self.lease_ttl
        held = self.store.try_acquire_lease(self.name, self.owner, timedelta(seconds=ttl))
        if held and (self._lease_until == 0.0 or now >= self._lease_until):
            self.lease_regained()
        if held:
            if self._lease_until == 0.0:
                log.info(f"{self.kind} lease acquired", **{self.kind: self.name},
                         owner=self.owner)
            self._lease_until = now + ttl
            self._renew_at = now + ttl / 3
        else:
            if self._lease_until:
                log.warning(f"{self.kind} lease lost", **{self.kind: self.name},
                            owner=self.owner)
            self._lease_until = 0.0
            self._next_lease_attempt = now + self.standby_interval()
        return held

    def standby_interval(self) -> float:
        return max(self.poll_interval, self.lease_ttl / 4)

    # -- the loop -----------------------------------------------------------------------
    def run(self, stop: threading.Event | None = None) -> None:
        """Pass after pass until `stop` (or `self.stop()`); releases the lease on the way out."""
        stopping = stop or self._stopping
        log.info(f"{self.kind} started", **{self.kind: self.name}, owner=self.owner)
        try:
            while not (stopping.is_set() or self._stopping.is_set()):
                self._wake.clear()
                if self.linger and time.monotonic() - self._last_pass < self.linger_window:
                    stopping.wait(self.linger)
                try:
                    self._last_pass = time.monotonic()
                    done = self.run_once()
                except Exception as exc:  # noqa: BLE001 - go on after DB/broker trouble
                    self._failures += 1
                    self.lease_regained()  # what was read may be stale: read it again
                    log.exception(f"{self.kind} pass failed", **{self.kind: self.name},
                                  error=f"{type(exc).__name__}: {exc}")
                    done = 0
                if done == self.batch_size and not self._failures:
                    continue  # more may be waiting: no pause
                if not done and self.is_leader:
                    self.went_idle()
                self._wake.wait(self._delay())
        finally:
            self._shutdown()

    def _delay(self) -> float:
        if self._failures:
            return min(self.max_backoff, self.poll_interval * float(1 << min(self._failures, 16)))
        if not self.is_leader:
            return self.standby_interval()
        return self.poll_interval

    def _shutdown(self) -> None:
        if self._lease_until:
            self.stopping()
            try:
                self.store.release_lease(self.name, self.owner)
            except Exception:  # noqa: BLE001 - the lease expires anyway
                log.warning(f"could not release the {self.kind} lease", **{self.kind: self.name})
            self._lease_until = 0.0
        self.closed()
        log.info(f"{self.kind} stopped", **{self.kind: self.name}, owner=self.owner)

    def start(self) -> None:
        """Run in a daemon thread (a greenthread under eventlet monkey patching)."""
        if self._thread is not None:
            raise RuntimeError(f"{self.kind} already started")
        self._stopping.clear()
        self._thread = threading.Thread(target=self.run, name=self.name, daemon=True)
        self._thread.start()

    def stop(self, timeout: float = 10.0) -> None:
        """Ask the loop to finish its pass and exit; join the thread started by `start`."""
        self._stopping.set()
        self._wake.set()
        thread, self._thread = self._thread, None
        if thread is not None:
            thread.join(timeout)

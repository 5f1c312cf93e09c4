"""A hook for the process's scheduler while a transaction holds the log-head lock.

On PostgreSQL, a transaction that has appended holds the deployment's one log-head lock until
it ends: every other append in every service waits for it. In a service process running green
threads (eventlet), each statement's wait would let the hub run other green threads, and the
holder gets back to its COMMIT only when they yield: the lock is then held for their CPU time,
not for the transaction's. The store calls `started()` when a transaction takes the lock and
`ended()` when it commits or rolls back; an integration (`shared.messaging.store_provider`)
registers what to do, e.g. wait for the database without yielding to other green threads.
Without a registration both do nothing.
"""

from __future__ import annotations

from collections.abc import Callable

_started: Callable[[], None] | None = None
_ended: Callable[[], None] | None = None


def register(started_fn: Callable[[], None], ended_fn: Callable[[], None]) -> None:
    global _started, _ended
    _started, _ended = started_fn, ended_fn


def started() -> None:
    if _started is not None:
        _started()


def ended() -> None:
    if _ended is not None:
        _ended()

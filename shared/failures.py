"""Transient versus poison: why an event's handling failed decides what happens to it.

* **Transient** (the infrastructure failed, not the message): the database refused a
  connection, dropped it, timed out a statement or a lock, or was locked; a socket or the broker
  failed; a timeout fired. Such a failure says nothing about the message, so it is retried with
  capped backoff for as long as it takes (the retry queues' delays, staying at the longest) and
  NEVER parked: a database outage of minutes heals by itself, with no replay by hand.
* **Poison** (anything else: the handler refused the event, a bug, a conflict that did not
  clear): retried `retry_levels` times, then parked with its reason for an operator.

The exception is judged with the chain of causes it carries (`raise ... from`, or an error
raised while handling another, unless `from None` cut it off), so a domain error wrapping a
lost connection is transient too.

Judged alike at both edges: the consumers (`shared.messaging.consumer`: retried, never
parked) and HTTP (`shared.web.entrypoint`: a 503 with `Retry-After`).
"""

from __future__ import annotations

import socket
import sqlite3

import psycopg2

MAX_CHAIN = 8  # causes followed at most (a chain can in principle loop)


def _transient_types() -> tuple[type[BaseException], ...]:
    import amqp.exceptions
    import kombu.exceptions
    import sqlalchemy.exc
    from eventlet.timeout import Timeout as GreenTimeout

    return (
        # psycopg2: connection refused or lost, server shutting down, statement_timeout
        # (QueryCanceled), lock_timeout (LockNotAvailable), serialization or deadlock
        # (TransactionRollbackError): all OperationalError; InterfaceError: a closed connection.
        psycopg2.OperationalError,
        psycopg2.InterfaceError,
        # SQLite: "database is locked" after the busy timeout, disk I/O errors.
        sqlite3.OperationalError,
        # SQLAlchemy's wrappers of the above (the schema engine, Alembic).
        sqlalchemy.exc.OperationalError,
        sqlalchemy.exc.InterfaceError,
        sqlalchemy.exc.DisconnectionError,
        sqlalchemy.exc.TimeoutError,
        # The network and the broker.
        ConnectionError,
        TimeoutError,
        socket.gaierror,
        amqp.exceptions.ConnectionError,
        amqp.exceptions.RecoverableConnectionError,
        kombu.exceptions.OperationalError,
        GreenTimeout,
    )


_TRANSIENT: tuple[type[BaseException], ...] | None = None


def is_transient(exc: BaseException) -> bool:
    """Whether `exc` (or one of its causes) is an infrastructure failure (module docstring)."""
    global _TRANSIENT
    if _TRANSIENT is None:
        _TRANSIENT = _transient_types()
    seen: set[int] = set()
    current: BaseException | None = exc
    while current is not None and len(seen) < MAX_CHAIN and id(current) not in seen:
        if isinstance(current, _TRANSIENT):
            return True
        seen.add(id(current))
        current = current.__cause__ or (
            None if current.__suppress_context__ else current.__context__)
    return False

"""Transient (infrastructure) versus poison (the message's own) failures: what the consumer
retries forever and what it parks (`shared.failures`)."""

from __future__ import annotations

import socket
import sqlite3

import psycopg2
import psycopg2.errors
import pytest

from shared.eventstore.errors import WrongExpectedVersion
from shared.failures import is_transient


@pytest.mark.parametrize("exc", [
    psycopg2.OperationalError("could not connect to server"),
    psycopg2.errors.QueryCanceled("canceling statement due to statement timeout"),
    psycopg2.errors.LockNotAvailable("canceling statement due to lock timeout"),
    psycopg2.errors.AdminShutdown("terminating connection due to administrator command"),
    psycopg2.InterfaceError("connection already closed"),
    sqlite3.OperationalError("database is locked"),
    ConnectionRefusedError(111, "Connection refused"),
    TimeoutError("timed out"),
    socket.gaierror(-2, "Name or service not known"),
], ids=lambda exc: type(exc).__name__)
def test_infrastructure_failures_are_transient(exc: BaseException) -> None:
    assert is_transient(exc)


@pytest.mark.parametrize("exc", [
    ValueError("a refused declaration"), KeyError("mrn"), RuntimeError("a bug"),
    WrongExpectedVersion("risk-X", 1, 2), psycopg2.IntegrityError("duplicate key"),
    sqlite3.IntegrityError("UNIQUE constraint failed"),
], ids=lambda exc: type(exc).__name__)
def test_the_messages_own_failures_are_not(exc: BaseException) -> None:
    assert not is_transient(exc)


def test_a_failure_caused_by_a_lost_connection_is_transient() -> None:
    try:
        try:
            raise psycopg2.OperationalError("server closed the connection unexpectedly")
        except psycopg2.OperationalError as cause:
            raise RuntimeError("could not record the risk assessment") from cause
    except RuntimeError as exc:
        assert is_transient(exc)
    try:
        try:
            raise ConnectionResetError(104, "Connection reset by peer")
        except ConnectionResetError:
            raise ValueError("while reading")  # noqa: B904 - raised while handling it
    except ValueError as exc:
        assert is_transient(exc)
    try:
        try:
            raise ConnectionResetError(104, "Connection reset by peer")
        except ConnectionResetError:
            raise ValueError("a bad document") from None  # the author cut the chain
    except ValueError as exc:
        assert not is_transient(exc)

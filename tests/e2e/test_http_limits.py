"""The services' HTTP limits (issue 15), on the real services (SQLite, a private vhost) run
with a short socket timeout (2 s) and a cap of 4 connections: slow clients ("slowloris": a
request sent a few bytes at a time and never finished) hold at most the capped connections,
are cut off after the timeout, and then the service answers again; a kept-alive connection
left idle is closed too."""

from __future__ import annotations

import socket
import time
from collections.abc import Iterator

import pytest

from .conftest import Cluster, running_cluster

TIMEOUT, CAP = 2, 4


@pytest.fixture(scope="module", params=["sqlite"])
def cluster(request: pytest.FixtureRequest,
            tmp_path_factory: pytest.TempPathFactory) -> Iterator[Cluster]:
    yield from running_cluster(request, tmp_path_factory, extra={
        "HTTP_SOCKET_TIMEOUT": str(TIMEOUT), "HTTP_MAX_CONNECTIONS": str(CAP)})


def address(cluster: Cluster) -> tuple[str, int]:
    host, _, port = cluster.env["DECLARATION_HTTP"].rpartition(":")
    return host, int(port)


def slow_client(cluster: Cluster) -> socket.socket:
    """A connection that starts a request and never finishes it."""
    client = socket.create_connection(address(cluster), timeout=30)
    client.sendall(b"GET /health HTTP/1.1\r\nHost: clearance\r\nX-Slow: ")
    return client


def health(client: socket.socket) -> bytes:
    client.sendall(b"GET /health HTTP/1.1\r\nHost: clearance\r\n\r\n")
    return client.recv(65536)


def closed_by_server(client: socket.socket) -> None:
    """Read until the server closes the connection (within the timeout and a margin); an
    answer it sends first (a 408) may come before the end."""
    client.settimeout(TIMEOUT + 10)
    received = b""
    while chunk := client.recv(65536):  # raises TimeoutError if the server never closes
        received += chunk
    assert received == b"" or received.startswith(b"HTTP/1.1 408"), received


def test_slow_clients_hold_no_more_than_the_cap_and_are_cut_off(cluster: Cluster) -> None:
    slow = [slow_client(cluster) for _ in range(CAP)]
    time.sleep(0.3)  # the server has accepted them: every slot is taken
    waiting = socket.create_connection(address(cluster), timeout=30)
    try:
        waiting.settimeout(0.5)
        waiting.sendall(b"GET /health HTTP/1.1\r\nHost: clearance\r\n\r\n")
        with pytest.raises(TimeoutError):
            waiting.recv(65536)  # over the cap: it waits in the backlog, not served
        # The server closes the slow clients after the socket timeout ...
        for client in slow:
            closed_by_server(client)
        # ... and then serves the one that waited.
        waiting.settimeout(TIMEOUT + 10)
        answer = waiting.recv(65536)
        assert answer.startswith(b"HTTP/1.1 200"), answer
    finally:
        for client in [*slow, waiting]:
            client.close()


def test_an_idle_kept_alive_connection_is_closed_after_the_timeout(cluster: Cluster) -> None:
    client = socket.create_connection(address(cluster), timeout=30)
    try:
        assert health(client).startswith(b"HTTP/1.1 200")
        closed_by_server(client)
    finally:
        client.close()

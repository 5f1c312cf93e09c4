"""Every line a service process writes is one JSON object with `timestamp`, `level`, `service`
and `event`: our structlog events, and what nameko, eventlet, werkzeug, kombu, amqp, Alembic,
Python warnings, tracebacks and stray prints write.

Strategy: the four services run as real processes on their own `config.yaml` (its LOGGING
section), started as `python -m shared.observability.logging run --config ...`, on the real
broker (a private vhost) and a new PostgreSQL database; beside them a test-only service
(`shared.testing.messaging_app:FaultService`) whose endpoints fail on purpose. The test drives
two consignments through all four services over HTTP, with the broker closing every
connection between them; asks for a 404 and a malformed request; has the faulty service
answer an unhandled 500, issue a warning, print to stdout and lose a greenthread to an
unhandled error. Then it stops every process (SIGTERM) and reads every line each one wrote,
stdout and stderr together. The four services trust the development key under the test's
`var/auth/`; the broker, the cashier call them with real tokens signed by it.
"""

from __future__ import annotations

import json
import socket
import subprocess
import urllib.error
import urllib.request
from datetime import datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

from shared.identity.development import dev_environment, mint
from shared.testing import databases
from shared.testing.processes import JSON_LOGGING_RUN, ServiceProcess, free_port
from shared.testing.rabbit import private_vhost
from shared.testing.waiting import wait_until

ROOT = Path(__file__).resolve().parents[3]
SERVICES = ("declaration", "risk", "payment", "release")
FAULTS = "faults"
LEVELS = {"debug", "info", "warning", "error", "critical"}

pytestmark = [pytest.mark.postgres, pytest.mark.rabbitmq]


def call(address: str, method: str, path: str, body: dict[str, Any] | None = None,
         token: str | None = None) -> tuple[int, Any]:
    data = json.dumps(body).encode() if body is not None else None
    headers = {"Content-Type": "application/json"}
    if token is not None:
        headers["Authorization"] = f"Bearer {token}"
    request = urllib.request.Request(f"http://{address}{path}", data=data, method=method,
                                     headers=headers)
    try:
        with urllib.request.urlopen(request, timeout=10) as reply:
            status, text = reply.status, reply.read()
    except urllib.error.HTTPError as error:
        status, text = error.code, error.read()
    try:
        return status, json.loads(text)
    except ValueError:
        return status, text.decode(errors="replace")


def answers(address: str, path: str) -> bool:
    try:
        return call(address, "GET", path)[0] == 200
    except OSError:
        return False


def logging_section(service: str) -> dict[str, Any]:
    """A nameko LOGGING section like the services' own (see their config.yaml), at INFO."""
    return {"version": 1, "disable_existing_loggers": False,
            "handlers": {"json": {"()": "shared.observability.logging.service_handler",
                                  "service": service}},
            "root": {"level": "INFO", "handlers": ["json"]}}


class Cluster:
    def __init__(self, directory: Path, amqp_uri: str, store_url: str) -> None:
        self.http = {name: f"127.0.0.1:{free_port()}" for name in (*SERVICES, FAULTS)}
        self.var = directory / "var"  # the development signing key the services trust
        env = {"AMQP_URI": amqp_uri, "EVENT_STORE_URL": store_url, "LOG_LEVEL": "INFO",
               "RETRY_DELAYS": "0.2,0.5,1", **dev_environment(self.var),
               **{f"{s.upper()}_HTTP": self.http[s] for s in SERVICES}}
        self.processes = {
            service: ServiceProcess(
                [f"services.{service}.service"], {}, directory, name=service,
                env=env, module=JSON_LOGGING_RUN,
                config_file=ROOT / "services" / service / "config.yaml")
            for service in SERVICES
        }
        self.processes[FAULTS] = ServiceProcess(
            ["shared.testing.messaging_app:FaultService"],
            {"AMQP_URI": amqp_uri, "WEB_SERVER_ADDRESS": self.http[FAULTS],
             "LOGGING": logging_section(FAULTS)},
            directory, name=FAULTS, env={"LOG_LEVEL": "INFO"},
            module=JSON_LOGGING_RUN)

    def start(self) -> None:
        for process in self.processes.values():
            process.start()
        for name, process in self.processes.items():
            def ready(name: str = name, process: ServiceProcess = process) -> bool:
                process.check_alive()
                return answers(self.http[name], "/ping" if name == FAULTS else "/ready")

            wait_until(ready, timeout=90, interval=0.2, message=f"{name} ready")

    def stop(self) -> None:
        for process in self.processes.values():
            if process.alive:
                assert process.process is not None
                process.process.terminate()  # all at once; each then waited for
        for process in self.processes.values():
            process.stop()

    def clear(self, document: dict[str, Any]) -> str:
        """Lodge `document`, pay what is due, wait for the release: every service takes part."""
        broker = mint(self.var, roles=["declarant"], sub="broker-logs",
                      eori=document["declarant"]["eori"])
        cashier = mint(self.var, roles=["cashier"], sub="cashier-logs")
        status, lodged = call(self.http["declaration"], "POST", "/declarations", document,
                              broker)
        assert status == 201, lodged
        mrn: str = lodged["mrn"]

        def view() -> dict[str, Any]:
            found: dict[str, Any] = call(self.http["declaration"], "GET", f"/declarations/{mrn}",
                                         token=broker)[1]
            return found

        due = wait_until(lambda: view()["amount_due"], timeout=60, interval=0.1,
                         message=f"the duty of {mrn}")
        status, paid = call(self.http["payment"], "POST", "/payments",
                            {"mrn": mrn, "reference": f"PAY-{mrn}",
                             "amount": str(Decimal(due)), "currency": view()["currency"]},
                            cashier)
        assert status == 201, paid
        wait_until(lambda: view()["status"]["name"] == "cleared", timeout=60, interval=0.1,
                   message=f"{mrn} released")
        return mrn

    def lines(self) -> dict[str, list[str]]:
        return {name: process.output().splitlines() for name, process in self.processes.items()}


def malformed_request(address: str) -> bytes:
    """What the service answers to a request line that is not HTTP (all of it: the server
    closes the connection after its error answer)."""
    host, port = address.split(":")
    with socket.create_connection((host, int(port)), timeout=10) as connection:
        connection.sendall(b"NOT AN HTTP REQUEST\r\n\r\n")
        answer = b""
        while chunk := connection.recv(4096):
            answer += chunk
        return answer


@pytest.fixture(scope="module")
def written(tmp_path_factory: pytest.TempPathFactory) -> dict[str, list[str]]:
    """Every line each process wrote, by process name, once all of them have stopped."""
    directory = tmp_path_factory.mktemp("json-logs")
    document = json.loads((ROOT / "samples" / "01-green-paid.json").read_text())
    with private_vhost("clearance_logs") as amqp_uri, databases.postgres_database() as url:
        cluster = Cluster(directory, amqp_uri, url)
        try:
            cluster.start()
            declaration, faults = cluster.http["declaration"], cluster.http[FAULTS]
            for service in SERVICES:
                assert call(cluster.http[service], "GET", "/health")[0] == 200
            assert call(declaration, "GET", "/no-such-route")[0] == 404
            # http.server's own 400, as problem+json (a request line it cannot read gets no
            # status line: it is answered as HTTP/0.9, the body alone)
            problem = json.loads(malformed_request(declaration))
            assert problem["status"] == 400 and problem["type"].endswith("/http-400"), problem
            cluster.clear(document)

            # The broker drops every connection: consumers and publishers reconnect.
            vhost = amqp_uri.rsplit("/", 1)[1]
            subprocess.run(["rabbitmqctl", "-q", "close_all_connections", "-p", vhost,
                            "closed by test_json_logs"], check=True, capture_output=True,
                           timeout=60)
            cluster.clear({**document, "lrn": document["lrn"] + "-2"})

            status, problem = call(faults, "GET", "/boom")
            assert status == 500 and problem["type"].endswith("/internal"), problem
            assert call(faults, "GET", "/warn")[0] == 200
            assert call(faults, "GET", "/stray")[0] == 200
        finally:
            cluster.stop()
        return cluster.lines()


@pytest.fixture(scope="module")
def records(written: dict[str, list[str]]) -> dict[str, list[dict[str, Any]]]:
    return {name: [json.loads(line) for line in lines] for name, lines in written.items()}


def find(records: list[dict[str, Any]], **fields: Any) -> list[dict[str, Any]]:
    return [r for r in records if all(r.get(k) == v for k, v in fields.items())]


def test_every_line_of_every_process_is_one_json_object_with_the_four_keys(
        written: dict[str, list[str]]) -> None:
    problems: list[str] = []
    for name, lines in written.items():
        assert len(lines) > 10, f"{name} wrote only {lines}"
        for number, line in enumerate(lines, 1):
            try:
                record = json.loads(line)
            except ValueError:
                problems.append(f"{name}.log:{number}: not JSON: {line[:300]}")
                continue
            if not isinstance(record, dict):
                problems.append(f"{name}.log:{number}: not an object: {line[:300]}")
                continue
            missing = {"timestamp", "level", "service", "event"} - set(record)
            if missing:
                problems.append(f"{name}.log:{number}: no {sorted(missing)}: {line[:300]}")
                continue
            stamp = datetime.fromisoformat(record["timestamp"])
            if record["service"] != name or record["level"] not in LEVELS \
                    or stamp.utcoffset() != timedelta(0):
                problems.append(f"{name}.log:{number}: service, level or timestamp: {line}")
    assert not problems, f"{len(problems)} bad lines:\n" + "\n".join(problems[:30])


def test_nameko_kombu_alembic_and_eventlet_lines_are_among_them(
        records: dict[str, list[dict[str, Any]]]) -> None:
    for service in SERVICES:
        lines = records[service]
        assert find(lines, logger="nameko.runners", event=f"starting services: {service}")
        assert find(lines, logger="nameko.runners", event=f"stopping services: {service}")
        assert find(lines, logger="alembic.runtime.migration", event="Context impl PostgresqlImpl.")
        assert [r for r in find(lines, logger="kombu.mixins") if r["event"].startswith("Connected to")]
        # eventlet's deprecation warning, issued when nameko imports eventlet
        assert [r for r in find(lines, logger="py.warnings", level="warning")
                if "EventletDeprecationWarning" in r["event"]]
        # our own structlog events
        assert find(lines, event="relay started")
    # the malformed request, answered by http.server inside eventlet
    assert [r for r in find(records["declaration"], logger="eventlet.wsgi", level="warning")
            if "code 400" in r["event"]]


def test_one_access_record_per_request_with_its_status(
        records: dict[str, list[dict[str, Any]]]) -> None:
    def access(name: str, method: str, path: str) -> list[int]:
        return [r["status"] for r in find(records[name], logger="shared.web.access",
                                          event="http request", method=method, path=path)]

    assert access("declaration", "GET", "/health") == [200]
    assert access("declaration", "GET", "/no-such-route") == [404]
    assert access("declaration", "POST", "/declarations") == [201, 201]
    assert access("payment", "POST", "/payments") == [201, 201]
    assert access(FAULTS, "GET", "/boom") == [500]


def test_an_unhandled_error_is_one_line_with_its_traceback_in_a_field(
        records: dict[str, list[dict[str, Any]]]) -> None:
    [logged] = find(records[FAULTS], logger="shared.web.entrypoint", level="error")
    assert logged["event"] == "unhandled error in GET /boom"
    assert logged["exception"].startswith("Traceback (most recent call last):")
    assert "RuntimeError: failing on purpose in GET /boom" in logged["exception"]


def test_losing_the_broker_is_logged_as_json_with_the_traceback(
        records: dict[str, list[dict[str, Any]]]) -> None:
    lost = [r for service in SERVICES for r in records[service]
            if r["event"].startswith("Connection to broker lost")]
    assert lost and all("CONNECTION_FORCED" in r["exception"] for r in lost)
    assert [r for service in SERVICES for r in records[service]
            if r["event"] == "publish failed; will reconnect"]


def test_warnings_prints_and_printed_tracebacks_are_json(
        records: dict[str, list[dict[str, Any]]]) -> None:
    faults = records[FAULTS]
    assert [r for r in find(faults, logger="py.warnings", level="warning")
            if "UserWarning: a warning issued on purpose by GET /warn" in r["event"]]
    assert find(faults, logger="stdout", event="a line printed on purpose by GET /stray")
    [died] = [r for r in find(faults, logger="stderr")
              if r["event"] == "RuntimeError: a greenthread died on purpose"]
    assert died["exception"].startswith("Traceback (most recent call last):")
    assert "_greenthread_dies" in died["exception"]

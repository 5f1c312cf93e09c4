"""The chaos run's parts: consignments driven through the four real services as the demo's
parties drive them (all lanes, controls, payments, an agency hold), while faults are
injected in turn, and the figures checked at the end.

* `patient_call`: the parties' HTTP client with a real client's retry policy: a refused
  connection or a 502/503/504 is sent again (the same request: lodgements are idempotent on
  their LRN, payments on their reference) until the service answers; a 409 to a repeat whose
  first attempt may have taken effect counts as that effect (201: made by the first attempt;
  e.g. an account opened just before PostgreSQL restarted). A 500 is never retried: it is a
  failure of the run.
* `Faults`: SIGKILL of a service's whole process group, then `make start`'s runner (which
  starts what is missing and leaves the healthy services alone); a broker restart
  (`rabbitmqctl stop_app` / `start_app`: every connection dropped, every queue recovered from
  disk); a PostgreSQL restart (`pg_ctlcluster ... restart`, fast mode: every session ended).
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from cli import demo
from cli.http import Reply, ServiceUnreachable
from cli.http import call as plain_call
from services.topology import RELEASES_EXCHANGE, SUBSCRIPTIONS
from shared.eventstore import EventStore
from shared.messaging.parking import parked_count
from shared.messaging.publisher import close_quietly, connect
from shared.testing import rabbit
from shared.testing.databases import owner_url
from tests.e2e.conftest import ROOT, Cluster

RETRIED_STATUSES = {502, 503, 504}
PATIENCE = 240.0  # seconds a request is repeated before the run calls it lost
LISTENER = "chaos.listener"  # a partner agency's durable queue on every release


@dataclass
class Client:
    """`patient_call` and what it had to do."""

    repeats: int = 0
    lock: threading.Lock = field(default_factory=threading.Lock)

    def call(self, service: str, method: str, path: str, body: Any = None,
             **kwargs: Any) -> Reply:
        deadline = time.monotonic() + PATIENCE
        attempt = 0
        while True:
            attempt += 1
            try:
                reply = plain_call(service, method, path, body, **kwargs)
            except ServiceUnreachable:
                reply = None
            if reply is not None and reply.status not in RETRIED_STATUSES:
                if attempt > 1 and method == "POST" and reply.status == 409:
                    # The first attempt took effect before the connection went: it made
                    # what the repeat finds there.
                    return Reply(201, reply.body)
                return reply
            if time.monotonic() > deadline:
                raise ServiceUnreachable(f"{service} {method} {path}: no answer in {PATIENCE}s")
            with self.lock:
                self.repeats += 1
            time.sleep(0.5)


def copies(entries: list[demo.Entry], batch: int) -> list[demo.Entry]:
    """The valid samples again, each with an LRN of its own for batch `batch` (short enough
    for the run id the demo appends: an LRN has at most 22 characters)."""
    made = []
    for index, entry in enumerate(entries):
        if entry.document is None:
            continue  # the invalid samples are refused at the door: not consignments
        document = json.loads(json.dumps(entry.document))
        document["lrn"] = f"CHAOS-{batch}-{index}"
        made.append(demo.Entry(entry.name, entry.plan, document=document))
    return made


@dataclass
class Fault:
    name: str
    seconds: float  # from the fault to the stack's recovery


class Faults:
    """Faults injected into one running cluster (the module docstring)."""

    def __init__(self, cluster: Cluster) -> None:
        self.cluster = cluster
        self.done: list[Fault] = []

    def kill(self, service: str) -> None:
        started = time.monotonic()
        pgid = int((self.cluster.var / "run" / f"{service}.pid").read_text())
        os.killpg(pgid, signal.SIGKILL)
        while _group_alive(pgid):
            time.sleep(0.05)
        ran = self.cluster.run(sys.executable, "-m", "services.runner", "start", timeout=180)
        assert ran.returncode == 0, ran.stdout + ran.stderr + self.cluster.logs()
        self.done.append(Fault(f"SIGKILL {service}", time.monotonic() - started))

    def restart_broker(self) -> None:
        started = time.monotonic()
        try:
            _run("rabbitmqctl", "stop_app")
            time.sleep(2)
        finally:
            _run("rabbitmqctl", "start_app")
        _wait_for(lambda: _broker_up(self.cluster.amqp_uri), 120, "the broker back")
        self.done.append(Fault("broker restart", time.monotonic() - started))

    def restart_postgres(self) -> None:
        started = time.monotonic()
        version = sorted(os.listdir("/etc/postgresql"))[-1]
        _run("pg_ctlcluster", "--skip-systemctl-redirect", version, "main", "restart",
             "--mode", "fast")
        _wait_for(lambda: subprocess.run(["pg_isready", "-h", "127.0.0.1", "-q"]).returncode
                  == 0, 60, "PostgreSQL back")
        self.done.append(Fault("PostgreSQL restart", time.monotonic() - started))

    def round(self, pause: Callable[[], None]) -> None:
        """Each fault once, in turn, with `pause()` between."""
        for service in ("declaration", "risk", "payment", "release"):
            self.kill(service)
            pause()
        self.restart_broker()
        pause()
        self.restart_postgres()
        pause()


def _group_alive(pgid: int) -> bool:
    try:
        os.killpg(pgid, 0)
    except ProcessLookupError:
        return False
    # Zombies (nobody reaped them yet) count as gone.
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
            except (FileNotFoundError, ProcessLookupError):
                continue
            if fields[2] == str(pgid) and fields[0] not in ("Z", "X"):
                return True
    return False


def _run(*command: str) -> None:
    done = subprocess.run(list(command), capture_output=True, text=True, timeout=120,
                          stdin=subprocess.DEVNULL)
    assert done.returncode == 0, f"{' '.join(command)}: {done.stdout}{done.stderr}"


def _broker_up(uri: str) -> bool:
    try:
        close_quietly(connect(uri))
        return True
    except Exception:  # noqa: BLE001 - not yet
        return False


def _wait_for(condition: Callable[[], bool], timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.5)


@contextmanager
def services_back_whatever_happens() -> Iterator[None]:
    """The broker and PostgreSQL running again when the run ends, even on a failure, so
    that the tests after it find them."""
    try:
        yield
    finally:
        subprocess.run(["rabbitmqctl", "start_app"], capture_output=True, timeout=120)
        version = sorted(os.listdir("/etc/postgresql"))[-1]
        subprocess.run(["pg_ctlcluster", "--skip-systemctl-redirect", version, "main",
                        "start"], capture_output=True, timeout=120)


def declare_listener(uri: str) -> None:
    """A partner agency's durable queue hearing every release (declared before the run, so
    nothing is missed)."""
    connection = connect(uri)
    try:
        channel = connection.channel()
        channel.exchange_declare(RELEASES_EXCHANGE, "topic", durable=True, auto_delete=False)
        channel.queue_declare(LISTENER, durable=True, auto_delete=False,
                              arguments={"x-queue-type": "quorum"})
        channel.queue_bind(LISTENER, RELEASES_EXCHANGE, "#")
    finally:
        close_quietly(connection)


@dataclass
class Figures:
    consignments: int
    faults: list[Fault]
    not_as_planned: list[str]  # journeys that did not end as their plan says
    releases_in_log: Counter[str]  # GoodsReleased per MRN
    payments_in_log: Counter[str]  # PaymentReceived per reference
    heard: Counter[str]  # release notifications heard per notification id
    heard_mrns: set[str]
    parked: dict[str, int]
    client_repeats: int
    seconds: float

    @property
    def duplicated(self) -> int:
        return (sum(n - 1 for n in self.releases_in_log.values() if n > 1)
                + sum(n - 1 for n in self.payments_in_log.values() if n > 1))

    def lines(self) -> list[str]:
        redelivered = sum(n - 1 for n in self.heard.values())
        return [
            f"consignments      {self.consignments} in {self.seconds:.0f} s",
            f"faults injected   {len(self.faults)}: " + ", ".join(
                f"{f.name} ({f.seconds:.1f} s)" for f in self.faults),
            f"lost              {len(self.not_as_planned)} (not in their planned final state)",
            f"duplicated        {self.duplicated} (releases or payments recorded twice)",
            f"parked            {sum(self.parked.values())}",
            f"releases          {len(self.releases_in_log)} in the log, "
            f"{len(self.heard)} heard by the agency ({redelivered} redeliveries dropped on "
            "notification_id)",
            f"client repeats    {self.client_repeats} (connection refused or 503, sent again)",
            *(f"  not as planned: {line}" for line in self.not_as_planned[:20]),
        ]


def figures(cluster: Cluster, journeys: list[demo.Journey], faults: list[Fault],
            repeats: int, seconds: float) -> Figures:
    store = EventStore.open_existing(cluster.store_url)
    releases: Counter[str] = Counter()
    payments: Counter[str] = Counter()
    try:
        for page in store.iter_all(categories=["release", "payment"]):
            for event in page:
                if event.type == "GoodsReleased":
                    releases[event.data["mrn"]] += 1
                elif event.type == "PaymentReceived":
                    payments[event.data["reference"]] += 1
    finally:
        store.close()
    heard: Counter[str] = Counter()
    mrns: set[str] = set()
    for message in rabbit.drain(cluster.amqp_uri, LISTENER):
        raw = message.body
        body = json.loads(raw if isinstance(raw, str) else raw.decode())
        heard[body["notification_id"]] += 1
        mrns.add(body["mrn"])
    return Figures(
        consignments=len(journeys), faults=faults,
        not_as_planned=[f"{j.file} {j.mrn}: {j.problem or j.final} (statuses "
                        f"{' > '.join(j.statuses)}; {' | '.join(j.steps[-3:])})"
                        for j in journeys if not j.ok],
        releases_in_log=releases, payments_in_log=payments, heard=heard, heard_mrns=mrns,
        parked={q: parked_count(cluster.amqp_uri, q) for q in SUBSCRIPTIONS},
        client_repeats=repeats, seconds=seconds)


def settled_figures(cluster: Cluster, journeys: list[demo.Journey], faults: list[Fault],
                    repeats: int, started: float, wait: float = 120) -> Figures:
    """The figures once the last release notifications reached the agency's queue (the
    relay publishes after the log), or after `wait` seconds."""
    released = {j.mrn for j in journeys if j.final == "cleared"}
    deadline = time.monotonic() + wait
    while rabbit.message_count(cluster.amqp_uri, LISTENER) < len(released) \
            and time.monotonic() < deadline:
        time.sleep(0.3)
    return figures(cluster, journeys, faults, repeats, time.monotonic() - started)


def assert_cleared_exactly_once(cluster: Cluster, result: Figures,
                                journeys: list[demo.Journey]) -> None:
    """Every consignment as planned, each release and payment once in the log, every release
    heard once by the agency, nothing parked; `verify` and `rebuild --check` clean."""
    released = {j.mrn for j in journeys if j.final == "cleared"}
    assert released
    assert not result.not_as_planned, result.not_as_planned[:20]
    assert set(result.releases_in_log) >= released
    assert all(n == 1 for n in result.releases_in_log.values()), result.releases_in_log
    assert result.payments_in_log and all(n == 1 for n in result.payments_in_log.values())
    assert result.heard_mrns == set(result.releases_in_log), "a release no agency heard of"
    assert len(result.heard) == len(result.releases_in_log)  # one id per release
    assert sum(result.parked.values()) == 0, result.parked
    env = {**cluster.env, "EVENT_STORE_URL": owner_url(cluster.store_url)}
    for command in (["verify"], ["rebuild", "--check"]):
        ran = cluster.run(sys.executable, "-m", "cli.main", *command, env=env)
        assert ran.returncode == 0, (command, ran.stdout[-3000:], ran.stderr[-3000:])


ENTRIES = demo.load_plan(ROOT / "samples")
RESULTS: list[Figures] = []  # the runs' figures, printed at the end of the session (conftest)

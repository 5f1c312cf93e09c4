"""P1: the four services as processes on PostgreSQL and RabbitMQ, green consignments auto-paid.

The services start as `make start` starts them (`python -m services.runner start`) with a fresh
PostgreSQL database, a private vhost, free ports and CLEARANCE_VAR in a temp folder. The load
generator lodges green declarations (office GBDEM001, unique LRNs) over HTTP at a fixed rate
(open loop: a scheduler hands each lodgement, at its due time, to a pool of HTTP client
threads), acts as the broker's payment system (a queue of its own bound to `clearance.events`
with `payment.DutyAssessed`: each amount due is paid at once with POST /payments) and hears
the release notifications on a queue bound to `clearance.releases`. Latency: from the
lodgement's scheduled time to the release notification's arrival.

The rate steps up (full: 25, 50, 75, 100, 150, 200, 300/s, 15 s each; it stops after the first
step whose p99 exceeds 2 s). One ramp feeds the three ids: P1-throughput (the highest step
whose p99 stays under 2 s with every declaration released and the offered rate achieved),
P1-p99-at-50 (p99 at 50/s, ms) and P1-rss (peak VmHWM of each service, MB).

Peer of P1-throughput: the same application code in one process with no broker and no HTTP
(lodge -> risk assess -> duty assess -> pay -> release hear, on a SQLite file store),
declarations per second, sequential.
"""

from __future__ import annotations

import copy
import http.client
import json
import os
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from contextlib import ExitStack
from pathlib import Path
from typing import Any

import amqp

from audit.trs import percentile
from bench.harness import Size, Workload
from shared.identity.development import mint
from shared.messaging.publisher import close_quietly, connect
from shared.testing import databases
from shared.testing.processes import draw_key_environment, free_port
from shared.testing.rabbit import private_vhost

ROOT = Path(__file__).resolve().parents[2]
SERVICES = ("declaration", "risk", "payment", "release")
SAMPLE = json.loads((ROOT / "samples" / "01-green-paid.json").read_text())
LIMIT_S = 2.0


def quantile(values: list[float], q: float) -> float:
    """The q-quantile (0.5, 0.99: integer percentiles) by the TRS report's one method;
    infinite for no values (a step where nothing was released)."""
    if not values:
        return float("inf")
    return percentile(sorted(values), round(q * 100))


class Http:
    """One keep-alive HTTP connection per thread."""

    def __init__(self) -> None:
        self.local = threading.local()

    def post(self, address: str, path: str, body: dict[str, Any],
             token: str) -> tuple[int, Any]:
        connections = self.local.__dict__.setdefault("connections", {})
        data = json.dumps(body).encode()
        for attempt in range(2):
            connection = connections.get(address)
            if connection is None:
                host, port = address.rsplit(":", 1)
                connection = connections[address] = http.client.HTTPConnection(
                    host, int(port), timeout=30)
            try:
                connection.request("POST", path, data,
                                   {"Content-Type": "application/json",
                                    "Authorization": f"Bearer {token}"})
                response = connection.getresponse()
                payload = response.read()
                if response.getheader("connection", "").lower() == "close":
                    connection.close()
                    connections.pop(address, None)
                return response.status, json.loads(payload or b"null")
            except (OSError, http.client.HTTPException):
                connection.close()
                connections.pop(address, None)
                if attempt:
                    raise
        raise AssertionError("unreachable")


class Cluster:
    def __init__(self, size: Size) -> None:
        self.size = size
        self.stack = ExitStack()

    def start(self) -> None:
        self.amqp_uri = self.stack.enter_context(private_vhost("clearance_bench"))
        self.store_url = self.stack.enter_context(databases.postgres_database("clearance_bench"))
        self.var = Path(self.stack.enter_context(tempfile.TemporaryDirectory())) / "var"
        env = {**os.environ, "EVENT_STORE_URL": self.store_url, "AMQP_URI": self.amqp_uri,
               "CLEARANCE_VAR": str(self.var), "LOG_LEVEL": "WARNING"}
        for service in SERVICES:
            env[f"{service.upper()}_HTTP"] = f"127.0.0.1:{free_port()}"
        self.env = env
        self.http = {s: env[f"{s.upper()}_HTTP"] for s in SERVICES}
        self.stack.callback(self._stop)
        started = subprocess.run([sys.executable, "-m", "services.runner", "start"], cwd=ROOT,
                                 env=env, capture_output=True, text=True, timeout=180)
        if started.returncode:
            raise RuntimeError("services did not start:\n" + started.stdout + started.stderr)
        self.pids = {s: int((self.var / "run" / f"{s}.pid").read_text()) for s in SERVICES}

    def _stop(self) -> None:
        subprocess.run([sys.executable, "-m", "services.runner", "stop"], cwd=ROOT,
                       env=self.env, capture_output=True, text=True, timeout=120)

    def close(self) -> None:
        self.stack.close()

    def rss_mb(self) -> dict[str, float]:
        found: dict[str, float] = {}
        for service, pid in self.pids.items():
            try:
                for line in Path(f"/proc/{pid}/status").read_text().splitlines():
                    if line.startswith("VmHWM:"):
                        found[service] = round(int(line.split()[1]) / 1024, 1)
            except OSError:
                pass
        return found


def _ticks(pid: int | str) -> int:
    """utime + stime of a process (all its threads), in clock ticks; 0 if it is gone."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except (OSError, IndexError):
        return 0
    return int(fields[11]) + int(fields[12])  # fields 14 and 15 of proc(5)


def _comm(pid: str) -> str:
    try:
        return Path(f"/proc/{pid}/comm").read_text().strip()
    except OSError:
        return ""


class CpuMeter:
    """CPU time, from /proc, of each service process, of PostgreSQL (every `postgres` process:
    the backends and the server's own workers), of RabbitMQ (the Erlang VM and its helpers)
    and of the load generator itself, between two readings."""

    TICK = os.sysconf("SC_CLK_TCK")
    BROKER = ("beam.smp", "erl_child_setup", "epmd", "inet_gethost")

    def __init__(self, pids: dict[str, int]) -> None:
        self.pids = pids

    def read(self) -> dict[str, float]:
        """CPU seconds used so far by each part."""
        found = {service: _ticks(pid) / self.TICK for service, pid in self.pids.items()}
        postgres = broker = 0
        for entry in Path("/proc").iterdir():
            if not entry.name.isdigit():
                continue
            comm = _comm(entry.name)
            if comm == "postgres":
                postgres += _ticks(entry.name)
            elif comm in self.BROKER:
                broker += _ticks(entry.name)
        found["postgresql"] = postgres / self.TICK
        found["rabbitmq"] = broker / self.TICK
        found["load generator"] = time.process_time()
        return found

    @staticmethod
    def per_declaration(before: dict[str, float], after: dict[str, float],
                        declarations: int) -> dict[str, float]:
        """CPU milliseconds per declaration of each part and `in all` (the load generator
        included: it is the brokers' and the cashiers' clients and the agency)."""
        used = {part: (after[part] - before[part]) * 1000 / max(declarations, 1)
                for part in before}
        used["in all"] = sum(used.values())
        return {part: round(ms, 2) for part, ms in used.items()}


class LoadGenerator:
    """Lodges at a fixed rate, pays each DutyAssessed, records each release's latency."""

    def __init__(self, cluster: Cluster, threads: int = 48) -> None:
        self.cluster = cluster
        self.http = Http()
        self.pool = ThreadPoolExecutor(threads, thread_name_prefix="client")
        self.lodged: dict[str, float] = {}  # consignment id -> scheduled lodgement time
        self.released: dict[str, float] = {}
        self.errors: list[str] = []
        self.stopping = threading.Event()
        self.run_id = uuid.uuid4().hex[:6]
        self.counter = 0
        self.cpu = CpuMeter(cluster.pids)
        # The broker's and the cashier's tokens, signed by the cluster's development key (each
        # verified by the services on every request, as in production).
        self.broker = mint(cluster.var, roles=["declarant"], sub="bench-broker",
                           eori=str(SAMPLE["declarant"]["eori"]))
        self.cashier = mint(cluster.var, roles=["cashier"], sub="bench-cashier")
        connection = connect(cluster.amqp_uri)
        channel = connection.channel()
        channel.exchange_declare("clearance.events", "topic", durable=True, auto_delete=False)
        channel.exchange_declare("clearance.releases", "topic", durable=True, auto_delete=False)
        channel.queue_declare("bench.duty", durable=False, exclusive=False, auto_delete=False)
        channel.queue_bind("bench.duty", "clearance.events", "payment.DutyAssessed")
        channel.queue_declare("bench.releases", durable=False, exclusive=False,
                              auto_delete=False)
        channel.queue_bind("bench.releases", "clearance.releases", "#")
        close_quietly(connection)
        self.listener = threading.Thread(target=self._listen, daemon=True)
        self.listener.start()

    def _listen(self) -> None:
        connection = connect(self.cluster.amqp_uri)
        channel = connection.channel()
        channel.basic_qos(0, 1000, False)
        channel.basic_consume("bench.duty", callback=self._on_duty, no_ack=True)
        channel.basic_consume("bench.releases", callback=self._on_release, no_ack=True)
        while not self.stopping.is_set():
            try:
                connection.drain_events(timeout=0.2)
            except TimeoutError:
                continue
        close_quietly(connection)

    def _on_duty(self, message: amqp.Message) -> None:
        data = json.loads(message.body)["data"]
        self.pool.submit(self._pay, data["mrn"], data["amount_due"], data["currency"])

    def _on_release(self, message: amqp.Message) -> None:
        body = json.loads(message.body)
        self.released.setdefault(body["consignment_id"], time.monotonic())

    def _pay(self, mrn: str, amount: str, currency: str) -> None:
        try:
            status, body = self.http.post(self.cluster.http["payment"], "/payments", {
                "mrn": mrn, "reference": f"PAY-{mrn}", "amount": amount, "currency": currency},
                self.cashier)
            if status not in (200, 201):
                self.errors.append(f"pay {status} {body}")
        except Exception as exc:  # noqa: BLE001
            self.errors.append(f"pay {type(exc).__name__}: {exc}")

    def _lodge(self, document: dict[str, Any]) -> None:
        try:
            status, body = self.http.post(self.cluster.http["declaration"], "/declarations",
                                          document, self.broker)
            if status not in (200, 201):
                self.errors.append(f"lodge {status} {body}")
        except Exception as exc:  # noqa: BLE001
            self.errors.append(f"lodge {type(exc).__name__}: {exc}")

    def step(self, rate: float, seconds: float, drain: float) -> dict[str, Any]:
        from services.declaration.application import consignment_id_for

        count = max(1, int(rate * seconds))
        ids: list[str] = []
        cpu0 = time.process_time()
        cpu_before = self.cpu.read()
        started = time.monotonic()
        late = 0.0
        for i in range(count):
            due = started + i / rate
            pause = due - time.monotonic()
            if pause > 0:
                time.sleep(pause)
            else:
                late = max(late, -pause)
            self.counter += 1
            document = copy.deepcopy(SAMPLE)
            document["lrn"] = f"B{self.run_id}{self.counter:09d}"
            cid = consignment_id_for(document["declarant"]["eori"], document["lrn"])
            self.lodged[cid] = due
            ids.append(cid)
            self.pool.submit(self._lodge, document)
        offered_for = time.monotonic() - started
        deadline = time.monotonic() + drain
        while time.monotonic() < deadline and any(c not in self.released for c in ids):
            time.sleep(0.05)
        cpu = time.process_time() - cpu0
        cpu_ms = self.cpu.per_declaration(cpu_before, self.cpu.read(), len(ids))
        wall = time.monotonic() - started
        latencies = [self.released[c] - self.lodged[c] if c in self.released else float("inf")
                     for c in ids]
        done = [x for x in latencies if x != float("inf")]
        p99 = quantile(latencies, 0.99)
        return {"rate": rate, "declarations": count, "released": len(done),
                "p50_ms": round(quantile(done, 0.5) * 1000, 1) if done else None,
                "p99_ms": round(p99 * 1000, 1) if p99 != float("inf") else None,
                "max_ms": round(max(done) * 1000, 1) if done else None,
                "offered_rate": round(count / offered_for, 1) if offered_for else rate,
                "client_late_s": round(late, 3), "client_cpu": round(cpu / wall, 2),
                "errors": len(self.errors), "cpu_ms": cpu_ms}

    def close(self) -> None:
        self.stopping.set()
        self.listener.join(5)
        self.pool.shutdown(wait=True, cancel_futures=True)


def sustained(step: dict[str, Any]) -> bool:
    return (step["p99_ms"] is not None and step["p99_ms"] < LIMIT_S * 1000
            and step["released"] == step["declarations"] and step["errors"] == 0
            and step["offered_rate"] >= 0.95 * step["rate"])


class PipelineBench:
    def __init__(self, size: Size) -> None:
        self.size = size
        if size == "full":
            self.rates = [25.0, 50.0, 75.0, 100.0, 150.0, 200.0, 300.0]
            self.seconds, self.drain = 15.0, 6.0
        else:
            self.rates = [5.0, 50.0]
            self.seconds, self.drain = 1.0, 10.0
        self.result: dict[str, Any] | None = None
        self.peer_result: float | None = None

    def ramp(self) -> dict[str, Any]:
        if self.result is not None:
            return self.result
        cluster = Cluster(self.size)
        steps: list[dict[str, Any]] = []
        try:
            cluster.start()
            load = LoadGenerator(cluster)
            try:
                # warm-up: a few consignments through every path
                load.step(5.0, 1.0, 15.0)
                for rate in self.rates:
                    steps.append(load.step(rate, self.seconds, self.drain))
                    print(f"    P1 step {steps[-1]}", flush=True)
                    if steps[-1]["p99_ms"] is None or steps[-1]["p99_ms"] > LIMIT_S * 1000:
                        break
                errors = load.errors[:5]
            finally:
                load.close()
            rss = cluster.rss_mb()
        finally:
            cluster.close()
        ok = [s["rate"] for s in steps if sustained(s)]
        at_50 = next((s for s in steps if s["rate"] == 50.0), None)
        self.result = {"steps": steps, "rss": rss, "errors": errors,
                       "throughput": max(ok) if ok else 0.0,
                       "p99_at_50": (at_50["p99_ms"] if at_50 and at_50["p99_ms"] is not None
                                     else float("inf")) if at_50 else float("inf")}
        return self.result

    def throughput(self) -> float:
        result = self.ramp()
        self.notes_throughput.update(steps=result["steps"], errors=result["errors"])
        return float(result["throughput"])

    def ratio_throughput(self) -> float:
        """P1-ratio: the same ramp's throughput, judged against the in-process peer."""
        result = self.ramp()
        self.notes_ratio.update(peer_runs_each="the in-process pipeline, sequential")
        return float(result["throughput"])

    def cpu_per_declaration(self) -> float:
        """P1-cpu: CPU ms per declaration, all processes together, at the highest sustained
        step (the lowest step when none was); the notes give each part, at every step."""
        result = self.ramp()
        steps = result["steps"]
        ok = [s for s in steps if sustained(s)]
        chosen = ok[-1] if ok else (steps[0] if steps else None)
        self.notes_cpu.update(
            step=chosen["rate"] if chosen else None,
            per_part=chosen["cpu_ms"] if chosen else {},
            by_step={str(s["rate"]): s["cpu_ms"] for s in steps})
        return float(chosen["cpu_ms"]["in all"]) if chosen else float("inf")

    def p99_at_50(self) -> float:
        result = self.ramp()
        self.notes_p99.update(step=next((s for s in result["steps"] if s["rate"] == 50.0), None))
        return float(result["p99_at_50"])

    def rss(self) -> float:
        result = self.ramp()
        self.notes_rss.update(result["rss"])
        return float(max(result["rss"].values())) if result["rss"] else 0.0

    # -- the peer: the same application code in one process, no broker, no HTTP ------------
    def peer(self) -> float:
        """The peer's figure, measured once per ramp (P1-throughput and P1-ratio share it)."""
        if self.peer_result is None:
            self.peer_result = self._peer()
        return self.peer_result

    def _peer(self) -> float:
        from services.declaration.application import Declarations
        from services.payment.application import Payments
        from services.release.application import Releases
        from services.risk.application import Risk, RiskReference
        from shared.events.catalog import registry
        from shared.events.envelope import stream_name
        from shared.eventstore import EventStore
        from shared.identity import Caller
        from shared.messaging.writes import perform
        from shared.reference import load_reference_data

        count = 150 if self.size == "full" else 10
        with tempfile.TemporaryDirectory() as folder:
            store = EventStore(databases.sqlite_url(Path(folder)), registry())
            reference = load_reference_data(None)
            declarations = Declarations(store, reference)
            risk = Risk(store, RiskReference.load(draw_key_environment(), reference.rates))
            payments = Payments(store, reference)
            releases = Releases(store)
            run_id = uuid.uuid4().hex[:6]
            broker = Caller("bench-broker", frozenset({"declarant"}),
                            eori=str(SAMPLE["declarant"]["eori"]))
            cashier = Caller("bench-cashier", frozenset({"cashier"}))
            started = time.perf_counter()
            for number in range(count):
                document = copy.deepcopy(SAMPLE)
                document["lrn"] = f"P{run_id}{number:09d}"
                lodged = declarations.lodge(document, broker)
                cid = lodged.consignment_id
                received, accepted = store.read_stream(stream_name("declaration", cid))
                payload = registry().decode(accepted)
                with store.transaction() as tx:
                    releases.hear(tx, accepted)
                with store.transaction() as tx:
                    perform(tx, risk.assessment(payload, accepted))
                with store.transaction() as tx:
                    perform(tx, payments.assessment(payload, accepted))
                for event in (store.read_stream(stream_name("risk", cid))
                              + store.read_stream(stream_name("payment", cid))):
                    with store.transaction() as tx:
                        releases.hear(tx, event)
                duty = store.read_stream(stream_name("payment", cid))[-1].payload
                payments.pay(lodged.mrn, f"PAY-{lodged.mrn}", duty.amount_due, duty.currency,
                             cashier)
                paid = store.read_stream(stream_name("payment", cid))[-1]
                with store.transaction() as tx:
                    outcome = releases.hear(tx, paid)
                if outcome != "cleared":
                    raise RuntimeError(f"peer: consignment {cid} ended {outcome}")
            elapsed = time.perf_counter() - started
            store.close()
        return count / elapsed


def workloads(size: Size) -> list[Workload]:
    bench = PipelineBench(size)
    bench.notes_throughput = {"rates": bench.rates, "step_seconds": bench.seconds,
                              "limit": "p99 lodgement-to-release < 2 s, all released"}
    bench.notes_ratio = {}
    bench.notes_p99 = {}
    bench.notes_cpu = {}
    bench.notes_rss = {}
    peer_name = "same application code, one process, no broker (SQLite)"
    return [
        Workload(
            id="P1-throughput", unit="declarations/s", goal=">= 200 declarations/s released",
            ours=bench.throughput, peer=bench.peer, peer_name=peer_name,
            check=lambda ours, peer, ratio: ours >= 200, runs=1, warmup=False,
            notes=bench.notes_throughput),
        Workload(
            id="P1-ratio", unit="declarations/s", goal="ratio >= 1.0",
            ours=bench.ratio_throughput, peer=bench.peer, peer_name=peer_name,
            check=lambda ours, peer, ratio: ratio is not None and ratio >= 1.0, runs=1,
            warmup=False, notes=bench.notes_ratio),
        Workload(
            id="P1-p99-at-50", unit="ms", goal="<= 500 ms", ours=bench.p99_at_50,
            check=lambda ours, peer, ratio: ours <= 500, lower_is_better=True, runs=1,
            warmup=False, notes=bench.notes_p99),
        Workload(
            id="P1-cpu", unit="CPU ms/declaration", goal="reported (all processes)",
            ours=bench.cpu_per_declaration, check=lambda ours, peer, ratio: True,
            lower_is_better=True, runs=1, warmup=False, notes=bench.notes_cpu),
        Workload(
            id="P1-rss", unit="MB", goal="reported", ours=bench.rss,
            check=lambda ours, peer, ratio: True, runs=1, warmup=False,
            notes=bench.notes_rss),
    ]

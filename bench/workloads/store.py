"""Event store workloads S1-S6, side by side with the `eventsourcing` library (9.5.6).

Both sides get the same payload bytes (~300 bytes of JSON per event) and the same durability:
PostgreSQL with `synchronous_commit=on` (checked), SQLite in WAL mode with `synchronous=FULL`
(eventsourcing's SQLite pool sets only `journal_mode=WAL`; each of its connections gets
`PRAGMA synchronous=FULL` executed on it here, so neither side relies on a build default).
The peer runs its recorders in their default (ordering-safe) mode: the PostgreSQL application
recorder takes its table lock per insert; events are `StoredEvent`s of the same byte size.

Every measured run gets a fresh database (PostgreSQL: a new database, dropped after; SQLite:
a new file) so the sides never share state or caches beyond the server's.
"""

from __future__ import annotations

import copy
import json
import os
import statistics
import tempfile
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import psycopg2

from bench.harness import Size, Workload
from services.declaration.domain.identifiers import format_mrn
from shared.events import NewEvent
from shared.events.catalog import registry as catalog
from shared.eventstore import EventStore
from shared.testing import databases

PG_ADMIN = os.environ.get("BENCH_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/postgres")
PEER = "eventsourcing 9.5.6"
PAYLOAD: dict[str, Any] = {"mrn": "26GB0000000000000X", "amount": "1234.56",
                           "currency": "GBP", "note": "x" * 220}
PAYLOAD_TEXT = json.dumps(PAYLOAD, sort_keys=True, separators=(",", ":"))
PAYLOAD_BYTES = PAYLOAD_TEXT.encode()
STREAMS = 100


# -- databases ----------------------------------------------------------------------------
def _pg_parts() -> tuple[str, str, str, str]:
    from sqlalchemy.engine import make_url

    url = make_url(PG_ADMIN)
    return (url.host or "127.0.0.1", str(url.port or 5432), url.username or "postgres",
            url.password or "")


@contextmanager
def pg_database() -> Iterator[tuple[str, str]]:
    """A fresh PostgreSQL database: (SQLAlchemy url, name); dropped afterwards."""
    with databases.postgres_database("clearance_bench", role="owner") as url:
        yield url, url.rsplit("/", 1)[1]


@contextmanager
def sqlite_file() -> Iterator[str]:
    with tempfile.TemporaryDirectory() as folder:
        yield str(Path(folder) / "bench.db")


# -- our side ------------------------------------------------------------------------------
def our_event(i: int) -> NewEvent:
    return NewEvent("BenchEvent", 1, PAYLOAD, correlation_id=f"C{i % STREAMS}", actor="bench")


def ours_append(url: str, count: int, per_tx: int) -> float:
    """Events/s appending `count` events, `per_tx` per transaction, over 100 streams."""
    store = EventStore(url, None)
    try:
        versions = [0] * STREAMS
        started = time.perf_counter()
        for i in range(count // per_tx):
            s = i % STREAMS
            store.append(f"bench-{s}", [our_event(i) for _ in range(per_tx)], versions[s])
            versions[s] += per_tx
        return (count // per_tx * per_tx) / (time.perf_counter() - started)
    finally:
        store.close()


# -- the peer --------------------------------------------------------------------------------
def _stored(originator: uuid.UUID, version: int) -> Any:
    from eventsourcing.persistence import StoredEvent

    return StoredEvent(originator_id=originator, originator_version=version,
                       topic="bench.workloads.store:PeerEvent", state=PAYLOAD_BYTES)


class PeerEvent:
    """The peer's domain event class (what its mapper decodes into)."""

    originator_id: uuid.UUID
    originator_version: int


def peer_pg(dbname: str) -> tuple[Any, Any]:
    from eventsourcing.postgres import PostgresApplicationRecorder, PostgresDatastore

    host, port, user, password = _pg_parts()
    datastore = PostgresDatastore(dbname, host, port, user, password, pool_size=4,
                                  max_overflow=4)
    recorder = PostgresApplicationRecorder(datastore)
    recorder.create_table()
    return datastore, recorder


def peer_sqlite(path: str) -> tuple[Any, Any]:
    from eventsourcing.sqlite import SQLiteApplicationRecorder, SQLiteDatastore

    datastore = SQLiteDatastore(path)
    pool = datastore.pool
    create = pool._create_connection

    def create_full() -> Any:  # same durability as ours: WAL + synchronous=FULL
        connection = create()
        connection._sqlite_conn.execute("PRAGMA synchronous=FULL")
        return connection

    pool._create_connection = create_full  # type: ignore[method-assign]
    recorder = SQLiteApplicationRecorder(datastore)
    recorder.create_table()
    return datastore, recorder


def peer_append(recorder: Any, count: int, per_tx: int) -> float:
    originators = [uuid.uuid4() for _ in range(STREAMS)]
    versions = [0] * STREAMS
    started = time.perf_counter()
    for i in range(count // per_tx):
        s = i % STREAMS
        recorder.insert_events([_stored(originators[s], versions[s] + k + 1)
                                for k in range(per_tx)])
        versions[s] += per_tx
    return (count // per_tx * per_tx) / (time.perf_counter() - started)


def peer_close(datastore: Any) -> None:
    datastore.close()


# -- S1 / S2: appends ----------------------------------------------------------------------------
def append_workload(backend: str, count: int, per_tx: int) -> tuple[Callable[[], float],
                                                                      Callable[[], float]]:
    def ours() -> float:
        if backend == "postgresql":
            with pg_database() as (url, _):
                return ours_append(url, count, per_tx)
        with sqlite_file() as path:
            return ours_append(f"sqlite:///{path}", count, per_tx)

    def peer() -> float:
        if backend == "postgresql":
            with pg_database() as (_, name):
                datastore, recorder = peer_pg(name)
                try:
                    return peer_append(recorder, count, per_tx)
                finally:
                    peer_close(datastore)
        with sqlite_file() as path:
            datastore, recorder = peer_sqlite(path)
            try:
                return peer_append(recorder, count, per_tx)
            finally:
                peer_close(datastore)

    return ours, peer


def raw_insert_rate(backend: str, count: int) -> float:
    """INSERT + COMMIT of one ~300-byte row per transaction through the same driver."""
    if backend == "postgresql":
        with pg_database() as (_, name):
            host, port, user, password = _pg_parts()
            connection = psycopg2.connect(host=host, port=port, user=user, password=password,
                                          dbname=name)
            cursor = connection.cursor()
            cursor.execute("CREATE TABLE raw (id bigint PRIMARY KEY, data text NOT NULL)")
            connection.commit()
            started = time.perf_counter()
            for i in range(count):
                cursor.execute("INSERT INTO raw VALUES (%s, %s)", (i, PAYLOAD_TEXT))
                connection.commit()
            rate = count / (time.perf_counter() - started)
            connection.close()
            return rate
    import sqlite3

    with sqlite_file() as path:
        connection = sqlite3.connect(path, isolation_level=None)
        connection.execute("PRAGMA journal_mode=WAL")
        connection.execute("PRAGMA synchronous=FULL")
        connection.execute("CREATE TABLE raw (id INTEGER PRIMARY KEY, data TEXT NOT NULL)")
        started = time.perf_counter()
        for i in range(count):
            connection.execute("BEGIN")
            connection.execute("INSERT INTO raw VALUES (?, ?)", (i, PAYLOAD_TEXT))
            connection.execute("COMMIT")
        rate = count / (time.perf_counter() - started)
        connection.close()
        return rate


def s1(backend: str, size: Size) -> Workload:
    count = 30 if size == "tiny" else 3000
    ours, peer = append_workload(backend, count, 1)
    runs: list[float] = []
    notes: dict[str, Any] = {"events": count, "streams": STREAMS, "payload_bytes":
                             len(PAYLOAD_BYTES)}

    def measured() -> float:
        runs.append(ours())
        return runs[-1]

    def setup() -> None:
        if size == "full":  # warm the server and the code paths, unmeasured
            append_workload(backend, 200, 1)[0]()
            append_workload(backend, 200, 1)[1]()

    def teardown() -> None:
        raw = raw_insert_rate(backend, 30 if size == "tiny" else 1500)
        notes["raw_insert_commit_per_s"] = round(raw)
        if runs:
            notes["ours_over_raw"] = round(statistics.median(runs) / raw, 3)

    goal = 2.0 if backend == "postgresql" else 1.0
    name = "postgres" if backend == "postgresql" else "sqlite"
    return Workload(
        id=f"S1-{name}", unit="events/s", goal=f"ratio >= {goal}", ours=measured, peer=peer,
        peer_name=PEER, check=lambda o, p, r: r is not None and r >= goal,
        runs=1 if size == "tiny" else 3, warmup=False, setup=setup, teardown=teardown,
        notes=notes)


def s2(backend: str, size: Size) -> Workload:
    count = 30 if size == "tiny" else 3000
    ours, peer = append_workload(backend, count, 10)
    name = "postgres" if backend == "postgresql" else "sqlite"
    return Workload(
        id=f"S2-{name}", unit="events/s", goal="ratio >= 1.0", ours=ours, peer=peer,
        peer_name=PEER, check=lambda o, p, r: r is not None and r >= 1.0,
        runs=1 if size == "tiny" else 3, warmup=False,
        notes={"events": count, "events_per_transaction": 10})


# -- S3: read one stream ---------------------------------------------------------------------------
class S3:
    def __init__(self, size: Size) -> None:
        self.stream_events = 60
        self.reads = 5 if size == "tiny" else 50
        self._db: Any = None

    def setup(self) -> None:
        self._db = pg_database()
        url, name = self._db.__enter__()
        self.store = EventStore(url, None)
        for i in range(self.stream_events // 10):
            self.store.append("bench-s3", [our_event(0) for _ in range(10)], i * 10)
        self.datastore, self.recorder = peer_pg(name)
        self.originator = uuid.uuid4()
        for i in range(self.stream_events // 10):
            self.recorder.insert_events([_stored(self.originator, i * 10 + k + 1)
                                         for k in range(10)])

    def ours(self) -> float:
        started = time.perf_counter()
        for _ in range(self.reads):
            assert len(self.store.read_stream("bench-s3")) == self.stream_events
        return self.reads / (time.perf_counter() - started)

    def peer(self) -> float:
        started = time.perf_counter()
        for _ in range(self.reads):
            assert len(self.recorder.select_events(self.originator)) == self.stream_events
        return self.reads / (time.perf_counter() - started)

    def teardown(self) -> None:
        self.store.close()
        peer_close(self.datastore)
        self._db.__exit__(None, None, None)


# -- S4: replay and rebuild the status projection -------------------------------------------------
FLOW = ("DeclarationReceived", "DeclarationAccepted", "RiskAssessed", "ControlOrdered",
        "ControlCompleted", "DutyAssessed", "PaymentReceived", "GoodsReleased")


def _fixtures() -> dict[str, dict[str, Any]]:
    """Each type's golden fixture of its current version."""
    folder = Path(__file__).resolve().parents[2] / "shared" / "events" / "fixtures"
    return {t: json.loads((folder / f"{t}.v{catalog().current_version(t)}.json").read_text())
            ["data"] for t in FLOW}


def consignment_events(n: int, fixtures: dict[str, dict[str, Any]],
                       categories: dict[str, str]) -> list[tuple[str, NewEvent]]:
    """The 8 events of consignment `n`: (stream, event), realistic payloads from the golden
    fixtures with this consignment's id, MRN and payment reference."""
    consignment = str(uuid.UUID(int=n + 1))
    mrn = format_mrn(2026, "GB", n)
    out = []
    for event_type in FLOW:
        data = copy.deepcopy(fixtures[event_type])
        data["consignment_id"] = consignment
        if "mrn" in data:
            data["mrn"] = mrn
        if "reference" in data:
            data["reference"] = f"PAY-{n:09d}"
        category = categories[event_type]
        out.append((f"{category}-{consignment}",
                    NewEvent(event_type, catalog().current_version(event_type), data,
                             correlation_id=consignment, actor="bench")))
    return out


class S4:
    def __init__(self, size: Size) -> None:
        self.consignments = 25 if size == "tiny" else 12_500  # x 8 events: 200 / 100,000
        self.page = 5000
        self.events = self.consignments * len(FLOW)
        self.notes: dict[str, Any] = {"events": self.events, "events_per_consignment":
                                      len(FLOW), "page": self.page}
        self._db: Any = None
        self._times: list[float] = []

    def setup(self) -> None:
        self._db = pg_database()
        url, name = self._db.__enter__()
        self.store = EventStore(url)
        fixtures = _fixtures()
        registry = catalog()
        categories = {t: registry.category(t) for t in FLOW}
        sizes: list[int] = []
        started = time.perf_counter()
        batch = 500
        for first in range(0, self.consignments, batch):
            with self.store.transaction() as tx:
                for n in range(first, min(first + batch, self.consignments)):
                    for stream, event in consignment_events(n, fixtures, categories):
                        tx.append(stream, [event], None)
                        if n < 10:
                            sizes.append(len(json.dumps(event.data)))
        self.notes["fill_seconds_ours"] = round(time.perf_counter() - started, 1)
        self.notes["mean_payload_bytes"] = round(statistics.mean(sizes))
        # The peer's log: the same number of events, the same payload bytes (our stored rows).
        self.datastore, self.recorder = peer_pg(name)
        started = time.perf_counter()
        after = 0
        while True:
            rows = self.store.read_all(after, 2000)
            if not rows:
                break
            from eventsourcing.persistence import StoredEvent

            self.recorder.insert_events([
                StoredEvent(originator_id=uuid.UUID(e.correlation_id),
                            originator_version=e.position, topic=
                            "bench.workloads.store:PeerEvent",
                            state=json.dumps(e.data, sort_keys=True,
                                             separators=(",", ":")).encode())
                for e in rows])
            after = rows[-1].position
        self.notes["fill_seconds_peer"] = round(time.perf_counter() - started, 1)

    def ours(self) -> float:
        from audit.rebuild import rebuild_projection

        started = time.perf_counter()
        applied = rebuild_projection(self.store, "declaration_status", page=self.page)
        seconds = time.perf_counter() - started
        assert applied == self.events, (applied, self.events)
        self._times.append(seconds)
        return self.events / seconds

    def peer(self) -> float:
        from eventsourcing.persistence import JSONTranscoder, Mapper

        mapper: Mapper[Any] = Mapper(JSONTranscoder())
        started = time.perf_counter()
        start, count = 1, 0
        while True:
            notifications = self.recorder.select_notifications(start, self.page)
            if not notifications:
                break
            for notification in notifications:
                mapper.to_domain_event(notification)
            count += len(notifications)
            start = notifications[-1].id + 1
        assert count == self.events, (count, self.events)
        return count / (time.perf_counter() - started)

    def teardown(self) -> None:
        if self._times:
            seconds = statistics.median(self._times)
            self.notes["seconds_ours"] = round(seconds, 2)
            self.notes["extrapolated_seconds_1m_events"] = round(
                seconds * 1_000_000 / self.events, 1)
        self.store.close()
        peer_close(self.datastore)
        self._db.__exit__(None, None, None)

    def check(self, ours: float, peer: float | None, ratio: float | None) -> bool:
        extrapolated = 1_000_000 / ours
        self.notes["extrapolated_seconds_1m_events"] = round(extrapolated, 1)
        return ratio is not None and ratio >= 2.0 and extrapolated <= 60


# -- S5: concurrent writers and a tailing reader ---------------------------------------------------
class S5:
    def __init__(self, size: Size) -> None:
        self.writers = 3
        self.per_writer = 10 if size == "tiny" else 500
        self.notes: dict[str, Any] = {"writers": self.writers, "per_writer": self.per_writer}
        self._ours_rates: list[float] = []
        self._peer_rates: list[float] = []

    def ours(self) -> float:
        with pg_database() as (url, _):
            stores = [EventStore(url, None) for _ in range(self.writers)]
            reader = EventStore(url, None, migrate=False)
            total = self.writers * self.per_writer
            barrier = threading.Barrier(self.writers + 1)

            def write(n: int) -> None:
                store = stores[n]
                barrier.wait()
                for i in range(self.per_writer):
                    store.append(f"bench-w{n}-{i}", [our_event(i)], 0)

            threads = [threading.Thread(target=write, args=(n,)) for n in range(self.writers)]
            for thread in threads:
                thread.start()
            barrier.wait()
            started = time.perf_counter()
            seen: list[str] = []
            last = 0
            deadline = time.time() + 120
            while len(seen) < total and time.time() < deadline:
                batch = reader.read_all(after=last, limit=50)
                if not batch:
                    time.sleep(0.0005)
                    continue
                seen.extend(e.event_id for e in batch)
                last = batch[-1].position
            for thread in threads:
                thread.join()
            self._ours_rates.append(total / (time.perf_counter() - started))
            stored = {e.event_id for page in reader.iter_all() for e in page}
            missed = len(stored - set(seen)) + (len(seen) - len(set(seen)))
            for store in [*stores, reader]:
                store.close()
        self._peer_rates.append(self._peer_rate())
        self.notes["write_rate_ours_events_s"] = round(statistics.median(self._ours_rates))
        self.notes["write_rate_eventsourcing_events_s"] = round(
            statistics.median(self._peer_rates))
        return float(missed)

    def _peer_rate(self) -> float:
        with pg_database() as (_, name):
            datastore, recorder = peer_pg(name)
            barrier = threading.Barrier(self.writers + 1)

            def write() -> None:
                barrier.wait()
                for _ in range(self.per_writer):
                    recorder.insert_events([_stored(uuid.uuid4(), 1)])

            threads = [threading.Thread(target=write) for _ in range(self.writers)]
            for thread in threads:
                thread.start()
            barrier.wait()
            started = time.perf_counter()
            for thread in threads:
                thread.join()
            rate = self.writers * self.per_writer / (time.perf_counter() - started)
            peer_close(datastore)
            return rate


# -- S6: the hash chain's cost -----------------------------------------------------------------------
def _without_hash_chain(url: str) -> None:
    """Replace `clearance_append` in a scratch database by a variant that stores a constant
    instead of the chained sha256 (everything else identical)."""
    import importlib.util

    from sqlalchemy import create_engine, text

    from shared.eventstore.migrate import MIGRATIONS

    spec = importlib.util.spec_from_file_location(
        "migration_0003", MIGRATIONS / "versions" / "0003_append_function.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    source: str = module.PG_APPEND
    body = source.replace(
        "encode(sha256(convert_to(", "(SELECT repeat('0', 64) WHERE length(").replace(
        "p_data[i], 'UTF8')), 'hex')", "p_data[i]) >= 0)")
    engine = create_engine(url)
    with engine.begin() as connection:
        connection.execute(text(body))
    engine.dispose()


class S6:
    def __init__(self, size: Size) -> None:
        self.count = 30 if size == "tiny" else 2000
        self.notes: dict[str, Any] = {"events": self.count, "backend": "postgresql",
                                      "with_chain_events_s": [], "without_chain_events_s": []}

    def ours(self) -> float:
        with pg_database() as (url, _):
            EventStore(url, None).close()
            _without_hash_chain(url)
            without = ours_append(url, self.count, 1)
        with pg_database() as (url, _):
            with_chain = ours_append(url, self.count, 1)
        self.notes["with_chain_events_s"].append(round(with_chain))
        self.notes["without_chain_events_s"].append(round(without))
        return without / with_chain - 1.0


def workloads(size: Size) -> list[Workload]:
    tiny = size == "tiny"
    runs = 1 if tiny else 3
    s3, s4, s5, s6 = S3(size), S4(size), S5(size), S6(size)
    return [
        s1("postgresql", size), s1("sqlite", size), s2("postgresql", size), s2("sqlite", size),
        Workload(id="S3-postgres", unit="reads/s", goal="ratio >= 2.0", ours=s3.ours,
                 peer=s3.peer, peer_name=PEER, check=lambda o, p, r: r is not None and r >= 2.0,
                 runs=runs, warmup=not tiny, setup=s3.setup, teardown=s3.teardown,
                 notes={"stream_events": s3.stream_events, "reads_per_run": s3.reads}),
        Workload(id="S4-postgres", unit="events/s", goal="ratio >= 2.0 and 1M events <= 60 s",
                 ours=s4.ours, peer=s4.peer,
                 peer_name=f"{PEER} select_notifications + mapper decode", check=s4.check,
                 runs=runs, warmup=False, setup=s4.setup, teardown=s4.teardown,
                 notes=s4.notes),
        Workload(id="S5-postgres-missed", unit="missed events", goal="0 missed", ours=s5.ours,
                 check=lambda o, p, r: o == 0, lower_is_better=True, runs=1, warmup=False,
                 notes=s5.notes),
        Workload(id="S6-hash-overhead", unit="overhead (fraction)", goal="overhead <= 0.15",
                 ours=s6.ours, check=lambda o, p, r: o <= 0.15, lower_is_better=True,
                 runs=runs, warmup=False, notes=s6.notes),
    ]

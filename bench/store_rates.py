"""Baseline append and read rates of the event store on SQLite and PostgreSQL.

    .venv/bin/python -m bench.store_rates [--events 3000] [--backend sqlite|postgresql|both]

Appends 1 event per transaction over 100 streams, then 10 events per transaction, then reads
the whole log back in pages of 1,000 and one consignment's events; prints events/s. Each
backend gets a fresh database (a temporary SQLite file, a new PostgreSQL database).
The side-by-side comparison with a peer lives in `make bench` (the benchmark issue).
"""

from __future__ import annotations

import argparse
import json
import time

from shared.events import NewEvent
from shared.eventstore import EventStore
from shared.testing.databases import fresh_store_url

PAYLOAD = {"mrn": "26GB0000000000000X", "amount": "1234.56", "note": "x" * 200}


def event(i: int) -> NewEvent:
    return NewEvent("BenchEvent", 1, PAYLOAD, correlation_id=f"C{i % 100}", actor="bench")


def measure(backend: str, count: int) -> dict[str, float]:
    with fresh_store_url(backend) as url:
        store = EventStore(url, None)
        versions = [0] * 100
        started = time.perf_counter()
        for i in range(count):
            s = i % 100
            store.append(f"bench-{s}", [event(i)], versions[s])
            versions[s] += 1
        append1 = count / (time.perf_counter() - started)
        started = time.perf_counter()
        for i in range(count // 10):
            s = i % 100
            store.append(f"bench-{s}", [event(j) for j in range(10)], versions[s])
            versions[s] += 10
        append10 = (count // 10 * 10) / (time.perf_counter() - started)
        started = time.perf_counter()
        total = sum(len(page) for page in store.iter_all(page=1000))
        read_all = total / (time.perf_counter() - started)
        started = time.perf_counter()
        one = store.read_correlation("C7")
        correlation_ms = (time.perf_counter() - started) * 1000
        store.close()
    return {"append_1_per_tx_events_s": round(append1), "append_10_per_tx_events_s": round(append10),
            "read_all_events_s": round(read_all), "read_one_consignment_ms": round(correlation_ms, 2),
            "consignment_events": len(one), "log_events": total}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=3000)
    parser.add_argument("--backend", choices=["sqlite", "postgresql", "both"], default="both")
    args = parser.parse_args()
    backends = ["sqlite", "postgresql"] if args.backend == "both" else [args.backend]
    print(json.dumps({b: measure(b, args.events) for b in backends}, indent=2))


if __name__ == "__main__":
    main()

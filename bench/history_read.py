"""How long the auditor's history of one consignment takes to read, as the log grows.

    .venv/bin/python -m bench.history_read [--sizes 10000,1000000] [--backend sqlite|postgresql|both]
                                            [--reads 25] [--output FILE]

For each backend and each log size, a fresh store (a temporary SQLite file, a new PostgreSQL
database) is filled with "other" events in batches of 1,000 events per append (one
transaction; 10 events per other consignment, so a million-event log holds 100,000 other
consignments), and the nine events of one yellow-lane consignment are appended at ten points
spread through the log. Then the consignment's history is read `--reads` times:
`audit.history.history` (the whole thing the CLI does: the correlation-index read, the
previous-hash lookups, the hash re-computation, summaries and the derived status) and the
bare `EventStore.read_correlation` underneath it. Medians (and the first, cold read) in ms.
The read should not grow with the log: the query uses `ix_events_correlation`.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
from collections.abc import Callable
from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Any

from audit.history import history
from services.declaration.domain.identifiers import format_mrn
from shared.events import NewEvent
from shared.events.catalog import registry
from shared.events.declaration import DeclarationAccepted, DeclarationReceived
from shared.events.payment import DutyAssessed, PaymentReceived
from shared.events.release import GoodsReleased
from shared.events.risk import ControlCompleted, ControlOrdered, RiskAssessed
from shared.eventstore import EventStore
from shared.testing.databases import fresh_store_url

BATCH = 1000
TARGET = "bench0000-0000-4000-8000-000000000001"
MRN = "26GBA7K2M9Q4R8T1X5"


def other_event(i: int) -> NewEvent:
    """A payment-like event of another consignment (about the size of a real one)."""
    consignment = f"other-{i // 10:07d}"
    return NewEvent("PaymentReceived", 1, {
        "consignment_id": consignment, "mrn": format_mrn(2026, "GB", i // 10), "reference": f"PAY-{i:09d}",
        "amount": "1234.56", "currency": "GBP", "balance_due": "0.00", "credit": "0.00",
    }, correlation_id=consignment, actor=f"payer:PAY-{i:09d}")


def target_steps() -> list[tuple[str, list[Any]]]:
    """The consignment read back: (category, payloads) per append, nine events in all."""
    c = TARGET
    doc: dict[str, Any] = {"lrn": "BENCH-1", "type": "IM", "office": "GBDEM001",
                           "currency": "USD", "transport": {"mode": "air"},
                           "items": [{"hs_code": "8517130000", "value": "2000.00"}]}
    lodged = datetime.now(UTC)
    return [
        ("declaration", [DeclarationReceived(c, "BENCH-1", "GB123456789000", "sha256:x", doc)]),
        ("declaration", [DeclarationAccepted(c, MRN, "BENCH-1", "GB123456789000", "GBDEM001",
                                             "air", date(2026, 11, 29), 1, doc)]),
        ("risk", [RiskAssessed(c, MRN, "yellow", 45, [
            {"rule_id": "R-1", "lane": "yellow", "score": 45, "rationale": "documentary check"}],
            "2026.1", None, {"value": "0.5", "selected": False}, {"lane": "yellow"}),
            ControlOrdered(c, MRN, "documentary", "yellow")]),
        ("payment", [DutyAssessed(c, MRN, "GBP", Decimal("0.00"), Decimal("387.45"),
                                  Decimal("387.45"), "2026-07", "2026-11", "ROUND_HALF_UP",
                                  {"items": []})]),
        ("risk", [ControlCompleted(c, MRN, "compliant",
                                   [{"category": "no_discrepancy", "text": "ok"}], None,
                                   Decimal("0.00"))]),
        ("payment", [PaymentReceived(c, MRN, "BENCH-PAY-1", Decimal("200.00"), "GBP",
                                     Decimal("187.45"), Decimal("0.00"))]),
        ("payment", [PaymentReceived(c, MRN, "BENCH-PAY-2", Decimal("187.45"), "GBP",
                                     Decimal("0.00"), Decimal("0.00"))]),
        ("release", [GoodsReleased(c, MRN, "GBDEM001", "yellow", "air", lodged,
                                   datetime.now(UTC))]),
    ]


def fill(store: EventStore, size: int, progress: Callable[[int], None]) -> int:
    """`size` other events plus the target's, the target's appends spread through the log."""
    steps = target_steps()
    every = max(1, size // BATCH // (len(steps) + 1))  # batches between two target appends
    versions: dict[str, int] = {}
    written = batches = 0
    stream_no = 0
    while written < size:
        count = min(BATCH, size - written)
        stream = f"payment-bulk{stream_no}"  # 100 batches (100,000 events) per stream
        store.append(stream, [other_event(written + k) for k in range(count)],
                     versions.get(stream, 0))
        versions[stream] = versions.get(stream, 0) + count
        written += count
        batches += 1
        if batches % 100 == 0:
            stream_no += 1
        if steps and batches % every == 0:
            category, payloads = steps.pop(0)
            stream = f"{category}-{TARGET}"
            new = [registry().new_event(p, correlation_id=TARGET, actor="bench")
                   for p in payloads]
            store.append(stream, new, versions.get(stream, 0))
            versions[stream] = versions.get(stream, 0) + len(new)
        progress(written)
    for category, payloads in steps:  # whatever did not fit between the batches
        stream = f"{category}-{TARGET}"
        new = [registry().new_event(p, correlation_id=TARGET, actor="bench") for p in payloads]
        store.append(stream, new, versions.get(stream, 0))
        versions[stream] = versions.get(stream, 0) + len(new)
    return store.last_position()


def timed(action: Callable[[], Any], reads: int) -> tuple[float, float, Any]:
    """(first read ms, median of the next `reads` reads ms, last result)."""
    started = time.perf_counter()
    result = action()
    first = (time.perf_counter() - started) * 1000
    samples = []
    for _ in range(reads):
        started = time.perf_counter()
        result = action()
        samples.append((time.perf_counter() - started) * 1000)
    return first, statistics.median(samples), result


def measure(backend: str, size: int, reads: int) -> dict[str, Any]:
    with fresh_store_url(backend) as url:
        store = EventStore(url)
        last = [0.0]

        def progress(done: int) -> None:
            now = time.monotonic()
            if now - last[0] >= 5 or done == size:
                last[0] = now
                print(f"  {backend} {size:,}: {done:,} events appended", file=sys.stderr,
                      flush=True)

        started = time.perf_counter()
        log_size = fill(store, size, progress)
        fill_s = time.perf_counter() - started
        if backend == "postgresql":
            with store.transaction() as tx:
                tx.execute("ANALYZE events")
        h_first, h_median, h = timed(lambda: history(store, TARGET), reads)
        r_first, r_median, _ = timed(lambda: store.read_correlation(TARGET), reads)
        store.close()
    assert len(h.events) == 9, len(h.events)
    return {
        "backend": backend, "log_events": log_size, "consignment_events": len(h.events),
        "fill_seconds": round(fill_s, 1), "fill_events_s": round(log_size / fill_s),
        "history_first_ms": round(h_first, 2), "history_median_ms": round(h_median, 2),
        "read_correlation_first_ms": round(r_first, 2),
        "read_correlation_median_ms": round(r_median, 2), "reads": reads,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--sizes", default="10000,1000000",
                        help="comma-separated log sizes (default 10000,1000000)")
    parser.add_argument("--backend", choices=["sqlite", "postgresql", "both"], default="both")
    parser.add_argument("--reads", type=int, default=25, help="reads per measurement")
    parser.add_argument("--output", default=None, help="also write the results (JSON) here")
    args = parser.parse_args()
    sizes = [int(s.replace("_", "")) for s in args.sizes.split(",")]
    backends = ["sqlite", "postgresql"] if args.backend == "both" else [args.backend]
    results = []
    for backend in backends:
        for size in sizes:
            print(f"{backend}: filling a log of {size:,} events ...", file=sys.stderr,
                  flush=True)
            results.append(measure(backend, size, args.reads))
            r = results[-1]
            print(f"{backend:>10} {r['log_events']:>9,} events: history median "
                  f"{r['history_median_ms']:.2f} ms (first {r['history_first_ms']:.2f}), "
                  f"read_correlation median {r['read_correlation_median_ms']:.2f} ms",
                  file=sys.stderr, flush=True)
    text = json.dumps(results, indent=2)
    print(text)
    if args.output:
        with open(args.output, "w", encoding="utf-8") as out:
            out.write(text + "\n")


if __name__ == "__main__":
    main()

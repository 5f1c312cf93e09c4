"""The single log's ceiling on PostgreSQL: appends from several processes at once.

    python -m bench.log_ceiling [--seconds 5] [--writers 1 2 4 8] [--per-tx 1 6 50]

Each writer is a process of its own with its own `EventStore` (one connection), appending
transactions of `per_tx` events (~300 bytes of JSON each, as S1) to streams of its own for
`seconds`, all writers at once, on a fresh database with `synchronous_commit=on`. Every
append takes the deployment-wide log-head lock until its commit (gap-free positions), so the
log's transactions are serial: the figure that matters is transactions/s, and events/s grows
with the events per transaction (group commit: the consumers commit the events they handled
together). Prints a table and the JSON the scaling document quotes (docs/scaling.md).
"""

from __future__ import annotations

import argparse
import json
import multiprocessing
import time
import uuid
from typing import Any

from bench.workloads.store import our_event
from shared.eventstore import EventStore
from shared.testing import databases


def _writer(url: str, per_tx: int, seconds: float, start_at: float,
            out: Any) -> None:
    store = EventStore(url, None)
    prefix = uuid.uuid4().hex[:8]
    try:
        store.last_position()  # connected before the start
        while time.time() < start_at:
            time.sleep(0.001)
        deadline = time.monotonic() + seconds
        transactions = 0
        while time.monotonic() < deadline:
            store.append(f"ceiling-{prefix}-{transactions}",
                         [our_event(i) for i in range(per_tx)], 0)
            transactions += 1
        out.put(transactions)
    finally:
        store.close()


def measure(url: str, writers: int, per_tx: int, seconds: float) -> dict[str, Any]:
    context = multiprocessing.get_context("spawn")
    out = context.Queue()
    start_at = time.time() + 2.0
    processes = [context.Process(target=_writer, args=(url, per_tx, seconds, start_at, out))
                 for _ in range(writers)]
    for process in processes:
        process.start()
    transactions = sum(out.get(timeout=seconds + 60) for _ in processes)
    for process in processes:
        process.join()
    return {"writers": writers, "events_per_transaction": per_tx,
            "transactions_per_s": round(transactions / seconds),
            "events_per_s": round(transactions * per_tx / seconds)}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=5.0)
    parser.add_argument("--writers", type=int, nargs="*", default=[1, 2, 4, 8])
    parser.add_argument("--per-tx", type=int, nargs="*", default=[1, 6, 50])
    args = parser.parse_args(argv)
    rows = []
    print(f"{'writers':>7} {'events/tx':>9} {'tx/s':>7} {'events/s':>9}", flush=True)
    for per_tx in args.per_tx:
        for writers in args.writers:
            with databases.postgres_database("clearance_ceiling", role="owner") as url:
                row = measure(url, writers, per_tx, args.seconds)
            rows.append(row)
            print(f"{writers:>7} {per_tx:>9} {row['transactions_per_s']:>7} "
                  f"{row['events_per_s']:>9}", flush=True)
    print(json.dumps(rows))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

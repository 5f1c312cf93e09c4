"""SQLite appends: the WAL pages each transaction writes, and what each index costs.

    python -m bench.sqlite_pages [--appends 2000] [--rounds 3] [--per-tx 1]

S1-sqlite and S2-sqlite compare our appends with the `eventsourcing` library's on SQLite (WAL,
`synchronous=FULL`). Each commit there costs one flush of the WAL, plus one page write per
page the transaction changed. This measures, for transactions of `--per-tx` events (1: S1,
10: S2) on a fresh file:

- the WAL frames (pages) a transaction writes: 100 transactions after a truncating
  checkpoint, with the log read off `PRAGMA wal_checkpoint` (fewer than the 1,000 pages
  that trigger an automatic checkpoint);
- events/s over `--appends` events, median of `--rounds` alternated rounds.

Each variant drops indexes of the `events` table, to show what each one costs; each of them
buys a guarantee (docs/performance.md, "SQLite appends").
"""

from __future__ import annotations

import argparse
import sqlite3
import statistics
import tempfile
from collections.abc import Callable
from pathlib import Path

from bench.workloads.store import (
    STREAMS,
    our_event,
    ours_append,
    peer_append,
    peer_close,
    peer_sqlite,
)
from shared.eventstore import EventStore

PER_TX = 1  # events per transaction (--per-tx)
VARIANTS: dict[str, tuple[str, ...]] = {
    "ours": (),
    "ours without ix_events_category": ("ix_events_category",),
    "ours without ix_events_correlation": ("ix_events_correlation",),
    "ours without both": ("ix_events_category", "ix_events_correlation"),
}


def _truncate(path: Path) -> None:
    connection = sqlite3.connect(path)
    connection.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    connection.close()


def _frames(path: Path) -> int:
    connection = sqlite3.connect(path)
    _busy, log, _done = connection.execute("PRAGMA wal_checkpoint(PASSIVE)").fetchone()
    connection.close()
    return int(log)


def _schema(path: Path, dropped: tuple[str, ...]) -> str:
    url = f"sqlite:///{path}"
    EventStore(url, None).close()  # the schema
    connection = sqlite3.connect(path)
    for index in dropped:
        connection.execute(f"DROP INDEX {index}")
    connection.commit()
    connection.close()
    _truncate(path)
    return url


def _ours(path: Path, dropped: tuple[str, ...], count: int) -> tuple[float, float]:
    store = EventStore(_schema(path, dropped), None)
    try:  # read while the store is open: its last connection's close checkpoints the WAL
        for i in range(100):
            store.append(f"bench-{i % STREAMS}-{i}", [our_event(i) for _ in range(PER_TX)], 0)
        frames = _frames(path) / 100
    finally:
        store.close()
    other = path.with_name("rate.db")
    rate = ours_append(_schema(other, dropped), count, PER_TX)
    return frames, rate


def _peer(path: Path, count: int) -> tuple[float, float]:
    datastore, recorder = peer_sqlite(str(path))
    try:
        _truncate(path)
        peer_append(recorder, 100 * PER_TX, PER_TX)
        frames = _frames(path) / 100
        rate = peer_append(recorder, count, PER_TX)
    finally:
        peer_close(datastore)
    return frames, rate


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--appends", type=int, default=2000)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--per-tx", type=int, default=1, help="events per transaction")
    args = parser.parse_args(argv)
    global PER_TX
    PER_TX = args.per_tx
    runs: dict[str, list[tuple[float, float]]] = {}
    measures: dict[str, Callable[[Path], tuple[float, float]]] = {
        name: (lambda path, d=dropped: _ours(path, d, args.appends))
        for name, dropped in VARIANTS.items()}
    measures["eventsourcing 9.5.6"] = lambda path: _peer(path, args.appends)
    for _ in range(args.rounds):
        for name, run in measures.items():
            with tempfile.TemporaryDirectory() as folder:
                runs.setdefault(name, []).append(run(Path(folder) / "bench.db"))
    print(f"transactions of {PER_TX} event(s) over {STREAMS} streams, {args.appends} events, "
          f"median of {args.rounds}")
    print(f"{'variant':<38} {'WAL pages/tx':>12} {'events/s':>10}")
    for name, results in runs.items():
        frames = statistics.median(r[0] for r in results)
        rate = statistics.median(r[1] for r in results)
        print(f"{name:<38} {frames:>12.2f} {rate:>10.0f}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

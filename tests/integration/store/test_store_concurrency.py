"""Concurrency on the real servers: the gap-free global order and optimistic concurrency.

Gap test: several writer *processes* append at once while a reader tails "everything after the
last position I saw" (the way the relay and projections read). With a plain auto-increment
position this misses events on PostgreSQL (see ARCHITECTURE.md, decision 2); ours must miss
none and repeat none. Run on PostgreSQL and on one SQLite file shared by the processes.
"""

from __future__ import annotations

import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from shared.eventstore import EventStore, WrongExpectedVersion

from .conftest import thing

WRITER = Path(__file__).with_name("writer.py")


@pytest.mark.parametrize("writers,per_writer", [(3, 500), (4, 300)])
def test_tailing_reader_misses_nothing_with_concurrent_writers(
    store: EventStore, writers: int, per_writer: int
) -> None:
    start_at = time.time() + 2.0
    processes = [
        subprocess.Popen([sys.executable, str(WRITER), store.url, f"w{n}", str(per_writer),
                          str(start_at)])
        for n in range(writers)
    ]
    total = writers * per_writer
    seen: list[str] = []
    last = 0
    deadline = time.time() + 120
    while len(seen) < total and time.time() < deadline:
        batch = store.read_all(after=last, limit=50)
        if not batch:
            time.sleep(0.001)
            continue
        seen.extend(e.event_id for e in batch)
        last = batch[-1].position
    for process in processes:
        assert process.wait(timeout=60) == 0
    stored = [e.event_id for page in store.iter_all() for e in page]
    assert len(stored) == total
    missed = set(stored) - set(seen)
    assert not missed, f"the tailing reader missed {len(missed)} of {total} events"
    assert len(seen) == len(set(seen)) == total  # nothing seen twice
    assert [e.position for page in store.iter_all() for e in page] == list(range(1, total + 1))


def test_two_appends_with_the_same_expected_version_exactly_one_wins(store: EventStore) -> None:
    for round_ in range(10):
        stream = f"thing-race{round_}"
        barrier = threading.Barrier(2)
        outcomes: list[str] = []

        def attempt(barrier: threading.Barrier = barrier, stream: str = stream,
                    outcomes: list[str] = outcomes) -> None:
            barrier.wait()
            try:
                store.append(stream, [thing()], expected_version=0)
                outcomes.append("won")
            except WrongExpectedVersion:
                outcomes.append("lost")

        threads = [threading.Thread(target=attempt) for _ in range(2)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(timeout=30)
        assert sorted(outcomes) == ["lost", "won"]
        assert store.stream_version(stream) == 1

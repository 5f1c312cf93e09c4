"""The benchmark code at a tiny size, so it never rots (`make bench` runs it at full size).

Asserts that every workload of the benchmark issue runs against the real servers and reports
a figure (and, when it has a peer, the peer's figure and the ratio); it asserts nothing about
speed (speed is measured in `make bench`, side by side)."""

from __future__ import annotations

import json
import math
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
IDS = {"S1-postgres", "S1-sqlite", "S2-postgres", "S2-sqlite", "S3-postgres", "S4-postgres",
       "S5-postgres-missed", "S6-hash-overhead", "M1-relay", "M2-consumer", "P1-throughput",
       "P1-p99-at-50", "P1-rss"}


def is_number(value: object) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value)


def test_every_benchmark_runs_at_tiny_size(tmp_path: Path) -> None:
    result = subprocess.run(
        [sys.executable, "-m", "bench.run", "--size", "tiny", "--output", str(tmp_path),
         "--docs", str(tmp_path / "performance.md")],
        cwd=ROOT, capture_output=True, text=True, timeout=600)
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    document = json.loads((tmp_path / "latest.json").read_text())
    assert {"generated_at", "machine", "results"} <= set(document)
    by_id = {r["id"]: r for r in document["results"]}
    assert set(by_id) == IDS
    for entry in by_id.values():
        assert {"id", "unit", "ours", "peer", "peer_name", "ratio", "goal", "met"} <= set(entry)
        # Every workload produced its figure (the results file writes a non-finite one, e.g.
        # a rate step never reached, as null: that is a benchmark that measured nothing).
        assert is_number(entry["ours"]), entry
        assert entry["runs"]["ours"] and all(is_number(v) for v in entry["runs"]["ours"]), entry
        if entry["peer_name"] is None:  # no peer (S5, S6, P1-p99-at-50, P1-rss): no ratio
            assert entry["peer"] is None and entry["ratio"] is None, entry
        else:  # a peer ran beside it: its figure and the ratio too
            assert is_number(entry["peer"]) and is_number(entry["ratio"]), entry
            assert len(entry["runs"]["peer"]) == len(entry["runs"]["ours"]), entry
        assert isinstance(entry["met"], bool)
    assert (tmp_path / "performance.md").read_text().count("|") > 20
    assert (tmp_path / "performance.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"

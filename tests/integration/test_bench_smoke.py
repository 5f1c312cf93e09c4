"""The benchmark code at a tiny size, so it never rots (`make bench` runs it at full size).

Asserts that every workload of the benchmark issue runs against the real servers and reports
a figure (and, when it has a peer, the peer's figure and the ratio); it asserts nothing about
speed (speed is measured in `make bench`, side by side)."""

from __future__ import annotations

import json
import math
import os
import signal
import subprocess
import sys
import uuid
from pathlib import Path

import pytest

from shared.testing.waiting import wait_until

ROOT = Path(__file__).resolve().parents[2]
IDS = {"S1-postgres", "S1-sqlite", "S2-postgres", "S2-sqlite", "S3-postgres", "S4-postgres",
       "S5-postgres-missed", "S6-hash-overhead", "M1-relay", "M2-consumer", "P1-throughput",
       "P1-ratio", "P1-p99-at-50", "P1-cpu", "P1-rss"}


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
        if entry["peer_name"] is None:  # no peer (S5, S6, P1-p99-at-50, P1-cpu, P1-rss)
            assert entry["peer"] is None and entry["ratio"] is None, entry
        else:  # a peer ran beside it: its figure and the ratio too
            assert is_number(entry["peer"]) and is_number(entry["ratio"]), entry
            assert len(entry["runs"]["peer"]) == len(entry["runs"]["ours"]), entry
        assert isinstance(entry["met"], bool)
    # P1-cpu: the CPU of every part, read from /proc, per declaration, at every step
    cpu = by_id["P1-cpu"]["notes"]
    parts = {"declaration", "risk", "payment", "release", "postgresql", "rabbitmq",
             "load generator", "in all"}
    assert set(cpu["per_part"]) == parts and cpu["by_step"]
    assert all(is_number(v) and v >= 0 for v in cpu["per_part"].values())
    assert all(cpu["per_part"][p] > 0 for p in ("declaration", "postgresql", "rabbitmq"))
    assert cpu["per_part"]["in all"] == pytest.approx(by_id["P1-cpu"]["ours"], abs=0.05)  # rounded
    assert by_id["P1-ratio"]["ours"] == by_id["P1-throughput"]["ours"]
    assert (tmp_path / "performance.md").read_text().count("|") > 20
    assert "## CPU per declaration (P1)" in (tmp_path / "performance.md").read_text()
    assert (tmp_path / "performance.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def services_marked(mark: str) -> list[int]:
    """The live service processes (`... run --config ...`) whose environment carries `mark`
    (the benchmark's services run detached, as `make start` runs them: their parent is not
    the benchmark; from /proc, zombies are not alive)."""
    found = []
    for proc in Path("/proc").glob("[0-9]*"):
        try:
            command = (proc / "cmdline").read_bytes().split(b"\0")
            marked = mark.encode() in (proc / "environ").read_bytes()
        except OSError:
            continue  # gone meanwhile, or not ours to read
        if b"--config" in command and marked and alive(int(proc.name)):
            found.append(int(proc.name))
    return found


def alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except (OSError, IndexError):
        return False
    return state != "Z"


def test_a_terminated_run_stops_the_services_it_started(tmp_path: Path) -> None:
    """SIGTERM to a benchmark run while the pipeline's four services run: the run ends, and
    so do they (it used to die at once and leave them running)."""
    mark = f"BENCH_TEST_MARK={uuid.uuid4().hex}"
    name, value = mark.split("=")
    bench = subprocess.Popen(
        [sys.executable, "-m", "bench.run", "--size", "tiny", "--only", "P1-throughput",
         "--no-docs", "--output", str(tmp_path)],
        cwd=ROOT, env={**os.environ, name: value}, stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL)
    try:
        services = wait_until(lambda: (lambda found: found if len(found) >= 4 else None)(
            services_marked(mark)), timeout=180, interval=0.1,
            message="the pipeline's four services to start")
        bench.send_signal(signal.SIGTERM)
        assert bench.wait(60) == 128 + signal.SIGTERM
        wait_until(lambda: not any(alive(pid) for pid in services), timeout=30,
                   interval=0.2, message=lambda: f"services still running: "
                   f"{[pid for pid in services if alive(pid)]}")
    finally:
        if bench.poll() is None:
            bench.kill()
        for pid in services_marked(mark):  # whatever a failure left behind
            os.kill(pid, signal.SIGKILL)

"""The benchmark harness: side-by-side runs, medians, ratios, and the results file.

Every workload module (`bench/workloads/*.py`) exposes

    def workloads(size: Size) -> list[Workload]

and each `Workload` names its id, unit, goal and two callables, `ours()` and `peer()` (peer may
be None), each doing one measured run and returning the figure (higher is better unless
`lower_is_better`). `measure` interleaves them (ours, peer, ours, peer, ...) after a warm-up
and takes the median of at least three runs of each, so machine drift hits both alike.

`bench.run` writes `bench/results/latest.json`:

    {"generated_at", "machine": {...}, "results": [{"id", "unit", "ours", "peer", "peer_name",
     "ratio", "goal", "met"}, ...]}

and regenerates `docs/performance.md` (a table and a chart) from it.
"""

from __future__ import annotations

import statistics
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Literal

Size = Literal["tiny", "full"]


@dataclass
class Workload:
    id: str
    unit: str
    goal: str  # human-readable, e.g. "ratio >= 2.0"
    ours: Callable[[], float]
    peer: Callable[[], float] | None = None
    peer_name: str | None = None
    check: Callable[[float, float | None, float | None], bool] = lambda ours, peer, ratio: True
    lower_is_better: bool = False
    runs: int = 3
    warmup: bool = True
    setup: Callable[[], None] | None = None
    teardown: Callable[[], None] | None = None
    notes: dict[str, Any] = field(default_factory=dict)


@dataclass
class Result:
    id: str
    unit: str
    ours: float
    peer: float | None
    peer_name: str | None
    ratio: float | None
    goal: str
    met: bool
    runs: dict[str, list[float]]
    notes: dict[str, Any]

    def to_json(self) -> dict[str, Any]:
        return {"id": self.id, "unit": self.unit, "ours": _round(self.ours),
                "peer": None if self.peer is None else _round(self.peer),
                "peer_name": self.peer_name,
                "ratio": None if self.ratio is None else _round(self.ratio),
                "goal": self.goal, "met": self.met,
                "runs": {k: [_round(v) for v in vs] for k, vs in self.runs.items()},
                "notes": self.notes}


def _round(value: float) -> float | None:
    """Figures for JSON: a non-finite one (e.g. a rate step never reached) becomes null."""
    if value != value or value in (float("inf"), float("-inf")):
        return None
    return round(value, 4) if abs(value) < 10 else round(value, 1)


def measure(workload: Workload, *, log: Callable[[str], None] = print) -> Result:
    if workload.setup is not None:
        workload.setup()
    try:
        if workload.warmup:
            workload.ours()
            if workload.peer is not None:
                workload.peer()
        ours_runs: list[float] = []
        peer_runs: list[float] = []
        for run in range(workload.runs):
            started = time.perf_counter()
            ours_runs.append(workload.ours())
            if workload.peer is not None:
                peer_runs.append(workload.peer())
            log(f"  {workload.id} run {run + 1}/{workload.runs}: ours {ours_runs[-1]:.4g}"
                + (f", {workload.peer_name} {peer_runs[-1]:.4g}" if peer_runs else "")
                + f" {workload.unit} ({time.perf_counter() - started:.1f}s)")
    finally:
        if workload.teardown is not None:
            workload.teardown()
    ours = statistics.median(ours_runs)
    peer = statistics.median(peer_runs) if peer_runs else None
    ratio = None
    if peer:
        ratio = (peer / ours) if workload.lower_is_better else (ours / peer)
    return Result(workload.id, workload.unit, ours, peer, workload.peer_name, ratio,
                  workload.goal, bool(workload.check(ours, peer, ratio)),
                  {"ours": ours_runs, "peer": peer_runs}, dict(workload.notes))

"""`make bench`: every workload side by side with its peer; results and the performance page.

    python -m bench.run [--size full|tiny] [--only S1-postgres ...] [--output bench/results]
                        [--docs docs/performance.md | --no-docs]

`--size tiny` is the smoke run that `make test` does so the benchmark code never rots; it
asserts nothing about speed and writes to a scratch folder.
"""

from __future__ import annotations

import argparse
import importlib
import json
import os
import platform
import signal
import sqlite3
import subprocess
import sys
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from .harness import Result, Size, Workload, measure

ROOT = Path(__file__).resolve().parents[1]
WORKLOAD_MODULES = ("bench.workloads.store", "bench.workloads.messaging",
                    "bench.workloads.pipeline")


def machine() -> dict[str, Any]:
    info: dict[str, Any] = {
        "python": platform.python_version(), "platform": platform.platform(),
        "cores": os.cpu_count(), "sqlite": sqlite3.sqlite_version,
        "settings": {"postgresql_synchronous_commit": "on", "sqlite_journal_mode": "wal",
                     "sqlite_synchronous": "FULL"},
    }
    for name, command in (("postgresql", ["psql", "--version"]),
                          ("rabbitmq", ["rabbitmqctl", "-q", "version"])):
        try:
            info[name] = subprocess.run(command, capture_output=True, text=True, timeout=30,
                                        check=False).stdout.strip()
        except (OSError, subprocess.TimeoutExpired):
            info[name] = "unknown"
    try:
        from importlib.metadata import version

        info["packages"] = {p: version(p) for p in ("nameko", "eventlet", "SQLAlchemy",
                                                      "psycopg2-binary", "amqp", "eventsourcing")}
    except Exception:  # a missing peer package is reported by its workload
        pass
    return info


def collect(size: Size, only: set[str] | None) -> list[Workload]:
    found: list[Workload] = []
    for name in WORKLOAD_MODULES:
        module = importlib.import_module(name)
        found.extend(w for w in module.workloads(size) if not only or w.id in only)
    return found


def stop_on_sigterm() -> None:
    """SIGTERM ends a run as Ctrl-C does: each workload's `finally` stops the service processes
    and removes the databases it made. (By default Python dies at once on SIGTERM, and a
    terminated `make bench` left its four services running.)"""

    def terminate(signum: int, _frame: Any) -> None:
        raise SystemExit(128 + signum)

    signal.signal(signal.SIGTERM, terminate)


def main(argv: list[str] | None = None) -> int:
    stop_on_sigterm()
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size", choices=["tiny", "full"], default="full")
    parser.add_argument("--only", nargs="*", default=None)
    parser.add_argument("--output", type=Path, default=ROOT / "bench" / "results")
    parser.add_argument("--docs", type=Path, default=ROOT / "docs" / "performance.md")
    parser.add_argument("--no-docs", action="store_true")
    args = parser.parse_args(argv)
    started = time.monotonic()
    workloads = collect(args.size, set(args.only) if args.only else None)
    results: list[Result] = []
    for number, workload in enumerate(workloads, start=1):
        print(f"[{number}/{len(workloads)}] {workload.id} ({workload.goal})", flush=True)
        result = measure(workload, log=lambda text: print(text, flush=True))
        results.append(result)
        ratio = f", ratio {result.ratio:.2f}" if result.ratio is not None else ""
        print(f"  -> ours {result.ours:.4g} {result.unit}{ratio}: "
              f"{'met' if result.met else 'NOT MET'}", flush=True)
    document = {"generated_at": datetime.now(UTC).isoformat(timespec="seconds"),
                "size": args.size, "seconds": round(time.monotonic() - started, 1),
                "machine": machine(), "results": [r.to_json() for r in results]}
    args.output.mkdir(parents=True, exist_ok=True)
    path = args.output / "latest.json"
    path.write_text(json.dumps(document, indent=2) + "\n")
    print(f"wrote {path}")
    if not args.no_docs:
        from .report import write_report

        write_report(document, args.docs)
        print(f"wrote {args.docs}")
    unmet = [r.id for r in results if not r.met]
    print(f"{len(results) - len(unmet)} of {len(results)} goals met"
          + (f"; not met: {', '.join(unmet)}" if unmet else ""))
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""`clearance rebuild [--check]`: rebuild every read model from the log (swapped in while the
services run), or compare a fresh rebuild with the live tables (`--check`, nothing replaced).
Prints counts and a digest per table; with `--check`, exit 1 when they differ.

Reads an existing store only: a missing store exits 1 naming the URL, and so does an empty
log (nothing to rebuild: an empty log at EVENT_STORE_URL is far more often the wrong URL than
read models that should be emptied). On a terminal the pass over the log shows a progress bar
on stderr (not with `--json`, nor when piped)."""

from __future__ import annotations

import argparse

from audit.rebuild import check, rebuild

from ..output import Progress, emit_json
from ..store import open_store


def add_parser(subparsers: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    parser = subparsers.add_parser("rebuild", help="rebuild the read models from the log")
    parser.add_argument("--check", action="store_true",
                        help="compare a fresh rebuild with the live tables; replace nothing")
    parser.add_argument("--json", action="store_true", help="machine-readable output")
    parser.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    store = open_store(empty_means="nothing to rebuild", owner=True)
    try:
        total = store.last_position()
        if args.check:
            with Progress("check", total, show=not args.json) as bar:
                report = check(store, progress=bar.callback)
                bar.complete()
            if args.json:
                emit_json(report.to_json())
            else:
                for c in report.comparisons:
                    state = "identical" if c.identical else f"DIFFERENT ({', '.join(c.differing_keys[:5])})"
                    print(f"{c.name:20} live {c.live_rows:>8,} rows  rebuilt {c.rebuilt_rows:>8,}"
                          f" rows  {state}  {c.rebuilt_digest[:16]}")
                print("identical" if report.identical else "the live read models differ from "
                      "the log (a consumer may still be catching up: run again)")
            return 0 if report.identical else 1
        with Progress("rebuild", total, show=not args.json) as bar:
            result = rebuild(store, progress=bar.callback)
            bar.complete()
    finally:
        store.close()
    if args.json:
        emit_json(result.to_json())
    else:
        for table in result.tables:
            print(f"{table.name:20} {table.rows:>8,} rows  sha256 {table.digest}")
        print(f"rebuilt from {result.events:,} events in {result.seconds:.2f}s "
              f"(to position {result.last_position:,}); swapped in")
    return 0

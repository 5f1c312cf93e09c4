"""`clearance verify [--decisions]`: the whole log's hash chain, positions, stream versions and
immutability triggers; with `--decisions`, every risk decision and duty assessment re-derived
from its recorded inputs (reference data from REFERENCE_DATA_DIR, RISK_RULESET_DIR and
RISK_AEO_DIR, as the services read them).

Reads an existing store only: a missing or empty one exits 1 naming the URL. On a terminal
each pass over the log shows a progress bar on stderr (not with `--json`, nor when piped)."""

from __future__ import annotations

import argparse
import os

from audit.decisions import ReplayReference, replay_decisions
from shared.eventstore.verify import verify_log

from ..output import Progress, emit_json
from ..store import open_store


def add_parser(subparsers: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    parser = subparsers.add_parser(
        "verify", help="check the log's hash chain and immutability; exit 1 when broken")
    parser.add_argument("--json", action="store_true", help="machine-readable output")
    parser.add_argument("--decisions", action="store_true",
                        help="also re-derive every risk decision and duty assessment")
    parser.add_argument("--all-problems", action="store_true",
                        help="keep going after the first problem")
    parser.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    store = open_store()
    decisions = None
    try:
        total = store.last_position()
        with Progress("verify", total, show=not args.json) as bar:
            result = verify_log(store, progress=bar.callback,
                                stop_at_first=not args.all_problems)
            if result.ok:
                bar.complete()
        if args.decisions:
            reference = ReplayReference.from_settings(os.environ)
            with Progress("decisions", total, show=not args.json) as bar:
                decisions = replay_decisions(store, reference, progress=bar.callback)
                bar.complete()
    finally:
        store.close()
    ok = result.ok and (decisions is None or decisions.ok)
    if args.json:
        body = result.to_json()
        if decisions is not None:
            body["decisions"] = decisions.to_json()
            body["ok"] = ok
        emit_json(body)
    elif result.ok:
        print(f"OK: {result.events_checked:,} events, hash chain intact up to position "
              f"{result.last_position:,}, immutability triggers present")
    else:
        print(f"BROKEN: first bad position {result.first_bad_position} "
              f"({result.events_checked:,} events checked before it)")
        for problem in result.problems:
            where = "-" if problem.position is None else problem.position
            print(f"  position {where}: {problem.kind}: {problem.detail}")
    if decisions is not None and not args.json:
        print(f"decisions: {decisions.risk_checked:,} risk decisions and "
              f"{decisions.duty_checked:,} duty assessments re-derived, "
              f"{len(decisions.mismatches)} mismatch(es)")
        for mismatch in decisions.mismatches:
            print(f"  position {mismatch.position}: {mismatch.event_type} of "
                  f"{mismatch.consignment_id}: {mismatch.detail}")
    return 0 if ok else 1

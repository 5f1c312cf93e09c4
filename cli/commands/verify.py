"""`clearance verify`: the whole log's hash chain, positions, stream versions and triggers."""

from __future__ import annotations

import argparse

from shared.eventstore import EventStore
from shared.eventstore.verify import verify_log

from ..output import Progress, emit_json


def add_parser(subparsers: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    parser = subparsers.add_parser(
        "verify", help="check the log's hash chain and immutability; exit 1 when broken")
    parser.add_argument("--json", action="store_true", help="machine-readable output")
    parser.add_argument("--all-problems", action="store_true",
                        help="keep going after the first problem")
    parser.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    store = EventStore()
    try:
        result = verify_log(store, progress=None if args.json else Progress("verify"),
                            stop_at_first=not args.all_problems)
    finally:
        store.close()
    if args.json:
        emit_json(result.to_json())
    elif result.ok:
        print(f"OK: {result.events_checked:,} events, hash chain intact up to position "
              f"{result.last_position:,}, immutability triggers present")
    else:
        print(f"BROKEN: first bad position {result.first_bad_position} "
              f"({result.events_checked:,} events checked before it)")
        for problem in result.problems:
            where = "-" if problem.position is None else problem.position
            print(f"  position {where}: {problem.kind}: {problem.detail}")
    return 0 if result.ok else 1

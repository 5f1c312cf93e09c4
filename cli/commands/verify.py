"""`clearance verify [--decisions] [--seal FILE]... [--seals DIR]... [--seal-public-key FILE]`:
the whole log's hash chain, positions, stream versions and immutability triggers (present,
enabled, defined as the migrations define them), and the log against every seal in SEAL_DIR
(default `<var>/seals/<store>/`) and every seal given: a seal that does not verify with the
public key (SEAL_PUBLIC_KEY_FILE, default the development one), a rewrite (the first position
that differs from a seal) or a truncation (the first position missing before a seal's) exits
1. Needs only the seals, the public key and read access to the log.

With `--decisions`, every risk decision and duty assessment is re-derived from its recorded
inputs (reference data from REFERENCE_DATA_DIR, RISK_RULESET_DIR and RISK_AEO_DIR, as the
services read them); with RISK_DRAW_KEY (and RISK_DRAW_KEY_ID if set by hand) the random draws
are re-derived too, and draws made under another key are reported as not re-derivable (exit 1).

Reads an existing store only: a missing or empty one exits 1 naming the URL. On a terminal
each pass over the log shows a progress bar on stderr (not with `--json`, nor when piped)."""

from __future__ import annotations

import argparse
import os
from pathlib import Path

from audit.decisions import ReplayReference, replay_decisions
from shared.eventstore import EventStore
from shared.eventstore.verify import VerificationResult, verify_log
from shared.integrity.seals import (
    SealError,
    SealSet,
    load_public_key,
    public_key_path,
    seal_dir,
    seal_files,
)

from ..output import Failed, Progress, emit_json
from ..store import open_store


def add_parser(subparsers: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    parser = subparsers.add_parser(
        "verify", help="check the log's hash chain and immutability; exit 1 when broken")
    parser.add_argument("--json", action="store_true", help="machine-readable output")
    parser.add_argument("--decisions", action="store_true",
                        help="also re-derive every risk decision and duty assessment")
    parser.add_argument("--all-problems", action="store_true",
                        help="keep going after the first problem")
    parser.add_argument("--seal", action="append", default=[], metavar="FILE",
                        help="also check the log against this seal (repeatable)")
    parser.add_argument("--seals", action="append", default=[], metavar="DIR",
                        help="also check the log against every seal in DIR (repeatable)")
    parser.add_argument("--seal-public-key", metavar="FILE",
                        help="the seals' public key (default SEAL_PUBLIC_KEY_FILE)")
    parser.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    store = open_store()
    decisions = None
    try:
        total = store.last_position()
        seals = _seals(args, store)
        with Progress("verify", total, show=not args.json) as bar:
            result = verify_log(store, progress=bar.callback,
                                stop_at_first=not args.all_problems, seals=seals)
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
              f"{result.last_position:,}, immutability triggers present and enabled, "
              f"{_seals_said(result)}")
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
        print(f"  {decisions.draws_rederived:,} random draws re-derived, "
              f"{len(decisions.not_rederivable)} not re-derivable with the key given")
        for missing in decisions.not_rederivable:
            print(f"  position {missing.position}: RiskAssessed of {missing.consignment_id}: "
                  f"{missing.detail}")
    return 0 if ok else 1


def _seals(args: argparse.Namespace, store: EventStore) -> SealSet:
    """Every seal in SEAL_DIR and given, with the public key (Failed: a key or a folder given
    that cannot be read)."""
    paths = seal_files(seal_dir(store.url))
    for folder in args.seals:
        if not Path(folder).is_dir():
            raise Failed(f"no seal folder at {folder}")
        paths += seal_files(Path(folder))
    for file in args.seal:
        if not Path(file).is_file():
            raise Failed(f"no seal file at {file}")
        paths.append(Path(file))
    key_path = public_key_path(args.seal_public_key)
    try:
        public_key = None if key_path is None else load_public_key(key_path)
    except SealError as exc:
        raise Failed(str(exc)) from None
    return SealSet.load(paths, public_key)


def _seals_said(result: VerificationResult) -> str:
    seals = result.seals
    if not seals.checked:
        return "no seal to check against"
    return (f"matches {seals.checked:,} seal(s) up to position {seals.latest_position:,} "
            f"(key {seals.key_id})")

"""`clearance accounts`: the revenue ledger from the log.

    clearance accounts [--json]
    clearance accounts export --date YYYY-MM-DD [--output FILE]

Without an action: each deferment and guarantee account (limit, charged in the current
period, reserved, available, charges waiting for balance), folded from its own stream; the
double-entry ledger's balances by class (`receivable`, `revenue:duty`, `revenue:vat`, `cash`,
`deferment`, `repayable`, `guarantee`, `guarantee-cover`; see
`services/payment/domain/journal.py`); and the checks: every entry balances, the ledger sums
to zero, each account's ledger balance equals its own fold.

`export --date DAY`: the daily accounting export for finance, a CSV with one row per posting
of the entries recorded that day (UTC) and a last `TOTAL` row whose debits equal its credits;
to FILE, or stdout.

Exit 0; 1 when there is no store or no event at EVENT_STORE_URL, a check fails, or the
file cannot be written; 2 on bad usage. A progress bar on stderr on a terminal (not with
`--json`, nor when piped).
"""

from __future__ import annotations

import argparse
import sys
from datetime import date
from pathlib import Path
from typing import Any

from audit.revenue import Revenue, export_csv, read_revenue, summary

from ..output import Failed, Progress, UsageError, emit_json
from ..store import open_store


def day(text: str) -> date:
    try:
        return date.fromisoformat(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a date (YYYY-MM-DD): {text!r}") from None


def add_parser(subparsers: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    parser = subparsers.add_parser(
        "accounts", help="deferment and guarantee accounts, the revenue ledger, its export",
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("action", nargs="?", choices=["export"], default=None,
                        help="export: the daily accounting CSV")
    parser.add_argument("--json", action="store_true", help="machine-readable output")
    parser.add_argument("--date", type=day, default=None, metavar="YYYY-MM-DD",
                        help="with export: the day (UTC) whose entries are exported")
    parser.add_argument("--output", type=Path, default=None, metavar="FILE",
                        help="with export: the CSV file (default: stdout)")
    parser.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    if args.action == "export" and args.date is None:
        raise UsageError("export needs --date YYYY-MM-DD")
    if args.action is None and (args.date is not None or args.output is not None):
        raise UsageError("--date and --output go with export")
    store = open_store()
    # The bar is on stderr: not with --json, nor when the CSV itself goes to stdout.
    show = not args.json and not (args.action == "export" and args.output is None)
    try:
        with Progress("accounts", store.last_position(), show=show) as bar:
            revenue = read_revenue(store, progress=bar.callback)
            bar.complete()
    finally:
        store.close()
    if args.action == "export":
        return export(revenue, args.date, args.output)
    report = summary(revenue)
    if args.json:
        emit_json(report)
    else:
        print_summary(report)
    if report["problems"]:
        raise Failed("the revenue ledger does not hold: " + "; ".join(report["problems"]))
    return 0


def export(revenue: Revenue, on: date, output: Path | None) -> int:
    entries = revenue.entries_on(on)
    if output is None:
        export_csv(entries, revenue.currency, sys.stdout)
        return 0
    try:
        with output.open("w", encoding="utf-8", newline="") as out:
            debits, credits = export_csv(entries, revenue.currency, out)
    except OSError as exc:
        raise Failed(f"cannot write {output}: {exc.strerror or exc}") from None
    print(f"{output}: {len(entries)} entries of {on.isoformat()}, {debits} debit = "
          f"{credits} credit {revenue.currency}")
    return 0


def print_summary(report: dict[str, Any]) -> None:
    currency = report["currency"]
    print(f"Accounts ({currency})")
    if not report["accounts"]:
        print("  none")
    for a in report["accounts"]:
        closed = "  closed" if a["closed"] else ""
        print(f"  {a['number']:<16} {a['type']:<10} {a['holder_eori']:<17} "
              f"limit {a['limit']:>12}  charged {a['charged']:>12}  reserved {a['reserved']:>12}"
              f"  available {a['available']:>12}  waiting {a['waiting']}{closed}")
    print(f"\nLedger balances by class ({report['entries']} entries; debit +, credit -)")
    for name, amount in report["ledger"].items():
        print(f"  {name:<18} {amount:>16}")
    print("\nChecks: " + ("every entry balances, the ledger sums to 0, each account agrees "
                         "with its fold" if not report["problems"] else "FAILED"))

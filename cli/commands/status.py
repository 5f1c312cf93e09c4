"""`clearance status MRN`: the current status of a declaration."""

from __future__ import annotations

import argparse
import sys

from ..http import call, describe_problem
from ..output import emit_json


def add_parser(subparsers: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    parser = subparsers.add_parser("status", help="the current status of a declaration")
    parser.add_argument("mrn")
    parser.add_argument("--json", action="store_true", help="machine-readable output")
    parser.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    reply = call("declaration", "GET", f"/declarations/{args.mrn}")
    if args.json:
        emit_json(reply.body)
    elif reply.ok:
        view = reply.body
        print(f"MRN        {view['mrn']}  (LRN {view['lrn']}, version {view['version']})")
        print(f"status     {view['status']['name']} ({view['status']['code']})")
        print(f"lane       {view['lane'] or '-'}")
        if view["amount_due"] is not None:
            print(f"amount     due {view['amount_due']} {view['currency']}, "
                  f"paid {view['amount_paid']} {view['currency']}")
        print(f"released   {view['released_at'] or '-'}")
    else:
        print(describe_problem(reply), file=sys.stderr)
    return 0 if reply.ok else 1

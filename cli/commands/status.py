"""`clearance status MRN`: the current status of a declaration.

Exit 2 when MRN is not an MRN (its format or its check character: a mistyped MRN can name no
declaration), 1 when the declaration service does not know it (or it is another party's),
cannot be reached, or answers 401 (no valid token: `--token` or $CLEARANCE_TOKEN) or 403."""

from __future__ import annotations

import argparse
import sys

from services.declaration.domain.identifiers import is_valid_mrn

from ..http import add_token_option, call, describe_problem, token_of
from ..output import UsageError, emit_json


def add_parser(subparsers: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    parser = subparsers.add_parser("status", help="the current status of a declaration")
    parser.add_argument("mrn", metavar="MRN")
    parser.add_argument("--json", action="store_true", help="machine-readable output")
    add_token_option(parser)
    parser.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    mrn = args.mrn.strip().upper()
    if not is_valid_mrn(mrn):
        raise UsageError(f"{args.mrn!r} is not an MRN (18 characters, e.g. 26GB3ZP7Q2M9XABER4, "
                         "the last a check character)")
    reply = call("declaration", "GET", f"/declarations/{mrn}", token=token_of(args))
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
    if args.json and reply.status in (401, 403):  # the JSON on stdout, and the reason here
        print(describe_problem(reply), file=sys.stderr)
    return 0 if reply.ok else 1

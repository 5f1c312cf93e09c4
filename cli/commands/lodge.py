"""`clearance lodge FILE`: lodge a declaration document; prints the MRN and status.

Exit 1 when FILE cannot be read (a missing file is a missing thing, not bad usage), when the
service refuses the document (the problem and its field pointers on stderr) or cannot be
reached, or answers 401 (no valid token: `--token` or $CLEARANCE_TOKEN) or 403 (the token's
caller may not lodge this declaration)."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from ..http import add_token_option, call, describe_problem, token_of
from ..output import emit_json, error


def add_parser(subparsers: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    parser = subparsers.add_parser("lodge", help="lodge a declaration document (JSON file, - for stdin)")
    parser.add_argument("file", help="the declaration document (see CONTRACT.md)")
    parser.add_argument("--json", action="store_true", help="machine-readable output")
    add_token_option(parser)
    parser.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    try:
        raw = sys.stdin.buffer.read() if args.file == "-" else Path(args.file).read_bytes()
    except OSError as exc:
        error(f"cannot read {args.file}: {exc.strerror}")
        return 1
    reply = call("declaration", "POST", "/declarations", raw=raw, token=token_of(args))
    if args.json:
        emit_json({"http_status": reply.status, **(reply.body if isinstance(reply.body, dict)
                                                   else {"body": reply.body})})
    elif reply.ok:
        again = " (already lodged: same LRN, same payload)" if reply.status == 200 else ""
        status = reply.body["status"]
        print(f"{reply.body['mrn']}  {status['name']} ({status['code']}){again}")
    else:
        print(describe_problem(reply), file=sys.stderr)
    if args.json and reply.status in (401, 403):  # the JSON on stdout, and the reason here
        print(describe_problem(reply), file=sys.stderr)
    return 0 if reply.ok else 1

"""`clearance history CONSIGNMENT_OR_MRN`: the full ordered history across all services.

    clearance history 26GBK2M9Q4R8T1X5R5                  # a table in log order
    clearance history <consignment id> --json             # the contract's JSON
    clearance history 26GBK2M9Q4R8T1X5R5 --csv > h.csv    # one row per event
    clearance history 26GBK2M9Q4R8T1X5R5 --html h.html    # a self-contained timeline page
    clearance history 26GBK2M9Q4R8T1X5R5 --as-of 2026-11-29T10:20:00Z

`--as-of TIME` keeps the events recorded at or before TIME (ISO 8601; without a timezone it
is UTC) and shows the status and key facts as they stood then. Exit 1 when the consignment or
MRN is unknown, or when there is no store or no event at EVENT_STORE_URL (nothing is
created); a known consignment with nothing recorded yet at TIME is answered (status null) with
exit 0; a malformed TIME exits 2. Reads the store named by EVENT_STORE_URL.

No progress bar: a history is read by index, its cost the consignment's rather than the log's.
Only the MRN fallback (no status projection row for it) scans the log's acceptances, and
`audit.history.resolve` takes no progress callback.
"""

from __future__ import annotations

import argparse
import sys
from datetime import UTC, datetime
from pathlib import Path

from audit.history import history, render, resolve, to_json

from ..output import emit_json, error
from ..store import open_store


def parse_time(text: str) -> datetime:
    """ISO 8601 date or date-time; naive means UTC."""
    value = text.strip()
    if value.endswith(("z", "Z")):
        value = value[:-1] + "+00:00"
    try:
        parsed = datetime.fromisoformat(value)
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"{text!r} is not an ISO 8601 time (e.g. 2026-11-29T10:15:00Z)") from None
    if parsed.tzinfo is None:
        return parsed.replace(tzinfo=UTC)
    return parsed.astimezone(UTC)


def add_parser(subparsers: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    parser = subparsers.add_parser(
        "history", help="the full ordered history of a consignment across all services",
        description="Every event of one consignment (by MRN or consignment id), in log order.")
    parser.add_argument("consignment", metavar="CONSIGNMENT_OR_MRN",
                        help="a consignment id or an MRN")
    parser.add_argument("--as-of", type=parse_time, default=None, metavar="TIME",
                        help="only events recorded at or before TIME (ISO 8601, UTC if no zone)"
                             ", with the status as it stood then")
    formats = parser.add_mutually_exclusive_group()
    formats.add_argument("--json", action="store_true", help="machine-readable output")
    formats.add_argument("--csv", action="store_true", help="one CSV row per event")
    parser.add_argument("--html", metavar="FILE", default=None,
                        help="also write a self-contained HTML timeline page to FILE")
    parser.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    store = open_store()
    try:
        consignment_id = resolve(store, args.consignment)
        if consignment_id is None:
            error(f"no consignment or declaration {args.consignment!r} in the log")
            return 1
        result = history(store, consignment_id, as_of=args.as_of)
    finally:
        store.close()
    if args.html:
        try:
            Path(args.html).write_text(render(result, "html"), encoding="utf-8")
        except OSError as exc:
            error(f"cannot write {args.html}: {exc.strerror}")
            return 1
        print(f"clearance: wrote {args.html} ({len(result.events)} events)", file=sys.stderr)
    if args.json:
        emit_json(to_json(result))
    else:
        sys.stdout.write(render(result, "csv" if args.csv else "text"))
    return 0

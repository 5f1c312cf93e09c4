"""Entry point of `clearance`. Exit codes: 0 success, 1 missing or failed, 2 bad usage."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence

from .commands import history, listen, lodge, parked, rebuild, status, trs, verify
from .http import ServiceUnreachable
from .output import error

COMMANDS = [lodge, status, listen, verify, parked, rebuild, history, trs]


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="clearance",
        description="Open Clearance: lodge declarations, follow them, audit the event log.",
        epilog="The store is EVENT_STORE_URL (default sqlite:///var/clearance.db).",
    )
    subparsers = parser.add_subparsers(dest="command", required=True)
    for command in COMMANDS:
        command.add_parser(subparsers)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        code: int = args.run(args)
    except KeyboardInterrupt:
        return 130
    except ServiceUnreachable as exc:
        error(str(exc))
        return 1
    except Exception as exc:  # the one place CLI errors become messages and exit codes
        error(f"{type(exc).__name__}: {exc}")
        return 1
    return code


if __name__ == "__main__":
    sys.exit(main())

"""Entry point of `clearance`: the one place errors become messages and exit codes.

Exit codes, the same for every subcommand:

* 0 -- success.
* 1 -- something named is missing, or the work failed: no event store at EVENT_STORE_URL or
  an empty one (`StoreMissing`), an unknown MRN or consignment, a file that cannot be read or
  written, a service or the broker not reachable, a broken hash chain, a decision that does
  not re-derive, read models that differ from the log, a replay that failed.
* 2 -- bad usage: the command line itself is wrong, whatever the world holds. argparse finds
  most of it (unknown option, a value of the wrong type or form: a malformed `--as-of` time,
  a negative `--from-position`); a subcommand finds the rest and raises `UsageError` (e.g.
  `trs --since` not before `--until`, a malformed MRN, a queue not in the topology). Both
  print the subcommand's usage line and `clearance <command>: error: <why>` on stderr.
* 130 -- interrupted (Ctrl-C).

So a well-formed command line naming something that does not exist exits 1, and a command
line that could never be right exits 2. Messages go to stderr as `clearance: ...`; stdout
carries only the result (JSON with `--json`).
"""

from __future__ import annotations

import argparse
import logging
import sys
from collections.abc import Sequence

from shared.eventstore import StoreMissing
from shared.observability.logging import configure_cli
from shared.settings import DEFAULTS

from .commands import (
    accounts,
    agency,
    history,
    listen,
    lodge,
    migrate,
    parked,
    queues,
    rebuild,
    seal,
    status,
    token,
    trs,
    verify,
)
from .http import ServiceUnreachable
from .output import Failed, UsageError, error

COMMANDS = [lodge, status, listen, verify, seal, parked, queues, rebuild, history, trs, token,
            migrate, agency, accounts]


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="clearance",
        description="Open Clearance: lodge declarations, follow them, audit the event log.",
        epilog=f"The store is EVENT_STORE_URL (default {DEFAULTS['EVENT_STORE_URL']}). "
               "Exit codes: 0 success, 1 missing or failed, 2 bad usage.",
    )
    subparsers = parser.add_subparsers(dest="command", required=True)
    for command in COMMANDS:
        command.add_parser(subparsers)
    for subparser in subparsers.choices.values():
        subparser.set_defaults(subparser=subparser)  # for UsageError, below
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """The `clearance` program (`argv` None: the process's own arguments, and the process's
    logging set up as JSON lines on stderr; tests pass `argv` and keep theirs)."""
    if argv is None:
        configure_cli()
        # pika logs a failed connection at ERROR before raising; the command reports an
        # unreachable broker itself, once, with the address (password hidden).
        logging.getLogger("pika").setLevel(logging.CRITICAL)
    args, unknown = build_parser().parse_known_args(argv)
    if unknown:  # told by the subcommand's parser, with its usage, not the top-level one
        args.subparser.error(f"unrecognized arguments: {' '.join(unknown)}")
    try:
        code: int = args.run(args)
    except KeyboardInterrupt:
        return 130
    except UsageError as exc:  # as argparse reports its own, but returned rather than raised
        subparser: argparse.ArgumentParser = args.subparser
        subparser.print_usage(sys.stderr)
        print(f"{subparser.prog}: error: {exc}", file=sys.stderr)
        return 2
    except (StoreMissing, ServiceUnreachable, Failed) as exc:
        error(str(exc))
        return 1
    except Exception as exc:
        error(f"{type(exc).__name__}: {exc}")
        return 1
    return code


if __name__ == "__main__":
    sys.exit(main())

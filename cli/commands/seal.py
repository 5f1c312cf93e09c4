"""`clearance seal`: placeholder registered in cli/main.py; its owner fills it in."""

from __future__ import annotations

import argparse

from ..output import Failed


def add_parser(subparsers: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    parser = subparsers.add_parser("seal", help="(not yet built)")
    parser.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    raise Failed("clearance seal is not built yet")

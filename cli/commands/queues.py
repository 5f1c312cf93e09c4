"""`clearance queues convert`: make the broker's queues what the topology declares.

The deployment's queues are quorum queues (`services/topology.py`, `QUEUE_TYPE`); a broker
that holds them as classic queues, or with other retry delays or bounds, refuses the services'
declarations (`PRECONDITION_FAILED - inequivalent arg`). `convert` recreates each such queue of
the topology with its arguments and bindings, carrying its messages over, each confirmed before
it is removed from where it was (`shared.messaging.convert`). Queues that match are left alone.

Run it as the operator (AMQP_URI naming a user that may configure every queue), with the
services stopped; `make start` runs it by itself when it finds the local stack stopped. Exit 1
when the broker cannot be reached or refuses.
"""

from __future__ import annotations

import argparse

import amqp.exceptions

from services.topology import TOPOLOGY
from shared.messaging.convert import convert_queues
from shared.settings import setting

from ..output import Failed, emit_json
from .parked import on_broker


def add_parser(subparsers: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    parser = subparsers.add_parser(
        "queues", help="convert the broker's queues to the topology's (e.g. classic to quorum)")
    parser.add_argument("action", choices=["convert"])
    parser.add_argument("--json", action="store_true", help="machine-readable output")
    parser.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    uri = setting("AMQP_URI")
    try:
        converted = on_broker(uri, lambda: convert_queues(uri, TOPOLOGY.all_queue_specs(),
                                                TOPOLOGY.exchanges()))
    except amqp.exceptions.AMQPError as exc:
        raise Failed(f"the broker refused: {exc}") from None
    if args.json:
        emit_json([{"queue": c.queue, "moved": c.moved} for c in converted])
        return 0
    for conversion in converted:
        print(f"converted {conversion.queue} ({conversion.moved} messages carried over)")
    if not converted:
        print("every queue of the topology already matches (or does not exist yet)")
    return 0

"""`clearance parked list|replay QUEUE`: the messages a consumer gave up on, and their retry.

A consumer parks a message in `QUEUE.parked` after its last retry (or at once when it cannot
decode it), with the reason. Once the cause is fixed, `replay` moves them back to `QUEUE`
(confirmed by the broker before the parked copy is removed); the consumer's inbox makes a
message that was in fact handled already a no-op. QUEUE is a subscription queue, e.g.
`risk.declarations`; without one, `list` shows every queue of the deployment's topology.
"""

from __future__ import annotations

import argparse
import os

from shared.messaging.parking import list_parked, replay_parked

from ..output import emit_json

DEFAULT_AMQP = "amqp://guest:guest@localhost:5672/"


def add_parser(subparsers: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    parser = subparsers.add_parser("parked", help="list parked messages, or replay them")
    parser.add_argument("action", choices=["list", "replay"])
    parser.add_argument("queue", nargs="?", help="subscription queue, e.g. risk.declarations")
    parser.add_argument("--limit", type=int, default=None, help="at most this many")
    parser.add_argument("--event-id", action="append", default=None,
                        help="replay only these events (repeatable)")
    parser.add_argument("--json", action="store_true", help="machine-readable output")
    parser.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    uri = os.environ.get("AMQP_URI", DEFAULT_AMQP)
    if args.action == "replay":
        if not args.queue:
            raise SystemExit("clearance parked replay: name the QUEUE to replay into")
        result = replay_parked(uri, args.queue, limit=args.limit, event_ids=args.event_id)
        if args.json:
            emit_json({"queue": result.queue, "replayed": result.replayed,
                       "failed": result.failed, "skipped": result.skipped,
                       "remaining": result.remaining})
        else:
            print(f"{result.queue}: {result.replayed} replayed, {result.failed} failed, "
                  f"{result.remaining} still parked")
        return 0 if result.failed == 0 else 1
    from services.topology import SUBSCRIPTIONS

    queues = [args.queue] if args.queue else list(SUBSCRIPTIONS)
    listings = [list_parked(uri, queue, limit=args.limit or 100) for queue in queues]
    if args.json:
        emit_json([{"queue": x.queue, "count": x.count, "reasons": dict(x.reasons),
                    "messages": [{"event_id": m.message_id, "type": m.event_type,
                                  "consignment_id": m.correlation_id, "reason": m.reason,
                                  "attempts": m.attempts, "parked_at": m.parked_at}
                                 for m in x.messages]} for x in listings])
        return 0
    for listing in listings:
        print(f"{listing.queue}: {listing.count} parked")
        for message in listing.messages:
            print(f"  {message.parked_at or '-'}  {message.event_type or '?'}  "
                  f"event {message.message_id}  consignment {message.correlation_id}  "
                  f"after {message.attempts} attempts: {message.reason}")
    return 0

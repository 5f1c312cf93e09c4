"""`clearance parked list|replay|prune [QUEUE]`: the messages a consumer gave up on, their
retry, and the retry queues a former version left behind.

A consumer parks a message in `QUEUE.parked` after its last retry (or at once when it cannot
decode it), with the reason. Once the cause is fixed, `replay` moves them back to `QUEUE`
(confirmed by the broker before the parked copy is removed); the consumer's inbox makes a
message that was in fact handled already a no-op. QUEUE is a subscription queue, e.g.
`risk.declarations`; without one, `list` shows every queue of the deployment's topology.

`prune` deletes the former retry queues (`QUEUE.retry.N`, replaced by `QUEUE.delay.N`) that an
upgraded broker still holds, once they are empty; one still holding a message in flight is
kept (its TTL brings the message back to its queue: prune again later). It needs configure
permission on them: run it as the operator.

The broker is AMQP_URI (shared/settings.py). Exit 2 on bad usage (`replay` without QUEUE, a
QUEUE that is not a subscription queue of the topology, `--event-id` without `replay`, a
`--limit` below 1, `prune` with a QUEUE); 1 when the broker cannot be reached, a parking queue does not exist yet
(no service has declared it), or a replay failed.
"""

from __future__ import annotations

import argparse
from collections.abc import Callable
from typing import Any, TypeVar

import amqp.exceptions

from services.topology import SUBSCRIPTIONS, TOPOLOGY
from shared.messaging.parking import list_parked, replay_parked
from shared.messaging.publisher import close_quietly, connect
from shared.messaging.topology import delete_obsolete
from shared.settings import setting

from ..http import ServiceUnreachable, shown_uri
from ..output import Failed, UsageError, emit_json, positive_int

T = TypeVar("T")


def add_parser(subparsers: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    parser = subparsers.add_parser(
        "parked", help="list parked messages, replay them, or prune former retry queues")
    parser.add_argument("action", choices=["list", "replay", "prune"])
    parser.add_argument("queue", nargs="?", help="subscription queue, e.g. risk.declarations")
    parser.add_argument("--limit", type=positive_int, default=None, metavar="N",
                        help="at most this many")
    parser.add_argument("--event-id", action="append", default=None,
                        help="replay only these events (repeatable)")
    parser.add_argument("--json", action="store_true", help="machine-readable output")
    parser.set_defaults(run=run)


def check_usage(args: argparse.Namespace) -> None:
    if args.action == "replay" and not args.queue:
        raise UsageError("name the QUEUE to replay into")
    if args.action == "prune" and args.queue:
        raise UsageError("prune takes no QUEUE: it prunes the whole deployment's topology")
    if args.event_id and args.action != "replay":
        raise UsageError("--event-id selects messages to replay: use it with replay")
    if args.queue and args.queue not in SUBSCRIPTIONS:
        hint = (f"the subscription queue is {args.queue.removesuffix('.parked')!r}; "
                if args.queue.removesuffix(".parked") in SUBSCRIPTIONS else "")
        raise UsageError(f"{args.queue!r} is not a subscription queue ({hint}one of "
                         f"{', '.join(SUBSCRIPTIONS)})")


def on_broker(uri: str, work: Callable[[], T]) -> T:
    """`work()`, its broker failures told as such (exit 1)."""
    try:
        return work()
    except amqp.exceptions.NotFound as exc:
        raise Failed(f"{exc.reply_text or exc}: no service has declared it yet "
                     "(make start)") from None
    except OSError as exc:
        raise ServiceUnreachable(f"the broker at {shown_uri(uri)} is not reachable ({exc}); "
                                 "is RabbitMQ running?") from None


def run(args: argparse.Namespace) -> int:
    check_usage(args)
    uri = setting("AMQP_URI")
    if args.action == "replay":
        queue: str = args.queue
        result = on_broker(uri, lambda: replay_parked(uri, queue, limit=args.limit,
                                                      event_ids=args.event_id))
        if args.json:
            emit_json({"queue": result.queue, "replayed": result.replayed,
                       "failed": result.failed, "skipped": result.skipped,
                       "remaining": result.remaining})
        else:
            print(f"{result.queue}: {result.replayed} replayed, {result.failed} failed, "
                  f"{result.remaining} still parked")
        return 0 if result.failed == 0 else 1
    if args.action == "prune":
        return prune(uri, as_json=args.json)
    queues = [args.queue] if args.queue else list(SUBSCRIPTIONS)
    listings = on_broker(uri, lambda: [list_parked(uri, queue, limit=args.limit or 100)
                                       for queue in queues])
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


def prune(uri: str, *, as_json: bool) -> int:
    """Delete the empty former retry queues of the topology; say which were deleted and
    which are kept (still holding messages)."""

    def work() -> tuple[list[str], list[str]]:
        connection = connect(uri)
        try:
            deleted = delete_obsolete(connection.channel(), TOPOLOGY)
            kept = [name for name in TOPOLOGY.obsolete_queues()
                    if name not in deleted and _exists(connection, name)]
        finally:
            close_quietly(connection)
        return deleted, kept

    deleted, kept = on_broker(uri, work)
    if as_json:
        emit_json({"deleted": deleted, "kept": kept})
        return 0
    for name in deleted:
        print(f"deleted {name}")
    for name in kept:
        print(f"kept {name}: it still holds messages on their way back; prune again later")
    if not deleted and not kept:
        print("no former retry queue left")
    return 0


def _exists(connection: Any, name: str) -> bool:
    channel = connection.channel()
    try:
        channel.queue_declare(name, passive=True)
    except amqp.exceptions.NotFound:
        return False  # the broker closed that channel
    channel.close()
    return True

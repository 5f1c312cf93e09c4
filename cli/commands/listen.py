"""`clearance listen`: consume release notifications as a partner agency would (plain pika).

Binds a queue to the topic exchange `clearance.releases` (all notifications, or `--bind` a
pattern such as `GBLHR001.#`), then, with `--from-position N`, first re-reads the notifications
after log position N from the release service (`GET /notifications?after=N`) so nothing is
missed while the agency was offline; live messages already printed are skipped by
`notification_id`. Stops after `--count` notifications or `--idle` seconds without one.

The broker is AMQP_URI and the release service RELEASE_HTTP (shared/settings.py). Exit 2 on
bad usage (a negative `--from-position`, a `--count` or `--idle` that is not positive), 1 when
the broker or the release service cannot be reached or answers an error.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from typing import Any

import pika
import pika.exceptions

from shared.settings import setting

from ..http import (
    ServiceUnreachable,
    add_token_option,
    call,
    describe_problem,
    shown_uri,
    token_of,
)
from ..output import natural, positive_float, positive_int

EXCHANGE = "clearance.releases"


def add_parser(subparsers: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    parser = subparsers.add_parser("listen", help="print release notifications as they come")
    parser.add_argument("--from-position", type=natural, default=None, metavar="N",
                        help="first re-read the notifications after log position N")
    parser.add_argument("--bind", action="append", default=None, metavar="PATTERN",
                        help="routing-key pattern <office>.<transport_mode>.<lane> (default #)")
    parser.add_argument("--queue", default="",
                        help="a durable queue name of the agency's own (default: a temporary one)")
    parser.add_argument("--count", type=positive_int, default=None, metavar="N",
                        help="stop after N notifications")
    parser.add_argument("--idle", type=positive_float, default=None, metavar="SECONDS",
                        help="stop after this many seconds without a notification")
    parser.add_argument("--json", action="store_true", help="one JSON object per line")
    add_token_option(parser)
    parser.set_defaults(run=run)


def show(notification: dict[str, Any], as_json: bool) -> None:
    if as_json:
        print(json.dumps(notification, sort_keys=True), flush=True)
    else:
        print(f"{notification['released_at']}  RELEASED  {notification['mrn']}  "
              f"office {notification['office']}  {notification['transport_mode']}  "
              f"lane {notification['lane']}  position {notification.get('position', '-')}",
              flush=True)


def run(args: argparse.Namespace) -> int:
    uri = setting("AMQP_URI")
    try:
        connection = pika.BlockingConnection(pika.URLParameters(uri))
    except pika.exceptions.AMQPConnectionError as exc:
        raise ServiceUnreachable(f"the broker at {shown_uri(uri)} is not reachable "
                                 f"({exc!r}); is RabbitMQ running?") from None
    channel = connection.channel()
    channel.exchange_declare(EXCHANGE, exchange_type="topic", durable=True)
    durable = bool(args.queue)
    queue = channel.queue_declare(args.queue, durable=durable, exclusive=not durable,
                                  auto_delete=not durable).method.queue
    for pattern in args.bind or ["#"]:
        channel.queue_bind(queue, EXCHANGE, routing_key=pattern)

    seen: set[str] = set()
    shown = 0
    if args.from_position is not None:
        after = args.from_position
        while True:
            reply = call("release", "GET", f"/notifications?after={after}&limit=1000",
                         token=token_of(args))
            if not reply.ok:
                print(describe_problem(reply), file=sys.stderr)
                return 1
            for notification in reply.body["notifications"]:
                seen.add(notification["notification_id"])
                show(notification, args.json)
                shown += 1
                if args.count is not None and shown >= args.count:
                    connection.close()
                    return 0
            if not reply.body["notifications"]:
                break
            after = reply.body["next_after"]

    last = time.monotonic()
    try:
        for method, _properties, body in channel.consume(queue, inactivity_timeout=0.5):
            if method is None:
                if args.idle is not None and time.monotonic() - last > args.idle:
                    break
                continue
            last = time.monotonic()
            notification = json.loads(body)
            channel.basic_ack(method.delivery_tag)
            if notification["notification_id"] in seen:
                continue
            seen.add(notification["notification_id"])
            show(notification, args.json)
            shown += 1
            if args.count is not None and shown >= args.count:
                break
    except KeyboardInterrupt:
        pass
    finally:
        if connection.is_open:
            connection.close()
    return 0

"""`clearance listen`: consume release notifications as a partner agency would (plain pika).

Two ways to get the messages of the topic exchange `clearance.releases` (routing key
`<office>.<transport_mode>`, docs/asyncapi.yaml):

- `--queue NAME` naming a queue that already exists, such as the durable `agency.<code>` that
  `clearance agency add CODE --bind PATTERN` made: it is only checked (a passive declare) and
  consumed. Nothing is declared or bound, so a broker user that may only read its own queue
  is enough. `--bind` adds bindings to it, which needs configure/write permissions.
- otherwise a queue of its own: the durable `--queue NAME` when it does not exist yet, else a
  temporary one, bound with each `--bind` pattern (default `#`: everything), e.g.
  `GBLHR001.*` for one office or `*.sea` for sea freight.

With `--from-position N` it first re-reads the notifications after log position N from the
release service (`GET /notifications?after=N`) so nothing is missed while the agency was
offline; live messages already printed are skipped by `notification_id`. Stops after
`--count` notifications or `--idle` seconds without one.

Notifications carry no selectivity lane (schema version 2). A version 1 message still
waiting in a queue from before the upgrade is shown without its `lane` too.

An agency of the register also gets its own feed in its queue `agency.<code>` (exchange
`clearance.agencies`): hold requests (AMQP type `HoldRequest`) and refusals
(`ReleaseRefusal`) beside the releases; they are shown too, from the queue and from
`--from-position` alike (deduplicated on `message_id`).

The broker is AMQP_URI and the release service RELEASE_HTTP (shared/settings.py). Exit 2 on
bad usage (a negative `--from-position`, a `--count` or `--idle` that is not positive), 1 when
the broker or the release service cannot be reached or answers an error, or the broker
refuses what was asked (a `--bind` without the permission to bind).
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
from ..output import Failed, natural, positive_float, positive_int

EXCHANGE = "clearance.releases"


def add_parser(subparsers: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    parser = subparsers.add_parser("listen", help="print release notifications as they come")
    parser.add_argument("--from-position", type=natural, default=None, metavar="N",
                        help="first re-read the notifications after log position N")
    parser.add_argument("--bind", action="append", default=None, metavar="PATTERN",
                        help="routing-key pattern over <office>.<transport_mode>, e.g. "
                             "'GBLHR001.*' (default # for a queue listen makes; none added to "
                             "an existing --queue)")
    parser.add_argument("--queue", default="",
                        help="the agency's durable queue: consumed as it is when it exists "
                             "(read permission is enough), else made (default: a temporary "
                             "queue)")
    parser.add_argument("--count", type=positive_int, default=None, metavar="N",
                        help="stop after N notifications")
    parser.add_argument("--idle", type=positive_float, default=None, metavar="SECONDS",
                        help="stop after this many seconds without a notification")
    parser.add_argument("--json", action="store_true", help="one JSON object per line")
    add_token_option(parser)
    parser.set_defaults(run=run)


# What a notification may not show, even one published before schema version 2.
WITHHELD = ("lane",)


def public(notification: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in notification.items() if k not in WITHHELD}


# The AMQP `type` of each message, and the list of `GET /notifications` that carries it.
KINDS = {"ReleaseNotification": "notifications", "HoldRequest": "hold_requests",
         "ReleaseRefusal": "refusals"}


def message_key(message: dict[str, Any]) -> str:
    """What a message is deduplicated on: the notification id of a release, the message id
    of an agency's hold request or refusal."""
    return str(message.get("notification_id") or message.get("message_id"))


def show(notification: dict[str, Any], as_json: bool,
         kind: str = "ReleaseNotification") -> None:
    notification = public(notification)
    if as_json:
        print(json.dumps(notification, sort_keys=True), flush=True)
    elif kind == "HoldRequest":
        items = ", ".join(f"{i['item']}: {i['hs_code']} from {i['origin']}"
                          for i in notification["items"])
        print(f"{notification['placed_at']}  HOLD      {notification['mrn']}  "
              f"for {notification['agency']}  due {notification['due_at']}  items {items}  "
              f"position {notification.get('position', '-')}", flush=True)
    elif kind == "ReleaseRefusal":
        by = notification["agency"] or notification["refused_by"]
        print(f"{notification['refused_at']}  REFUSED   {notification['mrn']}  by {by}  "
              f"position {notification.get('position', '-')}", flush=True)
    else:
        print(f"{notification['released_at']}  RELEASED  {notification['mrn']}  "
              f"office {notification['office']}  {notification['transport_mode']}  "
              f"version {notification['declaration_version']}  "
              f"position {notification.get('position', '-')}",
              flush=True)


def existing_queue(connection: Any, name: str) -> Any | None:
    """A channel on which the queue `name` was found (passive declare: no permission needed),
    or None when it does not exist (the broker closes the channel that asked)."""
    channel = connection.channel()
    try:
        channel.queue_declare(name, passive=True)
    except pika.exceptions.ChannelClosedByBroker as exc:
        if exc.reply_code == 404:
            return None
        raise
    return channel


def attach(connection: Any, args: argparse.Namespace) -> tuple[Any, str]:
    """The channel and queue to consume, set up as the module docstring says."""
    if args.queue:
        channel = existing_queue(connection, args.queue)
        if channel is not None:
            for pattern in args.bind or []:
                channel.queue_bind(args.queue, EXCHANGE, routing_key=pattern)
            return channel, args.queue
    channel = connection.channel()
    channel.exchange_declare(EXCHANGE, exchange_type="topic", durable=True)
    durable = bool(args.queue)
    queue = channel.queue_declare(args.queue, durable=durable, exclusive=not durable,
                                  auto_delete=not durable).method.queue
    for pattern in args.bind or ["#"]:
        channel.queue_bind(queue, EXCHANGE, routing_key=pattern)
    return channel, queue


def run(args: argparse.Namespace) -> int:
    uri = setting("AMQP_URI")
    try:
        connection = pika.BlockingConnection(pika.URLParameters(uri))
    except pika.exceptions.AMQPConnectionError as exc:
        raise ServiceUnreachable(f"the broker at {shown_uri(uri)} is not reachable "
                                 f"({exc!r}); is RabbitMQ running?") from None
    try:
        channel, queue = attach(connection, args)
    except pika.exceptions.ChannelClosedByBroker as exc:
        connection.close()
        raise Failed(f"the broker refused to set up the queue: {exc.reply_text}") from None

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
            page = sorted(((kind, message) for kind, field in KINDS.items()
                           for message in reply.body.get(field, [])),
                          key=lambda pair: pair[1]["position"])
            for kind, message in page:
                seen.add(message_key(message))
                show(message, args.json, kind)
                shown += 1
                if args.count is not None and shown >= args.count:
                    connection.close()
                    return 0
            if not page:
                break
            after = reply.body["next_after"]

    last = time.monotonic()
    try:
        for method, properties, body in channel.consume(queue, inactivity_timeout=0.5):
            if method is None:
                if args.idle is not None and time.monotonic() - last > args.idle:
                    break
                continue
            last = time.monotonic()
            notification = json.loads(body)
            channel.basic_ack(method.delivery_tag)
            if message_key(notification) in seen:
                continue
            seen.add(message_key(notification))
            kind = properties.type if properties.type in KINDS else "ReleaseNotification"
            show(notification, args.json, kind)
            shown += 1
            if args.count is not None and shown >= args.count:
                break
    except KeyboardInterrupt:
        pass
    except pika.exceptions.ChannelClosedByBroker as exc:  # e.g. no read permission on it
        raise Failed(f"the broker refused to deliver from {queue}: {exc.reply_text}") from None
    finally:
        if connection.is_open:
            connection.close()
    return 0

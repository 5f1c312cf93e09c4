"""`clearance agency add|list|remove`: partner agencies' broker users and release queues.

    clearance agency add GBFSA
    clearance agency add PHA --bind 'GBLHR001.*' --bind 'GBFXT001.sea'
    clearance agency list
    clearance agency remove PHA

`add CODE` gives agency CODE (letters, digits, `-`, `_`; names use it in lower case):

* a durable queue `agency.<code>` bound to the agency's own feed on `clearance.agencies`
  with `<CODE>.#` (upper case, as in the agency register: its hold requests, and the
  releases and refusals of the consignments it held), and to the release notifications
  exchange `clearance.releases` with each `--bind` PATTERN if any (topic patterns over the
  routing key `<office>.<transport_mode>`, e.g. `GBLHR001.*`, `*.air`, `#`: every release
  there, whoever held it);
* a broker user `agency-<code>` (no tags) that may read (consume) its own queue and nothing
  else: no configure and no write permission, so it can neither publish anything (not even
  through the default exchange) nor bind, declare or delete, nor read another queue;
* its password: read from `--password-file FILE` (first line), else from
  $CLEARANCE_AGENCY_PASSWORD, else generated and printed ONCE on stdout (it is not stored
  anywhere: hand it to the agency, which connects with
  `amqp://agency-<code>:PASSWORD@HOST:5672/VHOST` and runs e.g. `clearance listen --queue
  agency.<code>`).

How: the queue and bindings over AMQP as the operator (AMQP_URI; its vhost is the agency's),
the user and permissions with `rabbitmqctl` (the management plugin need not be enabled; the
password goes to rabbitmqctl on stdin, never on a command line). `--rabbitmqctl` (or
$CLEARANCE_RABBITMQCTL) names the command, e.g. `"docker compose -f infra/compose.yaml exec
-T rabbitmq rabbitmqctl"` for the compose broker. `remove` deletes the user and the queue
(with any notifications still in it). Exit 2 on bad usage, 1 when the agency exists already
(add) or not (remove), or the broker or rabbitmqctl fails.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import secrets
import shlex
import subprocess
from collections.abc import Sequence
from pathlib import Path
from typing import Any
from urllib.parse import unquote, urlsplit

import amqp.exceptions

from services.topology import AGENCIES_EXCHANGE, RELEASES_EXCHANGE, agency_queue_arguments
from shared.messaging.publisher import close_quietly, connect
from shared.messaging.topology import agency_permissions
from shared.settings import setting

from ..http import ServiceUnreachable, shown_uri
from ..output import Failed, UsageError, emit_json

PASSWORD_ENV = "CLEARANCE_AGENCY_PASSWORD"
RABBITMQCTL_ENV = "CLEARANCE_RABBITMQCTL"
CODE = re.compile(r"[A-Za-z0-9][A-Za-z0-9_-]{0,31}")
PATTERN = re.compile(r"[A-Za-z0-9_*#-]+(\.[A-Za-z0-9_*#-]+)*")
QUEUE_PREFIX = "agency."
USER_PREFIX = "agency-"


def queue_name(code: str) -> str:
    return f"{QUEUE_PREFIX}{code.lower()}"


def user_name(code: str) -> str:
    return f"{USER_PREFIX}{code.lower()}"


def add_parser(subparsers: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    parser = subparsers.add_parser(
        "agency", help="partner agencies: their read-only broker user and release queue",
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("action", choices=["add", "list", "remove"])
    parser.add_argument("code", nargs="?", help="the agency's code, e.g. PHA")
    parser.add_argument("--bind", action="append", default=[], metavar="PATTERN",
                        help="with add: a routing-key pattern <office>.<transport_mode>, e.g."
                             " 'GBLHR001.*' (repeatable, at least one)")
    parser.add_argument("--password-file", type=Path, default=None,
                        help=f"with add: the password (first line); else ${PASSWORD_ENV}, "
                             "else one is generated and printed once")
    parser.add_argument("--rabbitmqctl", default=None, metavar="COMMAND",
                        help=f"the rabbitmqctl command (default ${RABBITMQCTL_ENV} or "
                             "rabbitmqctl)")
    parser.add_argument("--json", action="store_true", help="machine-readable output")
    parser.set_defaults(run=run)


def check_usage(args: argparse.Namespace) -> None:
    if args.action in ("add", "remove"):
        if not args.code:
            raise UsageError(f"name the agency's CODE to {args.action}")
        if not CODE.fullmatch(args.code):
            raise UsageError(f"{args.code!r} is not an agency code (letters, digits, - and _,"
                             " at most 32)")
    elif args.code:
        raise UsageError("list takes no CODE")
    if args.action == "add":
        for pattern in args.bind:
            if not PATTERN.fullmatch(pattern):
                raise UsageError(f"{pattern!r} is not a routing-key pattern (words of letters,"
                                 " digits, - and _, or * and #, joined by dots)")
    elif args.bind or args.password_file:
        raise UsageError("--bind and --password-file go with add")


class Rabbitmqctl:
    def __init__(self, command: str | None) -> None:
        self.command = shlex.split(command or os.environ.get(RABBITMQCTL_ENV) or "rabbitmqctl")

    def __call__(self, *args: str, stdin: str | None = None) -> str:
        try:
            done = subprocess.run([*self.command, "-q", *args], input=stdin, text=True,
                                  capture_output=True, timeout=60, check=False)
        except (OSError, subprocess.TimeoutExpired) as exc:
            raise Failed(f"{shlex.join(self.command)}: {exc}") from None
        if done.returncode != 0:
            message = (done.stderr or done.stdout).strip().splitlines()
            raise Failed(f"rabbitmqctl {args[0]}: {message[-1] if message else done.returncode}")
        return done.stdout

    def json(self, *args: str) -> list[dict[str, Any]]:
        text = self(*args, "--formatter", "json").strip()
        rows = json.loads(text) if text else []
        return rows if isinstance(rows, list) else []

    def users(self) -> set[str]:
        return {str(row["user"]) for row in self.json("list_users")}


def vhost_of(uri: str) -> str:
    path = urlsplit(uri).path
    return unquote(path[1:]) if len(path) > 1 else "/"


def password_for(args: argparse.Namespace) -> tuple[str, bool]:
    """(password, generated)."""
    if args.password_file is not None:
        try:
            lines = args.password_file.read_text().splitlines()
        except OSError as exc:
            raise Failed(f"{args.password_file}: {exc.strerror or exc}") from None
        password = lines[0].strip() if lines else ""
        if not password:
            raise Failed(f"{args.password_file}: empty")
        return password, False
    if os.environ.get(PASSWORD_ENV):
        return os.environ[PASSWORD_ENV], False
    return secrets.token_urlsafe(24), True


def on_broker(uri: str, work: Any) -> Any:
    try:
        return work()
    except OSError as exc:
        raise ServiceUnreachable(f"the broker at {shown_uri(uri)} is not reachable ({exc}); "
                                 "is RabbitMQ running?") from None
    except amqp.exceptions.AMQPError as exc:
        raise Failed(f"the broker refused: {exc}") from None


def declare_queue(uri: str, queue: str, code: str, patterns: Sequence[str]) -> None:
    """The agency's durable queue bound to its own feed and to the releases exchange with
    `patterns` (as the operator)."""
    connection = connect(uri)
    try:
        channel = connection.channel()
        channel.exchange_declare(RELEASES_EXCHANGE, "topic", durable=True, auto_delete=False)
        channel.exchange_declare(AGENCIES_EXCHANGE, "topic", durable=True, auto_delete=False)
        channel.queue_declare(queue, durable=True, exclusive=False, auto_delete=False,
                              arguments=agency_queue_arguments())
        channel.queue_bind(queue, AGENCIES_EXCHANGE, f"{code.upper()}.#")
        for pattern in patterns:
            channel.queue_bind(queue, RELEASES_EXCHANGE, pattern)
    finally:
        close_quietly(connection)


def delete_queue(uri: str, queue: str) -> None:
    connection = connect(uri)
    try:
        connection.channel().queue_delete(queue)
    finally:
        close_quietly(connection)


def add(args: argparse.Namespace, uri: str, ctl: Rabbitmqctl) -> int:
    code = args.code.lower()
    user, queue, vhost = user_name(code), queue_name(code), vhost_of(uri)
    if user in ctl.users():
        raise Failed(f"agency {code} exists already (user {user}); `clearance agency remove "
                     f"{code}` first to start again")
    password, generated = password_for(args)
    patterns = list(dict.fromkeys(args.bind))
    on_broker(uri, lambda: declare_queue(uri, queue, args.code, patterns))
    ctl("add_user", user, stdin=password)
    try:
        for command in agency_permissions(queue).rabbitmqctl(user, vhost):
            ctl(*command)
    except Failed:
        ctl("delete_user", user)
        raise
    if args.json:
        emit_json({"agency": code, "user": user, "queue": queue, "vhost": vhost,
                   "exchange": RELEASES_EXCHANGE, "bindings": patterns,
                   "password": password if generated else None})
        return 0
    also = f" and to {RELEASES_EXCHANGE} with {', '.join(patterns)}" if patterns else ""
    print(f"agency {code}: user {user}, queue {queue} (vhost {vhost}) bound to its own feed "
          f"on {AGENCIES_EXCHANGE} ({args.code.upper()}.#){also}; read-only on its queue")
    if generated:
        print(f"password (shown once, not stored): {password}")
    return 0


def remove(args: argparse.Namespace, uri: str, ctl: Rabbitmqctl) -> int:
    code = args.code.lower()
    user, queue = user_name(code), queue_name(code)
    if user not in ctl.users():
        raise Failed(f"no agency {code} (no user {user})")
    ctl("delete_user", user)
    on_broker(uri, lambda: delete_queue(uri, queue))
    if args.json:
        emit_json({"agency": code, "removed": True})
    else:
        print(f"agency {code}: user {user} and queue {queue} removed")
    return 0


def listing(args: argparse.Namespace, uri: str, ctl: Rabbitmqctl) -> int:
    vhost = vhost_of(uri)
    bindings: dict[str, list[str]] = {}
    feeds: dict[str, list[str]] = {}
    for row in ctl.json("list_bindings", "-p", vhost, "source_name", "destination_name",
                        "routing_key"):
        found = {RELEASES_EXCHANGE: bindings, AGENCIES_EXCHANGE: feeds}.get(
            str(row.get("source_name")))
        if found is not None:
            found.setdefault(str(row["destination_name"]), []).append(str(row["routing_key"]))
    agencies = [
        {"agency": name.removeprefix(USER_PREFIX), "user": name,
         "queue": queue_name(name.removeprefix(USER_PREFIX)),
         "bindings": sorted(bindings.get(queue_name(name.removeprefix(USER_PREFIX)), [])),
         "feed": sorted(feeds.get(queue_name(name.removeprefix(USER_PREFIX)), []))}
        for name in sorted(ctl.users()) if name.startswith(USER_PREFIX)
    ]
    if args.json:
        emit_json(agencies)
    elif not agencies:
        print("no agencies")
    else:
        for agency in agencies:
            feed = f" feed {', '.join(agency['feed'])}" if agency["feed"] else ""
            print(f"{agency['agency']:<12} user {agency['user']:<20} queue {agency['queue']:<20}"
                  f" {', '.join(agency['bindings']) or '(no bindings)'}{feed}")
    return 0


def run(args: argparse.Namespace) -> int:
    check_usage(args)
    uri = setting("AMQP_URI")
    ctl = Rabbitmqctl(args.rabbitmqctl)
    action = {"add": add, "list": listing, "remove": remove}[args.action]
    return action(args, uri, ctl)

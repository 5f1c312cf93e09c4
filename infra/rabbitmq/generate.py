"""Write the broker's definitions from the code's deployment topology.

    python infra/rabbitmq/generate.py              # rewrite infra/rabbitmq/definitions.json
    python infra/rabbitmq/generate.py --check      # exit 1 when the committed file is stale
    python infra/rabbitmq/generate.py --stdout --retry-delays 2,10,60
    RABBITMQ_PASSWORD=... python infra/rabbitmq/generate.py --users clearance --output users.json

definitions.json holds the topology only (`services.topology.TOPOLOGY`: the events exchange,
every subscription queue with its retry and parking queues, their bindings) plus the
`clearance.releases` exchange for partner agencies. It must equal what the services declare
at start-up, because RabbitMQ refuses to redeclare a queue with other arguments: generate it
with the RETRY_DELAYS the services run with (default 1,5,30) and the queue type they declare.
Output is deterministic (no versions, no timestamps). `--users` writes a separate file with
one user, its password hash and its permissions; credentials never go into definitions.json.
"""

from __future__ import annotations

import argparse
import base64
import difflib
import hashlib
import importlib
import json
import os
import secrets
import sys
from dataclasses import replace
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[2]
DEFINITIONS = Path(__file__).resolve().parent / "definitions.json"
RELEASES_EXCHANGE = "clearance.releases"  # services/release/notifications.py (EXCHANGE)
PASSWORD_ENV = "RABBITMQ_PASSWORD"


def _modules() -> tuple[Any, Any]:
    """`services.topology` and `shared.messaging.topology`, importable from any directory."""
    if str(ROOT) not in sys.path:
        sys.path.insert(0, str(ROOT))
    return (importlib.import_module("services.topology"),
            importlib.import_module("shared.messaging.topology"))


def deployment_topology(retry_delays: tuple[float, ...] | None = None,
                        queue_type: str | None = None) -> Any:
    """The services' topology with the given retry delays (default: the code's default, which
    the services use when RETRY_DELAYS is unset) and queue type (default: the code's)."""
    services_topology, messaging = _modules()
    base = services_topology.TOPOLOGY
    return replace(base, retry_delays=retry_delays or messaging.DEFAULT_RETRY_DELAYS,
                   queue_type=queue_type or base.queue_type)


def definitions(retry_delays: tuple[float, ...] | None = None, queue_type: str | None = None,
                vhost: str = "/") -> dict[str, Any]:
    """The definitions document: the topology plus the partner agencies' releases exchange."""
    _, messaging = _modules()
    document: dict[str, Any] = messaging.definitions(
        deployment_topology(retry_delays, queue_type), vhost)
    document["exchanges"].append({
        "name": RELEASES_EXCHANGE, "vhost": vhost, "type": "topic", "durable": True,
        "auto_delete": False, "internal": False, "arguments": {},
    })
    document["exchanges"].sort(key=lambda exchange: exchange["name"])
    return document


def render(document: dict[str, Any]) -> str:
    return json.dumps(document, indent=2, sort_keys=True) + "\n"


def password_hash(password: str, salt: bytes | None = None) -> str:
    """RabbitMQ's `rabbit_password_hashing_sha256`: base64(salt + sha256(salt + password))."""
    salt = secrets.token_bytes(4) if salt is None else salt
    digest = hashlib.sha256(salt + password.encode("utf-8")).digest()
    return base64.b64encode(salt + digest).decode("ascii")


def users(user: str, password: str, vhost: str = "/", *, administrator: bool = False) -> dict[str, Any]:
    """A definitions document with one user and full permissions on `vhost`."""
    return {
        "vhosts": [{"name": vhost}],
        "users": [{
            "name": user,
            "password_hash": password_hash(password),
            "hashing_algorithm": "rabbit_password_hashing_sha256",
            "tags": ["administrator"] if administrator else [],
        }],
        "permissions": [{"user": user, "vhost": vhost, "configure": ".*", "write": ".*",
                         "read": ".*"}],
    }


def parse_delays(text: str) -> tuple[float, ...]:
    return tuple(float(part) for part in text.split(",") if part.strip())


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true",
                        help="compare with the output file; exit 1 when they differ")
    parser.add_argument("--stdout", action="store_true", help="print instead of writing")
    parser.add_argument("--output", type=Path, default=None,
                        help=f"file to write (default {DEFINITIONS.relative_to(ROOT)})")
    parser.add_argument("--vhost", default="/")
    parser.add_argument("--retry-delays", type=parse_delays, default=None,
                        help="seconds, comma separated: the services' RETRY_DELAYS")
    parser.add_argument("--queue-type", choices=["classic", "quorum"], default=None,
                        help="only what the services declare (services/topology.py)")
    parser.add_argument("--users", metavar="USER", default=None,
                        help=f"write a users file for USER instead (password from ${PASSWORD_ENV})")
    parser.add_argument("--administrator", action="store_true",
                        help="with --users: tag the user administrator (management UI)")
    args = parser.parse_args(argv)

    if args.users:
        password = os.environ.get(PASSWORD_ENV, "")
        if not password:
            parser.error(f"--users needs the password in ${PASSWORD_ENV}")
        text = render(users(args.users, password, args.vhost, administrator=args.administrator))
        if args.stdout or args.output is None:
            sys.stdout.write(text)
        else:
            args.output.write_text(text)
        return 0

    text = render(definitions(args.retry_delays, args.queue_type, args.vhost))
    target = args.output or DEFINITIONS
    if args.check:
        current = target.read_text() if target.exists() else ""
        if current == text:
            print(f"{target}: up to date")
            return 0
        sys.stdout.writelines(difflib.unified_diff(
            current.splitlines(True), text.splitlines(True), str(target), "generated"))
        print(f"{target} differs from the topology; run python {Path(__file__).relative_to(ROOT)}",
              file=sys.stderr)
        return 1
    if args.stdout:
        sys.stdout.write(text)
    else:
        target.write_text(text)
        print(f"wrote {target}")
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""Write the broker's definitions from the code's deployment topology.

    python infra/rabbitmq/generate.py              # rewrite definitions.json and users.dev.json
    python infra/rabbitmq/generate.py --check      # exit 1 when a committed file is stale
    python infra/rabbitmq/generate.py --stdout --retry-delays 2,10,60
    RABBITMQ_PASSWORD=... RABBITMQ_DECLARATION_PASSWORD=... RABBITMQ_RISK_PASSWORD=... \
      RABBITMQ_PAYMENT_PASSWORD=... RABBITMQ_RELEASE_PASSWORD=... \
      python infra/rabbitmq/generate.py --users --output users.json
    python infra/rabbitmq/generate.py --users --dev-passwords   # rewrite users.dev.json

definitions.json holds the topology only (`services.topology.TOPOLOGY`: the events exchange,
each service's republish exchange `<service>.retry`, every subscription queue with its retry
and parking queues, their bindings) plus the `clearance.releases` exchange (topic) for partner
agencies and the `clearance.seals` exchange (fanout) for the log's signed checkpoints. It must
equal what the services declare at start-up, because RabbitMQ refuses to redeclare a queue
with other arguments: generate it with the RETRY_DELAYS the services run with (default
1,5,30) and the queue type they declare. Output is deterministic (no versions, no timestamps).

`--users` writes a separate file (credentials never go into definitions.json) with:

* one user per service (declaration, risk, payment, release), named after it, password from
  $RABBITMQ_<SERVICE>_PASSWORD, no tags, and the least privilege generated from the topology
  (`services.topology.service_users`): configure/write/read on its own namespace
  (`<service>.*`), publishing on `clearance.events` only routing keys `<service>.<Type>`
  (topic permissions), no access to the default exchange;
* the operator (default `clearance`, password from $RABBITMQ_PASSWORD), tagged administrator
  with full permissions: for people and `clearance parked|agency` commands, never a service.

`--dev-passwords` uses the development passwords (each service's name; `clearance` for the
operator) with salts derived from the user names, so users.dev.json is reproducible and
`--check` covers it too. Regenerate the users file whenever the subscriptions change: the
topic permissions list the routing keys each service may bind.
"""

from __future__ import annotations

import argparse
import difflib
import hashlib
import importlib
import json
import os
import sys
from dataclasses import replace
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[2]
DEFINITIONS = Path(__file__).resolve().parent / "definitions.json"
DEV_USERS = Path(__file__).resolve().parent / "users.dev.json"
PASSWORD_ENV = "RABBITMQ_PASSWORD"  # the operator's
OPERATOR = "clearance"


def service_password_env(service: str) -> str:
    return f"RABBITMQ_{service.upper()}_PASSWORD"


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
    """The definitions document: the topology plus the partner agencies' exchanges (releases,
    and each agency's own feed) and the seals exchange."""
    services_topology, messaging = _modules()
    document: dict[str, Any] = messaging.definitions(
        deployment_topology(retry_delays, queue_type), vhost)
    for name, kind in ((services_topology.RELEASES_EXCHANGE, "topic"),
                       (services_topology.AGENCIES_EXCHANGE, "topic"),
                       (services_topology.SEALS_EXCHANGE, "fanout")):
        document["exchanges"].append({
            "name": name, "vhost": vhost, "type": kind, "durable": True,
            "auto_delete": False, "internal": False, "arguments": {},
        })
    document["exchanges"].sort(key=lambda exchange: exchange["name"])
    return document


def render(document: dict[str, Any]) -> str:
    return json.dumps(document, indent=2, sort_keys=True) + "\n"


def password_hash(password: str, salt: bytes | None = None) -> str:
    """RabbitMQ's `rabbit_password_hashing_sha256` (shared/messaging/topology.py)."""
    _, messaging = _modules()
    return str(messaging.password_hash(password, salt))


def dev_salt(user: str) -> bytes:
    """A fixed salt per user name, for the reproducible development users file only."""
    return hashlib.sha256(f"open-clearance-dev:{user}".encode()).digest()[:4]


def _user(name: str, password: str, salt: bytes | None, tags: list[str]) -> dict[str, Any]:
    return {"name": name, "password_hash": password_hash(password, salt),
            "hashing_algorithm": "rabbit_password_hashing_sha256", "tags": tags}


def users(passwords: dict[str, str], operator_password: str, vhost: str = "/", *,
          operator: str = OPERATOR, deterministic: bool = False,
          retry_delays: tuple[float, ...] | None = None) -> dict[str, Any]:
    """A definitions document with the four service users and their least privilege
    (`passwords`: service -> password) and the operator (administrator, full permissions)."""
    services_topology, _ = _modules()
    permissions = services_topology.service_users(deployment_topology(retry_delays))
    missing = set(permissions) - set(passwords)
    if missing:
        raise ValueError(f"no password for {sorted(missing)}")
    document: dict[str, Any] = {"vhosts": [{"name": vhost}], "users": [], "permissions": [],
                                "topic_permissions": []}
    for service, granted in sorted(permissions.items()):
        document["users"].append(_user(service, passwords[service],
                                       dev_salt(service) if deterministic else None, []))
        for key, rows in granted.definitions(service, vhost).items():
            document[key].extend(rows)
    document["users"].append(_user(operator, operator_password,
                                   dev_salt(operator) if deterministic else None,
                                   ["administrator"]))
    document["permissions"].append({"user": operator, "vhost": vhost, "configure": ".*",
                                    "write": ".*", "read": ".*"})
    document["users"].sort(key=lambda user: user["name"])
    document["permissions"].sort(key=lambda row: row["user"])
    return document


def dev_users(vhost: str = "/") -> dict[str, Any]:
    """The development users file (users.dev.json): each service's password is its name."""
    services_topology, _ = _modules()
    services = services_topology.SERVICES
    return users({s: s for s in services}, OPERATOR, vhost, deterministic=True)


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
    parser.add_argument("--users", metavar="OPERATOR", nargs="?", const=OPERATOR, default=None,
                        help="write the users file instead: the four service users (passwords"
                             " from $RABBITMQ_<SERVICE>_PASSWORD) and the operator (default"
                             f" {OPERATOR}, password from ${PASSWORD_ENV})")
    parser.add_argument("--dev-passwords", action="store_true",
                        help="with --users: the development passwords, reproducibly (default"
                             f" output {DEV_USERS.relative_to(ROOT)})")
    args = parser.parse_args(argv)

    outputs: list[tuple[Path, str]]
    if args.users and not args.dev_passwords:
        services_topology, _ = _modules()
        passwords = {s: os.environ.get(service_password_env(s), "")
                     for s in services_topology.SERVICES}
        operator_password = os.environ.get(PASSWORD_ENV, "")
        empty = [service_password_env(s) for s, p in passwords.items() if not p]
        empty += [] if operator_password else [PASSWORD_ENV]
        if empty:
            parser.error(f"--users needs the passwords in ${', $'.join(empty)}")
        text = render(users(passwords, operator_password, args.vhost, operator=args.users,
                            retry_delays=args.retry_delays))
        if args.output is None or args.stdout:
            sys.stdout.write(text)
        else:
            args.output.write_text(text)
        return 0
    if args.users:  # --dev-passwords
        if args.users != OPERATOR:
            parser.error(f"--dev-passwords makes the operator {OPERATOR}")
        outputs = [(args.output or DEV_USERS, render(dev_users(args.vhost)))]
    else:
        outputs = [(args.output or DEFINITIONS,
                    render(definitions(args.retry_delays, args.queue_type, args.vhost)))]
        if args.output is None and args.vhost == "/":
            outputs.append((DEV_USERS, render(dev_users())))  # kept in step with the topology

    if args.check:
        stale = 0
        for target, text in outputs:
            current = target.read_text() if target.exists() else ""
            if current == text:
                print(f"{target}: up to date")
                continue
            stale += 1
            sys.stdout.writelines(difflib.unified_diff(
                current.splitlines(True), text.splitlines(True), str(target), "generated"))
            print(f"{target} differs from the topology; run python"
                  f" {Path(__file__).relative_to(ROOT)}", file=sys.stderr)
        return 1 if stale else 0
    for target, text in outputs:
        if args.stdout:
            sys.stdout.write(text)
        else:
            target.write_text(text)
            print(f"wrote {target}")
    return 0


if __name__ == "__main__":
    sys.exit(main())

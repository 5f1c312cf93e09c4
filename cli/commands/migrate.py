"""`clearance migrate [--service-role NAME] [--create-role] [--json]`: bring the event store's
schema to the newest revision, as its OWNER, and (PostgreSQL) grant the services' role
exactly what the services need.

The owner is `EVENT_STORE_OWNER_URL` (default `EVENT_STORE_URL`): it owns the tables, triggers
and functions it creates. The services then connect as the service role (their
EVENT_STORE_URL), which may read the log and append through `clearance_append` (a SECURITY
DEFINER function owned by the owner), read and write the read models, inbox, checkpoints and
leases, and nothing else: UPDATE, DELETE, TRUNCATE on the log, DROP TRIGGER, ALTER and DROP
TABLE fail with a permission error (see `shared/eventstore/migrate.py`). Services on
PostgreSQL do not migrate: they refuse to start until this has run.

The service role is `--service-role NAME`, by default the user of EVENT_STORE_URL (the
services' own URL) when EVENT_STORE_OWNER_URL names another user; with one URL for both (a
development database), nothing is granted and the command says so (the services then run
as the owner). `--create-role` creates the service role when it is missing (named
clearance_service when there is none to take from EVENT_STORE_URL; LOGIN, no password: set one
with `ALTER ROLE ... PASSWORD`, or create the role beforehand as compose's init script does;
the owner then needs CREATEROLE). Idempotent: a second run changes nothing and says so.
On SQLite (embedded, one user, no roles) it only migrates.

Exit codes as every command (cli/main.py): 0 done; 1 the database is unreachable, the role
missing (without `--create-role`), the role has the owner's powers, or the migrating role
is not the schema owner; 2 bad usage.
"""

from __future__ import annotations

import argparse
import re

from sqlalchemy.engine import make_url

from shared.eventstore.connections import dialect_of, schema_engine, shown
from shared.eventstore.migrate import (
    DEFAULT_SERVICE_ROLE,
    current_revision,
    grant_service_role,
    head_revision,
    upgrade,
)
from shared.settings import setting

from ..output import Failed, UsageError, emit_json
from ..store import owner_url

ROLE_NAME = re.compile(r"[a-z_][a-z0-9_$]{0,62}")


def add_parser(subparsers: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    parser = subparsers.add_parser(
        "migrate", help="migrate the event store as its owner; grant the services' role",
        description="Run the schema migrations once, as the owner (EVENT_STORE_OWNER_URL, "
                    "default EVENT_STORE_URL), and on PostgreSQL grant the service role what "
                    "the services need (no UPDATE, DELETE, TRUNCATE or DDL on the log).")
    parser.add_argument("--service-role", metavar="NAME",
                        help="the role the services connect as (default: the user of "
                             "EVENT_STORE_URL when EVENT_STORE_OWNER_URL names another one; "
                             "PostgreSQL only)")
    parser.add_argument("--create-role", action="store_true",
                        help="create the service role if missing (LOGIN, no password)")
    parser.add_argument("--json", action="store_true", help="machine-readable output")
    parser.set_defaults(run=run)


def service_role(args: argparse.Namespace, url: str) -> str | None:
    """The role to grant: `--service-role`, else EVENT_STORE_URL's user when it is not the
    owner's (None: the services connect as the owner, nothing to grant)."""
    if args.service_role:
        return str(args.service_role)
    services = make_url(setting("EVENT_STORE_URL")).username
    if not services or services == make_url(url).username:
        return DEFAULT_SERVICE_ROLE if args.create_role else None
    return services


def run(args: argparse.Namespace) -> int:
    if args.service_role is not None and not ROLE_NAME.fullmatch(args.service_role):
        raise UsageError(f"not a plain role name: {args.service_role!r} "
                         "(lower-case letters, digits, _ and $)")
    url = owner_url()
    try:
        dialect = dialect_of(url)
    except ValueError as exc:
        raise UsageError(str(exc)) from None
    engine = schema_engine(url)
    try:
        try:
            before = current_revision(engine)
        except Exception as exc:  # noqa: BLE001 - reported with the URL
            reason = str(getattr(exc, "orig", exc)).strip().splitlines()[0]
            raise Failed(f"cannot reach the event store at {shown(url)}: {reason}") from None
        try:
            migrated = upgrade(engine)
        except Exception as exc:  # noqa: BLE001 - most often: not the schema owner
            reason = str(getattr(exc, "orig", exc)).strip().splitlines()[0]
            raise Failed(f"cannot migrate the event store at {shown(url)}: {reason} (run "
                         "as the schema owner: set EVENT_STORE_OWNER_URL)") from None
        lines = [f"schema at revision {head_revision()}"
                 + (f" (migrated from {before or 'an empty database'})" if migrated
                    else " (already current)")]
        result: dict[str, object] = {"url": shown(url), "dialect": dialect, "from": before,
                                     "revision": head_revision(), "migrated": migrated}
        role = service_role(args, url) if dialect == "postgresql" else None
        if dialect == "postgresql" and role is None:
            lines.append(f"no service role granted: the services connect as the owner "
                         f"{make_url(url).username} (give them a role of their own, e.g. "
                         f"{DEFAULT_SERVICE_ROLE}: set EVENT_STORE_OWNER_URL to the owner "
                         "and EVENT_STORE_URL to that role, or pass --service-role)")
            result.update(service_role=None)
        elif role is not None:
            try:
                grants = grant_service_role(engine, role, create=args.create_role)
            except Exception as exc:  # noqa: BLE001 - a missing or too powerful role
                reason = str(getattr(exc, "orig", exc)).strip().splitlines()[0]
                raise Failed(reason) from None
            lines += grants.lines()
            result.update(service_role=grants.role, role_created=grants.created,
                          read_only=grants.read_only, written=grants.written,
                          functions=grants.functions, notes=grants.notes)
        if dialect == "sqlite":
            lines.append("SQLite: no database roles (embedded, one user)")
    finally:
        engine.dispose()
    if args.json:
        emit_json(result)
    else:
        print(f"event store {shown(url)}")
        for line in lines:
            print(line)
    return 0

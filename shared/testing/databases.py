"""Fresh databases for tests: a SQLite file, or a PostgreSQL database created and dropped.

A PostgreSQL test database is set up as a deployment is: created OWNED by the owner role
(`OWNER_ROLE`), migrated by it, and the service role (`SERVICE_ROLE`) granted what the
services need (`shared.eventstore.migrate.grant_service_role`, as `clearance migrate` does).
`postgres_database()` gives the SERVICE role's URL, so tests and the services they start work
with the restricted role; tests that need the owner's powers (DDL, a rebuild's swap, an
insider's tampering) take `owner_url(url)`, or ask `postgres_database(role="owner")`.
`migrated=False` leaves the database empty (what `clearance migrate` and a service's refusal
to start are tested on).

The two roles are cluster-wide and kept between runs (LOGIN, no password: the test server
trusts local connections); they are created once, idempotently, under an advisory lock taken
in the administration database, so concurrent test processes do not race.
"""

from __future__ import annotations

import os
import tempfile
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Literal

import psycopg2
from psycopg2 import errors, sql
from sqlalchemy.engine import make_url

POSTGRES_ADMIN_DSN = os.environ.get(
    "CLEARANCE_TEST_POSTGRES_DSN", "postgresql://postgres@127.0.0.1:5432/test"
)
OWNER_ROLE = "clearance_test_owner"
SERVICE_ROLE = "clearance_test_service"
_ROLES_LOCK_KEY = 0x434C5202
_roles_ready = False

Role = Literal["service", "owner", "admin"]


def sqlite_url(directory: Path, name: str = "clearance.db") -> str:
    return f"sqlite:///{directory / name}"


def _with_database(dsn: str, database: str) -> str:
    base, _, _ = dsn.rpartition("/")
    return f"{base}/{database}"


def as_role(url: str, role: Role) -> str:
    """The URL of the same database for `role`: "service", "owner" or "admin" (the
    superuser of CLEARANCE_TEST_POSTGRES_DSN). Passwords are not carried over (the test
    server trusts local connections)."""
    admin = make_url(POSTGRES_ADMIN_DSN)
    parsed = make_url(url)
    if role == "admin":
        parsed = parsed.set(username=admin.username, password=admin.password)
    else:
        parsed = parsed.set(username=SERVICE_ROLE if role == "service" else OWNER_ROLE,
                            password=None)
    return parsed.render_as_string(hide_password=False)


def owner_url(url: str) -> str:
    """The schema owner's URL of the test database at `url` (DDL, tampering, rebuilds); a
    SQLite URL as it is (no roles)."""
    return as_role(url, "owner") if url.startswith("postgresql") else url


def service_url(url: str) -> str:
    """The service role's URL of the test database at `url`."""
    return as_role(url, "service")


def ensure_roles(admin: psycopg2.extensions.connection | None = None) -> None:
    """Create the owner and service roles if missing (idempotent, safe concurrently)."""
    global _roles_ready
    if _roles_ready:
        return
    own = admin is None
    connection = admin or psycopg2.connect(POSTGRES_ADMIN_DSN)
    connection.autocommit = True
    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT pg_advisory_lock(%s)", (_ROLES_LOCK_KEY,))
            try:
                for role in (OWNER_ROLE, SERVICE_ROLE):
                    cursor.execute("SELECT 1 FROM pg_roles WHERE rolname = %s", (role,))
                    if cursor.fetchone():
                        continue
                    try:
                        cursor.execute(sql.SQL("CREATE ROLE {} LOGIN").format(
                            sql.Identifier(role)))
                    except (errors.DuplicateObject, errors.UniqueViolation):
                        pass  # created meanwhile by a process with another admin database
            finally:
                cursor.execute("SELECT pg_advisory_unlock(%s)", (_ROLES_LOCK_KEY,))
    finally:
        if own:
            connection.close()
    _roles_ready = True


def migrate_as_owner(url: str) -> None:
    """Migrate the database at `url` as the owner and grant the service role, as
    `clearance migrate` does."""
    from shared.eventstore.connections import schema_engine
    from shared.eventstore.migrate import grant_service_role, upgrade

    engine = schema_engine(owner_url(url))
    try:
        upgrade(engine)
        grant_service_role(engine, SERVICE_ROLE)
    finally:
        engine.dispose()


@contextmanager
def postgres_database(prefix: str = "clearance_test", *, role: Role = "service",
                      migrated: bool = True) -> Iterator[str]:
    """A new PostgreSQL database owned by the owner role, migrated and granted (unless not
    `migrated`), dropped afterwards: its SQLAlchemy URL for `role` (default the service
    role's; see the module docstring)."""
    name = f"{prefix}_{uuid.uuid4().hex[:12]}"
    admin = psycopg2.connect(POSTGRES_ADMIN_DSN)
    admin.autocommit = True
    try:
        ensure_roles(admin)
        with admin.cursor() as cursor:
            cursor.execute(sql.SQL("CREATE DATABASE {} OWNER {}").format(
                sql.Identifier(name), sql.Identifier(OWNER_ROLE)))
        url = _with_database(POSTGRES_ADMIN_DSN, name)
        if migrated:
            migrate_as_owner(url)
        yield as_role(url, role)
    finally:
        try:
            admin.cursor().execute("SELECT 1")
        except psycopg2.Error:  # the server was restarted meanwhile (the chaos tests do)
            admin.close()
            admin = psycopg2.connect(POSTGRES_ADMIN_DSN)
            admin.autocommit = True
        with admin.cursor() as cursor:
            cursor.execute(
                sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name))
            )
        admin.close()


@contextmanager
def fresh_store_url(backend: str, prefix: str = "clearance_bench",
                    role: Role = "service") -> Iterator[str]:
    """The URL of an empty store on `backend` ("sqlite" or "postgresql"), removed afterwards
    (PostgreSQL: migrated, for `role`)."""
    if backend == "sqlite":
        with tempfile.TemporaryDirectory() as folder:
            yield sqlite_url(Path(folder), "bench.db")
        return
    with postgres_database(prefix, role=role) as url:
        yield url


@contextmanager
def database_closed(url: str) -> Iterator[None]:
    """A database outage, for the fault tests: while inside, the PostgreSQL database of `url`
    refuses every new connection (`ALLOW_CONNECTIONS false`) and its open sessions are ended,
    as when the server is down; opened again on the way out, whatever happened."""
    name = make_url(url).database
    admin = psycopg2.connect(POSTGRES_ADMIN_DSN)
    admin.autocommit = True
    try:
        with admin.cursor() as cursor:
            cursor.execute(sql.SQL("ALTER DATABASE {} ALLOW_CONNECTIONS false").format(
                sql.Identifier(name)))
            cursor.execute("SELECT pg_terminate_backend(pid) FROM pg_stat_activity"
                           " WHERE datname = %s AND pid <> pg_backend_pid()", (name,))
        yield
    finally:
        with admin.cursor() as cursor:
            cursor.execute(sql.SQL("ALTER DATABASE {} ALLOW_CONNECTIONS true").format(
                sql.Identifier(name)))
        admin.close()

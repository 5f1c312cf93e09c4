"""Schema migrations (Alembic) and, on PostgreSQL, the services' database role.

Two roles on PostgreSQL (SQLite, embedded and single-user, has none):

- the OWNER (`EVENT_STORE_OWNER_URL`, default `EVENT_STORE_URL`) runs the migrations, once,
  with `clearance migrate`: it owns every table, trigger and function;
- the SERVICE role, which the services connect as, gets only what they need
  (`grant_service_role`): SELECT on the log, its head and the schema revision; EXECUTE on the
  two SECURITY DEFINER functions of the append path (`clearance_append`,
  `clearance_lock_appends`, migration 0005), which insert events and move the head with the
  owner's rights; and SELECT, INSERT, UPDATE, DELETE on every other table (read models,
  inbox, relay checkpoints, leases). Not being the owner, it can neither UPDATE, DELETE nor
  TRUNCATE the log, nor drop its triggers, alter or drop its tables: PostgreSQL refuses with
  a permission error (SQLSTATE 42501) before any trigger runs.

Services on PostgreSQL never migrate: they check that the schema is at the head revision and
refuse to start otherwise (`require_current`, naming `clearance migrate`). On SQLite the store
still migrates itself on first use (see `EventStore`).

Several processes may migrate at once against a fresh database: PostgreSQL migrations run
under an advisory lock, SQLite ones inside a `BEGIN IMMEDIATE` transaction (the file's write
lock).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import Connection, Engine, text

from .errors import EventStoreError

MIGRATIONS = Path(__file__).parent / "migrations"
_PG_LOCK_KEY = 0x434C5200  # "CLR\0"
_PG_ROLE_LOCK_KEY = 0x434C5201  # creating the service role

DEFAULT_SERVICE_ROLE = "clearance_service"
# Tables the service role may read but never write directly: the log (appends go through
# `clearance_append`, which runs as the owner), its head and the schema revision. Every other
# table of the schema is the services' bookkeeping or read models: read and written.
READ_ONLY_TABLES = ("events", "event_log_head", "alembic_version")
WRITTEN = "SELECT, INSERT, UPDATE, DELETE"
DEFINER_FUNCTIONS = (
    "clearance_append(text, text, integer, timestamptz, text, text[], text[], integer[], "
    "text[], text[], text[], timestamptz[], text[], text[], text[])",
    "clearance_lock_appends()",
)


class SchemaNotCurrent(EventStoreError):
    """The database's schema is not at the head revision (a service does not migrate)."""


def alembic_config() -> Config:
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    return config


def head_revision() -> str:
    head = ScriptDirectory.from_config(alembic_config()).get_current_head()
    assert head is not None
    return head


def current_revision(engine: Engine) -> str | None:
    with engine.connect() as connection:
        return MigrationContext.configure(connection).get_current_revision()


def upgrade(engine: Engine) -> bool:
    """Bring the schema to the newest revision; False when it was already there."""
    if current_revision(engine) == head_revision():
        return False
    config = alembic_config()
    with engine.begin() as connection:
        if engine.dialect.name == "postgresql":
            connection.execute(text("SELECT pg_advisory_xact_lock(:k)"), {"k": _PG_LOCK_KEY})
        config.attributes["connection"] = connection
        command.upgrade(config, "head")
    return True


def require_current(engine: Engine, shown_url: str) -> None:
    """SchemaNotCurrent, naming `clearance migrate`, unless the schema is at the head."""
    head = head_revision()
    try:
        revision = current_revision(engine)
    except Exception as exc:  # noqa: BLE001 - reported with the URL
        reason = str(getattr(exc, "orig", exc)).strip().splitlines()[0]
        raise SchemaNotCurrent(
            f"cannot read the schema revision of the event store at {shown_url}: {reason} "
            "(run `clearance migrate` as the schema owner first)") from None
    if revision != head:
        found = "no schema (an empty database)" if revision is None else f"revision {revision}"
        raise SchemaNotCurrent(
            f"the event store at {shown_url} holds {found}, not revision {head}: run "
            "`clearance migrate` (as the schema owner, EVENT_STORE_OWNER_URL) before starting "
            "the services")


# -- the service role (PostgreSQL) -----------------------------------------------------------
@dataclass
class Grants:
    """What `grant_service_role` did, as lines to print."""

    role: str
    created: bool = False
    read_only: list[str] = field(default_factory=list)
    written: list[str] = field(default_factory=list)
    functions: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    def lines(self) -> list[str]:
        out = [f"created role {self.role}"] if self.created else []
        if self.read_only:
            out.append(f"{self.role}: SELECT on {', '.join(self.read_only)}")
        if self.written:
            out.append(f"{self.role}: {WRITTEN} on {', '.join(self.written)}")
        if self.functions:
            out.append(f"{self.role}: EXECUTE on {', '.join(self.functions)}")
        out.append(f"{self.role}: {WRITTEN} on tables the owner creates later (read models "
                   "a rebuild swaps in)")
        return out + self.notes


def quote(name: str) -> str:
    """A SQL identifier, quoted."""
    return '"' + name.replace('"', '""') + '"'


def role_exists(connection: Connection, role: str) -> bool:
    return bool(connection.execute(text("SELECT 1 FROM pg_roles WHERE rolname = :r"),
                                   {"r": role}).scalar())


def create_role(connection: Connection, role: str) -> bool:
    """CREATE ROLE `role` LOGIN (no password: set one with ALTER ROLE, or authenticate it
    otherwise); False when it exists. Roles are cluster-wide: creation is serialised by an
    advisory lock and a concurrent creator's role is accepted."""
    connection.execute(text("SELECT pg_advisory_xact_lock(:k)"), {"k": _PG_ROLE_LOCK_KEY})
    if role_exists(connection, role):
        return False
    savepoint = connection.begin_nested()
    try:
        connection.exec_driver_sql(f"CREATE ROLE {quote(role)} LOGIN")
    except Exception:
        savepoint.rollback()
        if role_exists(connection, role):  # created meanwhile from another database
            return False
        raise
    savepoint.commit()
    return True


def grant_service_role(engine: Engine, role: str = DEFAULT_SERVICE_ROLE, *,
                       create: bool = False) -> Grants:
    """Give `role` exactly what the services need on the migrated schema (see the module
    docstring), as the owner connected by `engine`; idempotent (privileges beyond these are
    revoked). With `create`, the role is created when missing (LOGIN, no password)."""
    if engine.dialect.name != "postgresql":
        raise EventStoreError("database roles exist on PostgreSQL only")
    grants = Grants(role)
    with engine.begin() as connection:
        if create:
            grants.created = create_role(connection, role)
        elif not role_exists(connection, role):
            raise EventStoreError(f"no role {role!r}: create it (clearance migrate "
                                  "--create-role, or CREATE ROLE as an administrator)")
        _refuse_powerful(connection, role)
        schema = str(connection.exec_driver_sql("SELECT current_schema()").scalar())
        tables = [str(t) for t in connection.execute(
            text("SELECT tablename FROM pg_tables WHERE schemaname = :s ORDER BY tablename"),
            {"s": schema}).scalars()]
        who, where = quote(role), quote(schema)
        if not connection.execute(text("SELECT has_schema_privilege(:r, :s, 'USAGE')"),
                                  {"r": role, "s": schema}).scalar():
            connection.exec_driver_sql(f"GRANT USAGE ON SCHEMA {where} TO {who}")
        for table in tables:
            name = f"{where}.{quote(table)}"
            connection.exec_driver_sql(f"REVOKE ALL ON TABLE {name} FROM {who}")
            if table in READ_ONLY_TABLES:
                connection.exec_driver_sql(f"GRANT SELECT ON TABLE {name} TO {who}")
                grants.read_only.append(table)
            else:
                connection.exec_driver_sql(f"GRANT {WRITTEN} ON TABLE {name} TO {who}")
                grants.written.append(table)
        for function in DEFINER_FUNCTIONS:
            connection.exec_driver_sql(f"REVOKE ALL ON FUNCTION {where}.{function} FROM PUBLIC")
            connection.exec_driver_sql(f"GRANT EXECUTE ON FUNCTION {where}.{function} TO {who}")
            grants.functions.append(function.split("(")[0])
        connection.exec_driver_sql(
            f"ALTER DEFAULT PRIVILEGES IN SCHEMA {where} GRANT {WRITTEN} ON TABLES TO {who}")
        if connection.execute(text("SELECT has_schema_privilege(:r, :s, 'CREATE')"),
                              {"r": role, "s": schema}).scalar():
            grants.notes.append(
                f"warning: {role} may CREATE in schema {schema} (granted to it or to PUBLIC "
                f"by the schema's owner): revoke it (REVOKE CREATE ON SCHEMA {schema} FROM "
                f"PUBLIC, {role})")
    return grants


def _refuse_powerful(connection: Connection, role: str) -> None:
    """A service role that is a superuser, or a member of the owner, would have the owner's
    powers: refused."""
    row = connection.execute(text(
        "SELECT r.rolsuper OR r.rolbypassrls, pg_has_role(r.oid, current_user, 'USAGE') "
        "FROM pg_roles r WHERE r.rolname = :r"), {"r": role}).one()
    if row[0] or row[1]:
        raise EventStoreError(
            f"the service role {role!r} is a superuser, or the owner itself or one of its "
            "members: it would keep the owner's powers; give the services another role")

"""PostgreSQL roles: the append path runs with the schema owner's rights, so the services' role
needs no UPDATE on the log head (nor any privilege on the log beyond reading it).

- `clearance_append` (0003) becomes SECURITY DEFINER with a fixed search_path (the schema it
  was created in, then pg_temp last): it locks and moves the log head and inserts the events
  as the owner, whatever the caller's search_path holds.
- `clearance_lock_appends()` is new: the log-head row lock (`SELECT ... FOR UPDATE`, which
  needs UPDATE privilege) as a definer function, for a transaction that holds back every
  append (a rebuild's swap); the lock lasts to the end of the caller's transaction.
- EXECUTE on both is revoked from PUBLIC: `clearance migrate` grants it to the service role.

SQLite has no roles: nothing to do.

Revision ID: 0005
Revises: 0004
"""

from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None

APPEND_SIGNATURE = (
    "clearance_append(text, text, integer, timestamptz, text, text[], text[], integer[], "
    "text[], text[], text[], timestamptz[], text[], text[], text[])"
)

PG_LOCK_APPENDS = """
CREATE OR REPLACE FUNCTION clearance_lock_appends() RETURNS bigint
LANGUAGE sql SECURITY DEFINER SET search_path = pg_catalog, {schema}, pg_temp AS $$
    SELECT h.position FROM event_log_head h WHERE h.id = 1 FOR UPDATE
$$
"""


def _schema() -> str:
    name = op.get_bind().exec_driver_sql("SELECT current_schema()").scalar()
    return '"' + str(name).replace('"', '""') + '"'


def upgrade() -> None:
    if op.get_bind().dialect.name != "postgresql":
        return
    schema = _schema()
    op.execute(f"ALTER FUNCTION {APPEND_SIGNATURE} SECURITY DEFINER "
               f"SET search_path = pg_catalog, {schema}, pg_temp")
    op.execute(PG_LOCK_APPENDS.format(schema=schema))
    op.execute(f"REVOKE ALL ON FUNCTION {APPEND_SIGNATURE} FROM PUBLIC")
    op.execute("REVOKE ALL ON FUNCTION clearance_lock_appends() FROM PUBLIC")


def downgrade() -> None:
    if op.get_bind().dialect.name != "postgresql":
        return
    op.execute("DROP FUNCTION IF EXISTS clearance_lock_appends()")
    op.execute(f"ALTER FUNCTION {APPEND_SIGNATURE} SECURITY INVOKER RESET search_path")
    op.execute(f"GRANT EXECUTE ON FUNCTION {APPEND_SIGNATURE} TO PUBLIC")

"""The envelope's `actor` holds the authenticated author as JSON (subject, roles, issuer, token
id), longer than the 200 characters of a name: the column becomes text on PostgreSQL (a change
of type with the same storage: no row is rewritten, no trigger fires). SQLite does not enforce
a VARCHAR length: nothing to do.

Revision ID: 0004
Revises: 0003
"""

from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute("ALTER TABLE events ALTER COLUMN actor TYPE text")


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute("ALTER TABLE events ALTER COLUMN actor TYPE varchar(200)")

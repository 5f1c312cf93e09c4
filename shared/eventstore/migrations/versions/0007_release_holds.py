"""The release service's partner-agency holds read model (`release_holds`, rebuildable from
AgencyHoldPlaced, AgencyHoldDecided, ReleaseRefused and DeclarationInvalidated): what
`GET /holds` lists and the overdue-hold alert counts.

Revision ID: 0007
Revises: 0006
"""

import sqlalchemy as sa
from alembic import op

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "release_holds",
        sa.Column("hold_id", sa.String(60), primary_key=True),
        sa.Column("consignment_id", sa.String(36), nullable=False),
        sa.Column("agency", sa.String(16), nullable=False),
        sa.Column("mrn", sa.String(18), nullable=False),
        sa.Column("office", sa.String(8), nullable=False),
        sa.Column("declaration_version", sa.Integer, nullable=False),
        sa.Column("items", sa.Text, nullable=False),
        sa.Column("placed_at", sa.String(40), nullable=False),
        sa.Column("due_at", sa.String(40), nullable=False),
        sa.Column("state", sa.String(10), nullable=False),
        sa.Column("decided_at", sa.String(40), nullable=False),
        sa.Column("reference", sa.Text, nullable=False),
        sa.Column("note", sa.Text, nullable=False),
        sa.Column("decided_by", sa.Text, nullable=False),
        sa.Column("last_position", sa.BigInteger, nullable=False),
    )
    op.create_index("release_holds_by_state", "release_holds", ["state", "agency"])
    op.create_index("release_holds_by_consignment", "release_holds", ["consignment_id"])
    op.create_index("release_holds_by_mrn", "release_holds", ["mrn"])


def downgrade() -> None:
    op.drop_table("release_holds")

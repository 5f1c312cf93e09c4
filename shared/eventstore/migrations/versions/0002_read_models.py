"""Read models of the four services (projections fed from the log; rebuildable).

Revision ID: 0002
Revises: 0001
"""

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "declaration_status",
        sa.Column("consignment_id", sa.String(36), primary_key=True),
        sa.Column("mrn", sa.String(18), nullable=True, unique=True),
        sa.Column("lrn", sa.String(100), nullable=False),
        sa.Column("declarant_eori", sa.String(20), nullable=False),
        sa.Column("office", sa.String(20), nullable=True),
        sa.Column("transport_mode", sa.String(30), nullable=True),
        sa.Column("version", sa.Integer, nullable=False),
        sa.Column("status_name", sa.String(60), nullable=False),
        sa.Column("status_code", sa.String(2), nullable=False),
        sa.Column("lane", sa.String(10), nullable=True),
        sa.Column("amount_due", sa.String(40), nullable=True),
        sa.Column("amount_paid", sa.String(40), nullable=True),
        sa.Column("currency", sa.String(3), nullable=True),
        sa.Column("lodged_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("released_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("facts", sa.Text, nullable=False),
        sa.Column("last_position", sa.BigInteger, nullable=False),
    )
    op.create_table(
        "risk_cases",
        sa.Column("mrn", sa.String(18), primary_key=True),
        sa.Column("consignment_id", sa.String(36), nullable=False, unique=True),
        sa.Column("lane", sa.String(10), nullable=False),
    )
    op.create_table(
        "payment_cases",
        sa.Column("mrn", sa.String(18), primary_key=True),
        sa.Column("consignment_id", sa.String(36), nullable=False, unique=True),
    )
    op.create_table(
        "payment_references",
        sa.Column("reference", sa.String(100), primary_key=True),
        sa.Column("mrn", sa.String(18), nullable=False),
        sa.Column("fingerprint", sa.String(80), nullable=False),
        sa.Column("event_id", sa.String(36), nullable=False),
    )
    op.create_table(
        "release_cases",
        sa.Column("consignment_id", sa.String(36), primary_key=True),
        sa.Column("facts", sa.Text, nullable=False),
        sa.Column("outcome", sa.String(20), nullable=False),
        sa.Column("last_position", sa.BigInteger, nullable=False),
    )

"""The payment service's accounts read model: each deferment or guarantee account's number,
type, holder and currency (from AccountOpened; rebuildable). A charge locks the account's
row to its COMMIT, so concurrent charges on one account are decided one after the other.

Revision ID: 0006
Revises: 0005
"""

import sqlalchemy as sa
from alembic import op

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "payment_accounts",
        sa.Column("number", sa.String(30), primary_key=True),
        sa.Column("account_type", sa.String(10), nullable=False),
        sa.Column("holder_eori", sa.String(20), nullable=False),
        sa.Column("currency", sa.String(3), nullable=False),
    )


def downgrade() -> None:
    op.drop_table("payment_accounts")

"""The amount repayable on a declaration: what was paid beyond the amount due."""

from __future__ import annotations

import pytest

from services.declaration.domain.repayment import amount_repayable


@pytest.mark.parametrize(("due", "paid", "repayable"), [
    (None, None, "0.00"),  # not assessed yet
    ("120.00", None, "0.00"),
    ("120.00", "100.00", "0.00"),  # still owed, nothing to repay
    ("120.00", "120.00", "0.00"),
    ("120.00", "125.5", "5.50"),
    ("0.00", "10", "10.00"),
])
def test_the_amount_paid_beyond_the_amount_due_is_repayable(
        due: str | None, paid: str | None, repayable: str) -> None:
    assert amount_repayable(due, paid) == repayable

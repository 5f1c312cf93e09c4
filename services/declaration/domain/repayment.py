"""What customs owes back on a declaration (pure).

UCC arts. 116-120: an amount paid beyond the debt is repaid, and everything paid on an
invalidated declaration (art. 117: the debt is extinguished). Until the revenue work records
repayment decisions and repayments as their own facts, the amount repayable is the amount
paid beyond the amount due, or all of it once invalidated, in the national currency: "0.00"
when nothing is.
"""

from __future__ import annotations

from decimal import Decimal


def amount_repayable(amount_due: str | None, amount_paid: str | None, *,
                     invalidated: bool = False) -> str:
    """The amount paid beyond the amount due (decimal strings), or all that was paid when
    `invalidated`, as a decimal string with two places; "0.00" when nothing was paid, or the
    duty is not assessed yet, or nothing was overpaid."""
    if amount_paid is None:
        return "0.00"
    if invalidated:
        return str(Decimal(amount_paid).quantize(Decimal("0.01")))
    if amount_due is None:
        return "0.00"
    over = Decimal(amount_paid) - Decimal(amount_due)
    return str(max(over, Decimal(0)).quantize(Decimal("0.01")))

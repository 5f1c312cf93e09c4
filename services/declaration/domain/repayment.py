"""What customs owes back on a declaration, as the declarant reads it (pure).

The payment service decides repayments (UCC arts. 116-120: what was paid beyond the debt,
everything paid on an invalidated declaration; `services/payment/domain/revenue.py`) and
records the repayments paid out. The declaration's `amount_repayable` is what was decided and
not paid out yet, from those facts, in the national currency: "0.00" when nothing is.
"""

from __future__ import annotations

from collections.abc import Mapping
from decimal import Decimal
from typing import Any


def amount_repayable(facts: Mapping[str, Mapping[str, Any]]) -> str:
    """Repayments decided less repayments paid out (decimal string, two places)."""
    total = Decimal(0)
    for fact in facts.values():
        if fact["type"] == "RepaymentDecided":
            total += Decimal(fact["data"]["amount"])
        elif fact["type"] == "RepaymentPaid":
            total -= Decimal(fact["data"]["amount"])
    return str(total.quantize(Decimal("0.01")))

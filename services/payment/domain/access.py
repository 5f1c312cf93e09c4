"""Who may record a payment (pure: the caller arrives as a value): a cashier; a cashier of a
trader (its token names the trader's `eori`) only for that trader's declarations. Anyone else
is answered as if the declaration did not exist."""

from __future__ import annotations

from shared.identity import Caller


def may_pay(caller: Caller, declarant_eori: str | None) -> bool:
    """`declarant_eori`: the declaration's declarant (needed only for a trader's cashier)."""
    return caller.has("cashier") and (caller.eori is None or caller.eori == declarant_eori)

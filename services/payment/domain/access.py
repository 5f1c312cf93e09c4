"""Who may do what on the payment service (pure: the caller arrives as a value). A payment: a
cashier; a cashier of a trader (its token names the trader's `eori`) only for that trader's
declarations. Anyone else is answered as if the declaration or the account did not exist."""

from __future__ import annotations

from shared.identity import Caller


def may_pay(caller: Caller, declarant_eori: str | None) -> bool:
    """`declarant_eori`: the declaration's declarant (needed only for a trader's cashier)."""
    return caller.has("cashier") and (caller.eori is None or caller.eori == declarant_eori)


def may_check(caller: Caller, office: str) -> bool:
    """An officer at the declaration's office records what a post-clearance check found."""
    return caller.has("officer") and office in caller.offices


def may_read_account(caller: Caller, holder_eori: str) -> bool:
    """Operators, officers and auditors read any account; a holder (a token naming its
    `eori`) its own."""
    if caller.has("operator", "officer", "auditor"):
        return True
    return caller.eori is not None and caller.eori == holder_eori

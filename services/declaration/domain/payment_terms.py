"""Whether the account a declaration's `payment` block names may settle its debt (pure): it
exists, the declarant holds it, it is of the method's type, open, and kept in the national
currency. Checked at lodgement and amendment from the account's own events (the log the
payment service writes), so a declaration naming an account it may not use is refused with
nothing stored; whether the account has the balance is the payment service's to decide when
it charges the assessed debt (status `insufficient_balance` otherwise)."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from shared.events.payment import AccountClosed, AccountOpened

from .declaration import Declaration, PaymentMethod
from .validation import Problem

POINTER = "/payment/account"


def account_problems(declaration: Declaration, account_events: Iterable[Any],
                     national_currency: str) -> list[Problem]:
    """The problems of the account `declaration.payment` names, from its events (none: it may
    be used; an immediate payment names no account and has none)."""
    terms = declaration.payment
    if terms is None or terms.method is PaymentMethod.IMMEDIATE or terms.account is None:
        return []
    opened: AccountOpened | None = None
    closed = False
    for payload in account_events:
        if isinstance(payload, AccountOpened):
            opened = payload
        elif isinstance(payload, AccountClosed):
            closed = True
    # Another holder's account is answered as one that does not exist: numbers are not probed.
    if opened is None or opened.holder_eori != declaration.declarant.eori:
        return [Problem(POINTER, f"No {terms.method.value} account {terms.account} of "
                                 f"{declaration.declarant.eori}.")]
    if opened.account_type != terms.method.value:
        return [Problem(POINTER, f"Account {terms.account} is a {opened.account_type} "
                                 f"account, not a {terms.method.value} account.")]
    if closed:
        return [Problem(POINTER, f"Account {terms.account} is closed.")]
    if opened.currency != national_currency:
        return [Problem(POINTER, f"Account {terms.account} is kept in {opened.currency}, "
                                 f"not {national_currency}.")]
    return []

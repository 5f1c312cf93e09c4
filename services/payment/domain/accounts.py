"""Deferment and guarantee accounts (pure): the balance of an account is the fold of its own
events, and a charge is decided against that fold.

- A **deferment account** (e.g. a UK duty deferment account): a declaration's debt is
  charged to it and counts as settled for customs; what was charged in a period is collected
  from the holder by direct debit at the period's end. `limit` bounds what may be charged in
  one period: available = limit - charged since the last direct debit.
- A **guarantee account** (UCC arts. 89-95: a comprehensive guarantee's reference amount):
  a declaration's debt is secured by it, the goods may be released, and the reservation is
  freed once the debt is paid or the declaration is invalidated: available = limit -
  reserved.

A charge that the account cannot take is refused and nothing is charged: `insufficient_balance`
waits on the account (`waiting`, in the order refused) and is tried again whenever the
account allows more (a higher limit, a direct debit, a freed reservation). Every amount is a
Decimal in the account's currency, with that currency's minor units.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field, replace
from datetime import date
from decimal import Decimal
from enum import Enum
from typing import Any

from shared.events import payment as events

from .duty import decimal_places


class AccountType(Enum):
    DEFERMENT = "deferment"
    GUARANTEE = "guarantee"


class Refusal(Enum):
    """Why a debt cannot be charged to (or secured by) an account."""

    INSUFFICIENT_BALANCE = "insufficient_balance"
    UNKNOWN_ACCOUNT = "unknown_account"
    NOT_HOLDER = "not_holder"  # the declarant does not hold the account
    CLOSED = "closed"
    WRONG_TYPE = "wrong_type"  # a deferment account named for a guarantee, or the reverse
    CURRENCY = "currency"  # the account is in another currency than the debt

    @property
    def waits(self) -> bool:
        """Whether the charge is tried again when the account allows it."""
        return self is Refusal.INSUFFICIENT_BALANCE


class AccountError(ValueError):
    """A request about an account that cannot be met (nothing is recorded)."""

    kind = "account"


class InvalidLimit(AccountError):
    kind = "invalid-limit"


class AccountClosedError(AccountError):
    kind = "account-closed"


class AccountExists(AccountError):
    kind = "account-exists"


@dataclass(frozen=True)
class Waiting:
    """A charge refused for want of balance, waiting on the account."""

    consignment_id: str
    mrn: str
    declaration_version: int
    amount: Decimal


@dataclass(frozen=True)
class Statement:
    """One closed deferment period: what its direct debit collected, for how many charges."""

    period_end: date
    amount: Decimal
    charges: int


@dataclass(frozen=True)
class Entry:
    """One line of the account's statement (what `GET /accounts/{number}` lists)."""

    position: int
    at: str
    kind: str
    amount: Decimal
    consignment_id: str | None = None
    mrn: str | None = None
    detail: str = ""


@dataclass(frozen=True)
class Account:
    number: str
    account_type: AccountType
    holder_eori: str
    currency: str
    limit: Decimal
    closed: bool = False
    charged: Decimal = Decimal(0)  # deferment: charged in the current period
    # guarantee: consignment -> amount reserved for its debt
    reserved: Mapping[str, Decimal] = field(default_factory=dict)
    # deferment: consignment -> amount charged and not taken back (collected or not: what
    # settled the declaration's debt through this account)
    charged_total: Mapping[str, Decimal] = field(default_factory=dict)
    # deferment: consignment -> amount charged and not collected yet (what can be taken back)
    uncollected: Mapping[str, Decimal] = field(default_factory=dict)
    waiting: tuple[Waiting, ...] = ()
    statements: tuple[Statement, ...] = ()  # deferment: the periods closed by direct debit
    aeo_reduction_pct: int = 0  # guarantee: the reduction of the security an AEO lodges
    version: int = 0  # events folded (the stream's version)

    @property
    def security_lodged(self) -> Decimal:
        """Guarantee: the security the holder lodged for its reference amount (`limit`)."""
        return self.limit * (100 - self.aeo_reduction_pct) / 100

    @property
    def reserved_total(self) -> Decimal:
        return sum(self.reserved.values(), Decimal(0))

    @property
    def available(self) -> Decimal:
        used = self.charged if self.account_type is AccountType.DEFERMENT else self.reserved_total
        return max(self.limit - used, Decimal(0))

    def refusal(self, *, method: str, declarant_eori: str, currency: str,
                amount: Decimal) -> Refusal | None:
        """Why `amount` of a declaration's debt cannot be charged (deferment) or secured
        (guarantee) by this account, or None when it can."""
        if self.holder_eori != declarant_eori:
            return Refusal.NOT_HOLDER
        if self.account_type.value != method:
            return Refusal.WRONG_TYPE
        if self.closed:
            return Refusal.CLOSED
        if self.currency != currency:
            return Refusal.CURRENCY
        if amount > self.available:
            return Refusal.INSUFFICIENT_BALANCE
        return None

    def secured_for(self, consignment_id: str) -> Decimal:
        return self.reserved.get(consignment_id, Decimal(0))

    def charged_for(self, consignment_id: str) -> Decimal:
        """Charged for the declaration and not taken back, whether collected or not."""
        return self.charged_total.get(consignment_id, Decimal(0))

    def uncollected_for(self, consignment_id: str) -> Decimal:
        """Charged for the declaration and not collected yet: what can still be taken back."""
        return self.uncollected.get(consignment_id, Decimal(0))


def charge_refusal(account: Account | None, *, method: str, declarant_eori: str,
                   currency: str, amount: Decimal) -> Refusal | None:
    """`Account.refusal`, with `unknown_account` for an account that does not exist."""
    if account is None:
        return Refusal.UNKNOWN_ACCOUNT
    return account.refusal(method=method, declarant_eori=declarant_eori, currency=currency,
                           amount=amount)


def check_limit(limit: Decimal, minor_units: int) -> None:
    """A limit is a positive amount in the currency's minor units."""
    if not isinstance(limit, Decimal) or not limit.is_finite() or limit <= 0:
        raise InvalidLimit(f"the limit must be a positive amount, not {limit}")
    if decimal_places(limit) > minor_units:
        raise InvalidLimit(f"the limit has more than {minor_units} decimal places")


def apply(account: Account | None, payload: Any) -> Account | None:
    """The account after one of its events (`None` before it is opened)."""
    if isinstance(payload, events.AccountOpened):
        return Account(payload.number, AccountType(payload.account_type), payload.holder_eori,
                       payload.currency, payload.limit,
                       aeo_reduction_pct=payload.aeo_reduction_pct, version=1)
    if account is None:
        return None
    account = replace(account, version=account.version + 1)
    match payload:
        case events.AccountLimitChanged():
            return replace(account, limit=payload.limit)
        case events.AccountClosed():
            return replace(account, closed=True)
        case events.DebtCharged():
            return replace(account, charged=account.charged + payload.amount,
                           charged_total=_add(account.charged_total, payload.consignment_id,
                                              payload.amount),
                           uncollected=_add(account.uncollected, payload.consignment_id,
                                            payload.amount),
                           waiting=_without(account.waiting, payload.consignment_id))
        case events.DebtSecured():
            return replace(account, reserved=_add(account.reserved, payload.consignment_id,
                                                  payload.amount),
                           waiting=_without(account.waiting, payload.consignment_id))
        case events.SecurityReleased():
            return replace(account, reserved=_add(account.reserved, payload.consignment_id,
                                                  -payload.amount))
        case events.ChargeCancelled():
            return replace(account, charged=account.charged - payload.amount,
                           charged_total=_add(account.charged_total, payload.consignment_id,
                                              -payload.amount),
                           uncollected=_add(account.uncollected, payload.consignment_id,
                                            -payload.amount))
        case events.ChargeRefused() if Refusal(payload.reason).waits:
            waiting = _without(account.waiting, payload.consignment_id)
            return replace(account, waiting=(*waiting, Waiting(
                payload.consignment_id, payload.mrn, payload.declaration_version,
                payload.amount)))
        case events.DirectDebitCollected():
            return replace(account, charged=Decimal(0), uncollected={}, statements=(
                *account.statements,
                Statement(payload.period_end, payload.amount, payload.charges)))
    return account


def fold(payloads: Iterable[Any]) -> Account | None:
    account: Account | None = None
    for payload in payloads:
        account = apply(account, payload)
    return account


def entry(position: int, at: str, payload: Any) -> Entry | None:
    """The statement line of one account event (None for the opening)."""
    match payload:
        case events.AccountLimitChanged():
            return Entry(position, at, "limit_changed", payload.limit,
                         detail=f"from {payload.previous_limit}")
        case events.AccountClosed():
            return Entry(position, at, "closed", Decimal(0), detail=payload.reason)
        case events.DebtCharged():
            return Entry(position, at, "charged", payload.amount, payload.consignment_id,
                         payload.mrn, f"declaration version {payload.declaration_version}")
        case events.DebtSecured():
            return Entry(position, at, "secured", payload.amount, payload.consignment_id,
                         payload.mrn, f"declaration version {payload.declaration_version}")
        case events.SecurityReleased():
            return Entry(position, at, "security_released", payload.amount,
                         payload.consignment_id, payload.mrn, payload.cause)
        case events.ChargeCancelled():
            return Entry(position, at, "charge_cancelled", payload.amount,
                         payload.consignment_id, payload.mrn, payload.cause)
        case events.ChargeRefused():
            return Entry(position, at, "refused", payload.amount, payload.consignment_id,
                         payload.mrn, f"{payload.reason}: {payload.available} available")
        case events.DirectDebitCollected():
            return Entry(position, at, "direct_debit", payload.amount,
                         detail=f"period ending {payload.period_end.isoformat()}, "
                                f"{payload.charges} charges")
    return None


def _add(amounts: Mapping[str, Decimal], key: str, amount: Decimal) -> dict[str, Decimal]:
    total = amounts.get(key, Decimal(0)) + amount
    changed = {k: v for k, v in amounts.items() if k != key}
    if total != 0:
        changed[key] = total
    return changed


def _without(waiting: tuple[Waiting, ...], consignment_id: str) -> tuple[Waiting, ...]:
    return tuple(w for w in waiting if w.consignment_id != consignment_id)

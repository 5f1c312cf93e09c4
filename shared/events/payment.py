"""Events of the payment service (category `payment`)."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal
from typing import Any, ClassVar

from marshmallow import validate

from .risk import first_declaration_version

CATEGORY = "payment"

PAYMENT_METHODS = ("immediate", "deferment", "guarantee")
ACCOUNT_TYPES = ("deferment", "guarantee")
# Why a charge to an account was refused. Only `insufficient_balance` waits for the account
# (status 14); the others are answered by paying another way.
CHARGE_REFUSALS = ("insufficient_balance", "unknown_account", "not_holder", "closed",
                   "wrong_type", "currency")
AEO_REDUCTIONS = (0, 50, 70, 100)  # of the reference amount: 50 %, 30 %, or no security
_POSITIVE = {"validate": validate.Range(min=0, min_inclusive=False)}
_NOT_NEGATIVE = {"validate": validate.Range(min=0)}


@dataclass(frozen=True)
class DutyAssessed:
    """Duty and VAT assessed, with every term of the working, the tariff version, the
    exchange rate and its date, and the rounding rule, so an auditor can re-derive it.
    Version 2: `declaration_version`, the version of the declaration assessed (an amendment
    is assessed again; its amount due replaces the earlier one). Version 3: how the
    declarant said the debt is settled (`payment_method`, and the `account` charged or
    securing it for `deferment` and `guarantee`)."""

    TYPE: ClassVar[str] = "DutyAssessed"
    VERSION: ClassVar[int] = 3
    CATEGORY: ClassVar[str] = CATEGORY
    consignment_id: str
    mrn: str
    currency: str
    duty_total: Decimal
    vat_total: Decimal
    amount_due: Decimal
    tariff_version: str
    rates_version: str
    rounding: str
    working: dict[str, Any]
    declaration_version: int = field(default=1, metadata={"validate": validate.Range(min=1)})
    payment_method: str = field(default="immediate",
                                metadata={"validate": validate.OneOf(PAYMENT_METHODS)})
    account: str | None = None


@dataclass(frozen=True)
class DutyAssessedV2:
    """Version 2 of DutyAssessed: no payment method (always immediate)."""

    TYPE: ClassVar[str] = "DutyAssessed"
    VERSION: ClassVar[int] = 2
    CATEGORY: ClassVar[str] = CATEGORY
    consignment_id: str
    mrn: str
    currency: str
    duty_total: Decimal
    vat_total: Decimal
    amount_due: Decimal
    tariff_version: str
    rates_version: str
    rounding: str
    working: dict[str, Any]
    declaration_version: int = field(default=1, metadata={"validate": validate.Range(min=1)})


@dataclass(frozen=True)
class DutyAssessedV1:
    """Version 1 of DutyAssessed: no declaration version (always the first)."""

    TYPE: ClassVar[str] = "DutyAssessed"
    VERSION: ClassVar[int] = 1
    CATEGORY: ClassVar[str] = CATEGORY
    consignment_id: str
    mrn: str
    currency: str
    duty_total: Decimal
    vat_total: Decimal
    amount_due: Decimal
    tariff_version: str
    rates_version: str
    rounding: str
    working: dict[str, Any]


@dataclass(frozen=True)
class PaymentReceived:
    """A payment (idempotent on its reference). The balance after it is recorded: a positive
    `balance_due` is still owed, a positive `credit` was overpaid."""

    TYPE: ClassVar[str] = "PaymentReceived"
    VERSION: ClassVar[int] = 1
    CATEGORY: ClassVar[str] = CATEGORY
    consignment_id: str
    mrn: str
    reference: str
    amount: Decimal
    currency: str
    balance_due: Decimal
    credit: Decimal


# -- accounts: each on its own stream `payment-account-<number>`, the account's ledger ------
# The balance of an account is the fold of its stream (`services/payment/domain/accounts.py`).
# Events about a declaration's debt carry its consignment as correlation id.


def account_stream(number: str) -> str:
    """The stream of the deferment or guarantee account `number`."""
    return f"{CATEGORY}-account-{number}"


@dataclass(frozen=True)
class AccountOpened:
    """A deferment account (debts charged to it, collected by direct debit at the end of each
    period; `limit`: what may be charged in one period) or a guarantee account (debts secured
    by it until paid; `limit`: the reference amount), held by `holder_eori`."""

    TYPE: ClassVar[str] = "AccountOpened"
    VERSION: ClassVar[int] = 1
    CATEGORY: ClassVar[str] = CATEGORY
    number: str
    account_type: str = field(metadata={"validate": validate.OneOf(ACCOUNT_TYPES)})
    holder_eori: str
    limit: Decimal = field(metadata=_POSITIVE)
    currency: str
    # A guarantee's reduction for an authorised economic operator (UCC art. 95(3), IA art.
    # 158): the security lodged is the reference amount less this percentage.
    aeo_reduction_pct: int = field(default=0,
                                   metadata={"validate": validate.OneOf(AEO_REDUCTIONS)})


@dataclass(frozen=True)
class AccountLimitChanged:
    TYPE: ClassVar[str] = "AccountLimitChanged"
    VERSION: ClassVar[int] = 1
    CATEGORY: ClassVar[str] = CATEGORY
    number: str
    limit: Decimal = field(metadata=_POSITIVE)
    previous_limit: Decimal


@dataclass(frozen=True)
class AccountClosed:
    """No more charges or securities on the account (what it holds stays until settled)."""

    TYPE: ClassVar[str] = "AccountClosed"
    VERSION: ClassVar[int] = 1
    CATEGORY: ClassVar[str] = CATEGORY
    number: str
    reason: str = field(metadata={"validate": validate.Length(min=1, max=500)})


@dataclass(frozen=True)
class DebtCharged:
    """A declaration's debt charged to a deferment account: settled for customs (the
    declaration can be released and cleared), collected from the holder by direct debit."""

    TYPE: ClassVar[str] = "DebtCharged"
    VERSION: ClassVar[int] = 1
    CATEGORY: ClassVar[str] = CATEGORY
    number: str
    consignment_id: str
    mrn: str
    declaration_version: int
    amount: Decimal = field(metadata=_POSITIVE)
    currency: str


@dataclass(frozen=True)
class DebtSecured:
    """A declaration's debt secured by a guarantee account (reserved from its reference
    amount): the goods may be released; the debt is still to be paid, and the reservation is
    freed once it is, or once the declaration is invalidated (`SecurityReleased`)."""

    TYPE: ClassVar[str] = "DebtSecured"
    VERSION: ClassVar[int] = 1
    CATEGORY: ClassVar[str] = CATEGORY
    number: str
    consignment_id: str
    mrn: str
    declaration_version: int
    amount: Decimal = field(metadata=_POSITIVE)
    currency: str


@dataclass(frozen=True)
class SecurityReleased:
    """A guarantee's reservation for a declaration freed: `cause` "paid" (the debt was paid),
    "invalidated" (the debt was extinguished), or "amendment" (in part: an amended version
    owes less than was reserved)."""

    TYPE: ClassVar[str] = "SecurityReleased"
    VERSION: ClassVar[int] = 1
    CATEGORY: ClassVar[str] = CATEGORY
    number: str
    consignment_id: str
    mrn: str
    amount: Decimal = field(metadata=_POSITIVE)
    cause: str = field(metadata={"validate": validate.OneOf(["paid", "invalidated",
                                                             "amendment"])})


@dataclass(frozen=True)
class ChargeCancelled:
    """A deferment charge taken back before it was collected: the declaration was
    invalidated (UCC art. 117: the debt is extinguished), or an amendment lowered its debt
    below what was charged."""

    TYPE: ClassVar[str] = "ChargeCancelled"
    VERSION: ClassVar[int] = 1
    CATEGORY: ClassVar[str] = CATEGORY
    number: str
    consignment_id: str
    mrn: str
    amount: Decimal = field(metadata=_POSITIVE)
    cause: str = field(metadata={"validate": validate.OneOf(["invalidated", "amendment"])})


@dataclass(frozen=True)
class ChargeRefused:
    """A debt could not be charged to or secured by the account the declaration named:
    nothing was charged. `insufficient_balance` (status 14) is recorded on the account's
    stream and is charged again when the account allows it (a higher limit, a direct debit,
    a freed reservation); the other reasons on the declaration's payment stream: the debt is
    to be paid another way. `available`: what the account had (0 when unknown)."""

    TYPE: ClassVar[str] = "ChargeRefused"
    VERSION: ClassVar[int] = 1
    CATEGORY: ClassVar[str] = CATEGORY
    number: str
    consignment_id: str
    mrn: str
    declaration_version: int
    payment_method: str = field(metadata={"validate": validate.OneOf(ACCOUNT_TYPES)})
    amount: Decimal
    available: Decimal
    reason: str = field(metadata={"validate": validate.OneOf(CHARGE_REFUSALS)})


@dataclass(frozen=True)
class DirectDebitCollected:
    """The end of a deferment period: what was charged in it is collected from the holder by
    direct debit, and the period's limit is available again."""

    TYPE: ClassVar[str] = "DirectDebitCollected"
    VERSION: ClassVar[int] = 1
    CATEGORY: ClassVar[str] = CATEGORY
    number: str
    period_end: date
    amount: Decimal = field(metadata=_NOT_NEGATIVE)
    charges: int = field(metadata=_NOT_NEGATIVE)  # the declarations charged in the period


# -- what the declaration owes beyond its assessment, and what customs owes back -----------

DEBT_CAUSES = ("amendment", "control_finding", "post_clearance_check")
REPAYMENT_CAUSES = ("overpayment", "amendment", "invalidation")


@dataclass(frozen=True)
class AdditionalDebtNotified:
    """A customs debt beyond the one entered (UCC arts. 102 and 105(4)): notified to the
    declarant with its legal basis, and due by `due_date` (art. 108(1): within 10 days of
    the notification). `cause`: a post-release amendment that raised the duty, a control's
    finding (the additional duty of a release after payment), or a post-clearance check."""

    TYPE: ClassVar[str] = "AdditionalDebtNotified"
    VERSION: ClassVar[int] = 1
    CATEGORY: ClassVar[str] = CATEGORY
    consignment_id: str
    mrn: str
    declaration_version: int
    amount: Decimal = field(metadata=_POSITIVE)
    currency: str
    cause: str = field(metadata={"validate": validate.OneOf(DEBT_CAUSES)})
    legal_basis: str
    due_date: date
    detail: str  # what was found or changed, in words


@dataclass(frozen=True)
class DebtWrittenOff:
    """What is left of a declaration's debt written off by the accounting office (an
    irrecoverable amount, or one remitted: UCC arts. 116(1) and 120): settled for customs, and
    posted as a loss of revenue, never as money received."""

    TYPE: ClassVar[str] = "DebtWrittenOff"
    VERSION: ClassVar[int] = 1
    CATEGORY: ClassVar[str] = CATEGORY
    consignment_id: str
    mrn: str
    declaration_version: int
    amount: Decimal = field(metadata=_POSITIVE)
    currency: str
    reason: str = field(metadata={"validate": validate.Length(min=1, max=500)})


@dataclass(frozen=True)
class RepaymentDecided:
    """Customs decided to repay `amount` (UCC arts. 116-117): paid beyond the debt, a debt
    lowered by an amendment, or everything paid on an invalidated declaration."""

    TYPE: ClassVar[str] = "RepaymentDecided"
    VERSION: ClassVar[int] = 1
    CATEGORY: ClassVar[str] = CATEGORY
    consignment_id: str
    mrn: str
    amount: Decimal = field(metadata=_POSITIVE)
    currency: str
    cause: str = field(metadata={"validate": validate.OneOf(REPAYMENT_CAUSES)})
    legal_basis: str


@dataclass(frozen=True)
class RepaymentPaid:
    """A repayment paid out to the declarant (idempotent on its reference)."""

    TYPE: ClassVar[str] = "RepaymentPaid"
    VERSION: ClassVar[int] = 1
    CATEGORY: ClassVar[str] = CATEGORY
    consignment_id: str
    mrn: str
    reference: str
    amount: Decimal = field(metadata=_POSITIVE)
    currency: str


def immediate_payment(data: dict[str, Any]) -> dict[str, Any]:
    """DutyAssessed 2 -> 3: recorded before payment methods, the debt was paid at once."""
    return {**data, "payment_method": "immediate", "account": None}


EVENTS = [DutyAssessed, PaymentReceived, AccountOpened, AccountLimitChanged, AccountClosed,
          DebtCharged, DebtSecured, SecurityReleased, ChargeCancelled, ChargeRefused,
          DirectDebitCollected, AdditionalDebtNotified, DebtWrittenOff, RepaymentDecided,
          RepaymentPaid]
OLD_VERSIONS = {DutyAssessed: {1: (DutyAssessedV1, first_declaration_version),
                               2: (DutyAssessedV2, immediate_payment)}}

"""The payment domain's named errors (the HTTP/RPC edge maps them to responses in one table).

Lookups in the reference data raise their own named errors, which `assess` lets through:
`shared.reference.TariffVersionNotFound`, `CommodityCodeNotFound` and `ExchangeRateNotFound`.
"""

from __future__ import annotations

from decimal import Decimal


class PaymentDomainError(Exception):
    """Base class of the payment domain's errors."""


# --- duty assessment -------------------------------------------------------------------------


class DutyError(PaymentDomainError):
    """Base class of the errors `assess` raises."""


class InvalidDutyInput(DutyError):
    """An input the assessment cannot use; `pointer` is a JSON pointer into the declaration."""

    def __init__(self, pointer: str, message: str) -> None:
        super().__init__(f"{pointer}: {message}")
        self.pointer = pointer
        self.message = message


class UnknownIncoterm(InvalidDutyInput):
    """The incoterm is not in the valuation policy's table."""

    def __init__(self, incoterm: str) -> None:
        super().__init__("/incoterm", f"unknown incoterm {incoterm!r}")
        self.incoterm = incoterm


class UnknownCurrency(InvalidDutyInput):
    """A currency has no known minor units (not an active ISO 4217 code)."""

    def __init__(self, pointer: str, currency: str) -> None:
        super().__init__(pointer, f"unknown currency {currency!r}")
        self.currency = currency


class SupplementaryUnitMissing(InvalidDutyInput):
    """The measure is per a unit (e.g. litres) the item's quantity is not declared in."""

    def __init__(self, pointer: str, needed: str, declared: str) -> None:
        super().__init__(
            pointer, f"the measure needs a quantity in {needed!r}, the item is in {declared!r}"
        )
        self.needed = needed
        self.declared = declared


class CurrencyMismatch(DutyError):
    """The tariff and the exchange rates are in different national currencies."""

    def __init__(self, tariff_currency: str, rates_currency: str) -> None:
        super().__init__(
            f"the tariff is in {tariff_currency}, the exchange rates convert to {rates_currency}"
        )
        self.tariff_currency = tariff_currency
        self.rates_currency = rates_currency


class AssessmentRecordInvalid(DutyError):
    """A recorded assessment (JSON-ready dict) cannot be read back."""


class AssessmentMismatch(DutyError):
    """Re-deriving a recorded assessment gave different amounts; `differences` lists the paths."""

    def __init__(self, differences: tuple[str, ...]) -> None:
        shown = ", ".join(differences[:10]) + (" ..." if len(differences) > 10 else "")
        super().__init__(f"the re-derived assessment differs at {shown}")
        self.differences = differences


# --- payment ledger --------------------------------------------------------------------------


class LedgerError(PaymentDomainError):
    """Base class of the payment ledger's errors."""


class PaymentReferenceConflict(LedgerError):
    """A payment reference already recorded arrives with a different body."""

    def __init__(self, reference: str) -> None:
        super().__init__(f"payment reference {reference!r} was already used for another payment")
        self.reference = reference


class PaymentCurrencyNotAccepted(LedgerError):
    """Payments are accepted in the national currency only."""

    def __init__(self, currency: str, accepted: str) -> None:
        super().__init__(f"payments are accepted in {accepted} only, not {currency}")
        self.currency = currency
        self.accepted = accepted


class InvalidPaymentAmount(LedgerError):
    """The amount is not positive or has more decimals than the currency's minor units."""

    def __init__(self, amount: Decimal, message: str) -> None:
        super().__init__(f"payment amount {amount}: {message}")
        self.amount = amount


class PaymentForAnotherDeclaration(LedgerError):
    """A payment was offered to the ledger of a different declaration."""

    def __init__(self, payment_mrn: str, ledger_mrn: str) -> None:
        super().__init__(f"payment for {payment_mrn} offered to the ledger of {ledger_mrn}")
        self.payment_mrn = payment_mrn
        self.ledger_mrn = ledger_mrn

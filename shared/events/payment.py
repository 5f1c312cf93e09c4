"""Events of the payment service (category `payment`)."""

from __future__ import annotations

from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any, ClassVar

from marshmallow import validate

from .risk import first_declaration_version

CATEGORY = "payment"


@dataclass(frozen=True)
class DutyAssessed:
    """Duty and VAT assessed, with every term of the working, the tariff version, the
    exchange rate and its date, and the rounding rule, so an auditor can re-derive it.
    Version 2: `declaration_version`, the version of the declaration assessed (an amendment
    is assessed again; its amount due replaces the earlier one)."""

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


EVENTS = [DutyAssessed, PaymentReceived]
OLD_VERSIONS = {DutyAssessed: {1: (DutyAssessedV1, first_declaration_version)}}

"""Events of the payment service (category `payment`)."""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal
from typing import Any, ClassVar

from marshmallow import Schema, fields

CATEGORY = "payment"


@dataclass(frozen=True)
class DutyAssessed:
    """Duty and VAT assessed, with every term of the working, the tariff version, the
    exchange rate and its date, and the rounding rule, so an auditor can re-derive it."""

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


class DutyAssessedV1(Schema):
    consignment_id = fields.String(required=True)
    mrn = fields.String(required=True)
    currency = fields.String(required=True)
    duty_total = fields.Decimal(required=True, as_string=True)
    vat_total = fields.Decimal(required=True, as_string=True)
    amount_due = fields.Decimal(required=True, as_string=True)
    tariff_version = fields.String(required=True)
    rates_version = fields.String(required=True)
    rounding = fields.String(required=True)
    working = fields.Dict(required=True)


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


class PaymentReceivedV1(Schema):
    consignment_id = fields.String(required=True)
    mrn = fields.String(required=True)
    reference = fields.String(required=True)
    amount = fields.Decimal(required=True, as_string=True)
    currency = fields.String(required=True)
    balance_due = fields.Decimal(required=True, as_string=True)
    credit = fields.Decimal(required=True, as_string=True)


EVENTS = [
    (DutyAssessed, DutyAssessedV1),
    (PaymentReceived, PaymentReceivedV1),
]

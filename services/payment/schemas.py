"""HTTP request and response schemas of the payment service (not events)."""

from marshmallow import Schema, fields, validate

from shared.web.fields import DecimalString, IsoDate


class PaymentSchema(Schema):
    """`POST /payments`."""

    class Meta:
        unknown = "raise"

    mrn = fields.String(required=True, validate=validate.Regexp(
        r"^[0-9]{2}[A-Z]{2}[A-Z0-9]{12}[A-Z][0-9]\Z", error="not an MRN (18 characters, e.g. 26GB...)"))
    reference = fields.String(required=True, validate=validate.Length(min=1, max=100))
    amount = DecimalString(max_places=4)
    currency = fields.String(required=True, validate=validate.Regexp(
        r"^[A-Z]{3}\Z", error="an ISO 4217 code, e.g. GBP"))


class RepaymentSchema(PaymentSchema):
    """`POST /repayments` (cashier): a repayment paid out to the declarant, within what was
    decided repayable (idempotent on its reference within the declaration)."""


class DebtSchema(Schema):
    """`POST /additional-debts` (officer at the declaration's office): a debt a post-clearance
    check found on released goods."""

    class Meta:
        unknown = "raise"

    mrn = PaymentSchema().fields["mrn"]
    amount = DecimalString(max_places=4)
    finding = fields.String(required=True, validate=validate.Length(min=1, max=2000))


class WriteOffSchema(Schema):
    """`POST /write-offs` (operator): write off what is owed on a declaration, or part."""

    class Meta:
        unknown = "raise"

    mrn = PaymentSchema().fields["mrn"]
    amount = DecimalString(max_places=4)
    reason = fields.String(required=True, validate=validate.Length(min=1, max=500))


class WrittenOffSchema(Schema):
    mrn = fields.String(required=True)
    amount = fields.String(required=True)
    currency = fields.String(required=True)
    reason = fields.String(required=True)
    still_owed = fields.String(required=True)
    recorded_at = fields.String(required=True)


class DebtNotifiedSchema(Schema):
    mrn = fields.String(required=True)
    declaration_version = fields.Integer(required=True)
    amount = fields.String(required=True)
    currency = fields.String(required=True)
    cause = fields.String(required=True)
    legal_basis = fields.String(required=True)
    due_date = fields.String(required=True)
    detail = fields.String(required=True)
    notified_at = fields.String(required=True)


class RepaymentRecordedSchema(Schema):
    mrn = fields.String(required=True)
    reference = fields.String(required=True)
    amount = fields.String(required=True)
    currency = fields.String(required=True)
    still_repayable = fields.String(required=True)
    recorded_at = fields.String(required=True)


class PaymentRecordedSchema(Schema):
    mrn = fields.String(required=True)
    reference = fields.String(required=True)
    amount = fields.String(required=True)
    currency = fields.String(required=True)
    balance_due = fields.String(required=True)
    credit = fields.String(required=True)
    recorded_at = fields.String(required=True)


ACCOUNT_NUMBER = validate.Regexp(
    r"^[A-Z0-9][A-Z0-9-]{0,29}\Z",
    error="an account number is 1 to 30 capital letters, digits or '-', e.g. DAN1234567")


class AccountSchema(Schema):
    """`POST /accounts` (operator): open a deferment or guarantee account."""

    class Meta:
        unknown = "raise"

    number = fields.String(required=True, validate=ACCOUNT_NUMBER)
    type = fields.String(required=True, validate=validate.OneOf(["deferment", "guarantee"]))
    holder_eori = fields.String(required=True, validate=validate.Regexp(
        r"^[A-Z]{2}[A-Z0-9]{1,15}\Z", error="an EORI number, e.g. GB123456789000"))
    limit = DecimalString(max_places=4)
    currency = fields.String(required=True, validate=validate.Regexp(
        r"^[A-Z]{3}\Z", error="an ISO 4217 code, e.g. GBP"))
    # A guarantee of an authorised economic operator: the security lodged is the reference
    # amount (`limit`) less 50 %, 70 % or all of it (UCC art. 95(3)).
    aeo_reduction_pct = fields.Integer(load_default=0, strict=True, validate=validate.OneOf(
        [0, 50, 70, 100], error="0, 50, 70 or 100 (percent of the reference amount)"))


class LimitSchema(Schema):
    """`POST /accounts/{number}/limit` (operator): the new limit (reference amount)."""

    class Meta:
        unknown = "raise"

    limit = DecimalString(max_places=4)


class DirectDebitSchema(Schema):
    """`POST /accounts/{number}/direct-debit` (operator): the end of a deferment period."""

    class Meta:
        unknown = "raise"

    period_end = IsoDate(required=True)


class ClosureSchema(Schema):
    """`POST /accounts/{number}/closure` (operator): why the account is closed."""

    class Meta:
        unknown = "raise"

    reason = fields.String(required=True, validate=validate.Length(min=1, max=500))


class AccountEntrySchema(Schema):
    position = fields.Integer(required=True)
    at = fields.String(required=True)
    kind = fields.String(required=True)
    amount = fields.String(required=True)
    mrn = fields.String(allow_none=True)
    detail = fields.String(required=True)


class StatementSchema(Schema):
    period_end = fields.String(required=True)
    amount = fields.String(required=True)
    charges = fields.Integer(required=True)


class WaitingSchema(Schema):
    mrn = fields.String(required=True)
    amount = fields.String(required=True)


class AccountViewSchema(Schema):
    """An account: limit, charged (deferment, this period), reserved (guarantee), available,
    the charges waiting for balance, and its entries."""

    number = fields.String(required=True)
    type = fields.String(required=True)
    holder_eori = fields.String(required=True)
    currency = fields.String(required=True)
    closed = fields.Boolean(required=True)
    limit = fields.String(required=True)
    charged = fields.String(required=True)
    reserved = fields.String(required=True)
    available = fields.String(required=True)
    waiting = fields.List(fields.Nested(WaitingSchema), required=True)
    statements = fields.List(fields.Nested(StatementSchema), required=True)
    aeo_reduction_pct = fields.Integer(required=True)
    security_lodged = fields.String(required=True)
    entries = fields.List(fields.Nested(AccountEntrySchema), required=True)

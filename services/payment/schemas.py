"""HTTP request and response schemas of the payment service (not events)."""

from marshmallow import Schema, fields, validate

from shared.web.fields import DecimalString


class PaymentSchema(Schema):
    """`POST /payments`."""

    class Meta:
        unknown = "raise"

    mrn = fields.String(required=True, validate=validate.Regexp(
        r"^\d{2}[A-Z]{2}[A-Z0-9]{12}[A-Z]\d$", error="not an MRN (18 characters, e.g. 26GB...)"))
    reference = fields.String(required=True, validate=validate.Length(min=1, max=100))
    amount = DecimalString(max_places=4)
    currency = fields.String(required=True, validate=validate.Regexp(
        r"^[A-Z]{3}$", error="an ISO 4217 code, e.g. GBP"))


class PaymentRecordedSchema(Schema):
    mrn = fields.String(required=True)
    reference = fields.String(required=True)
    amount = fields.String(required=True)
    currency = fields.String(required=True)
    balance_due = fields.String(required=True)
    credit = fields.String(required=True)
    recorded_at = fields.String(required=True)

"""HTTP request and response schemas of the risk service (not events)."""

from decimal import Decimal

from marshmallow import Schema, fields, validate

from .domain import FindingCategory


class ControlResultSchema(Schema):
    """`POST /controls/{mrn}`: an officer's control result."""

    class Meta:
        unknown = "raise"

    result = fields.String(required=True,
                           validate=validate.OneOf(["compliant", "non_compliant"]))
    findings = fields.String(load_default="", validate=validate.Length(max=2000))
    category = fields.String(load_default=None, allow_none=True,
                             validate=validate.OneOf([c.value for c in FindingCategory]))
    # A default is not deserialised: it must already be the loaded type.
    revenue_recovered = fields.Decimal(load_default=Decimal("0"), as_string=True, allow_nan=False,
                                       validate=validate.Range(min=0))


class ControlRecordedSchema(Schema):
    mrn = fields.String(required=True)
    consignment_id = fields.String(required=True)
    result = fields.String(required=True)
    findings = fields.String(required=True)
    officer = fields.String(required=True, metadata={
        "description": "the officer who recorded it: the caller's token subject"})
    revenue_recovered = fields.String(required=True)

"""HTTP request and response schemas of the risk service (not events)."""

from decimal import Decimal
from typing import Any

from marshmallow import Schema, fields, pre_load, validate

from shared.events.risk import findings_of
from shared.web.fields import DecimalString

from .domain import ControlOutcome, ControlResult, FindingCategory

MAX_FINDINGS = 50


class FindingSchema(Schema):
    """One finding: its category and the officer's words."""

    class Meta:
        unknown = "raise"

    category = fields.String(required=True,
                             validate=validate.OneOf([c.value for c in FindingCategory]))
    text = fields.String(required=True, validate=validate.Length(min=1, max=2000))


class ControlResultSchema(Schema):
    """`POST /controls/{mrn}`: an officer's control result. The shape only: whether the
    result, findings, outcome and additional duty agree is the domain's rule (422
    invalid-control-result)."""

    class Meta:
        unknown = "raise"

    result = fields.String(required=True,
                           validate=validate.OneOf([r.value for r in ControlResult]))
    findings = fields.List(fields.Nested(FindingSchema), load_default=list,
                           validate=validate.Length(max=MAX_FINDINGS))
    outcome = fields.String(load_default=None, allow_none=True,
                            validate=validate.OneOf([o.value for o in ControlOutcome]))
    # A default is not deserialised: it must already be the loaded type.
    additional_duty = DecimalString(required=False, load_default=Decimal("0"), max_places=2)

    @pre_load
    def findings_as_text(self, data: Any, **kwargs: Any) -> Any:
        """The first contract's `findings` (one string) still reads, as the list it means
        (`findings_of`: a compliant result's remark is a `no_discrepancy` finding)."""
        if isinstance(data, dict) and isinstance(data.get("findings"), str):
            result = data.get("result")
            return {**data, "findings": findings_of(result if isinstance(result, str) else "",
                                                    data["findings"])}
        return data


class ControlRecordedSchema(Schema):
    mrn = fields.String(required=True)
    consignment_id = fields.String(required=True)
    result = fields.String(required=True)
    findings = fields.List(fields.Nested(FindingSchema), required=True)
    outcome = fields.String(required=True, allow_none=True)
    additional_duty = fields.String(required=True, metadata={
        "description": "the additional duty (decimal string); above 0 only for "
                       "release_after_payment"})
    officer = fields.String(required=True, metadata={
        "description": "the officer who recorded it: the caller's token subject"})

"""HTTP request and response schemas of the risk service (not events)."""

from decimal import Decimal
from typing import Any

from marshmallow import Schema, ValidationError, fields, pre_load, validate

from shared.events.risk import findings_of
from shared.web.fields import DecimalString

from .domain import ControlOutcome, ControlResult, FindingCategory

MAX_FINDINGS = 50
MAX_FINDING_TEXT = 2000


class FindingsField(fields.List):  # type: ignore[type-arg]
    """The findings: a list of `Finding`, or (the first contract) one string of at most
    `MAX_FINDING_TEXT` characters (`findings_of` reads it as the list it means)."""

    def json_schema(self) -> dict[str, Any]:
        return {"oneOf": [
            {"type": "array", "items": {"$ref": "#/components/schemas/Finding"},
             "maxItems": MAX_FINDINGS},
            {"type": "string", "maxLength": MAX_FINDING_TEXT,
             "description": "the first contract's one string of findings"}]}


class FindingSchema(Schema):
    """One finding: its category and the officer's words."""

    class Meta:
        unknown = "raise"

    category = fields.String(required=True,
                             validate=validate.OneOf([c.value for c in FindingCategory]))
    text = fields.String(required=True, validate=validate.Length(min=1, max=MAX_FINDING_TEXT))


class ControlResultSchema(Schema):
    """`POST /controls/{mrn}`: an officer's control result. The shape only: whether the
    result, findings, outcome and additional duty agree is the domain's rule (422
    invalid-control-result)."""

    class Meta:
        unknown = "raise"

    result = fields.String(required=True,
                           validate=validate.OneOf([r.value for r in ControlResult]))
    findings = FindingsField(fields.Nested(FindingSchema), load_default=list,
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
            if len(data["findings"]) > MAX_FINDING_TEXT:
                raise ValidationError(f"At most {MAX_FINDING_TEXT} characters.", "findings")
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

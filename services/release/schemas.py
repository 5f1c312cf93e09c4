"""The release service's HTTP bodies (marshmallow): a partner agency's decision on its hold,
and a hold as `GET /holds` shows it."""

from __future__ import annotations

from marshmallow import INCLUDE, Schema, fields, validate

from shared.events.release import DECISIONS, HeldItem

from .projections import HOLD_STATES


class DecisionSchema(Schema):
    """`POST /holds/{mrn}/{agency}`: the agency's decision (final)."""

    class Meta:
        unknown = "raise"

    decision = fields.String(required=True, validate=validate.OneOf(DECISIONS))
    reference = fields.String(load_default="", validate=validate.Length(max=200))
    note = fields.String(load_default="", validate=validate.Length(max=2000))


class HoldSchema(Schema):
    mrn = fields.String(required=True)
    consignment_id = fields.String(required=True)
    agency = fields.String(required=True, validate=validate.Regexp(r"^[A-Z][A-Z0-9]{1,15}\Z"))
    office = fields.String(required=True)
    declaration_version = fields.Integer(required=True)
    items = fields.List(fields.Nested(HeldItem), required=True)
    placed_at = fields.String(required=True)
    due_at = fields.String(required=True)
    state = fields.String(required=True, validate=validate.OneOf(HOLD_STATES))
    overdue = fields.Boolean(required=True)
    decided_at = fields.String(required=True, allow_none=True)
    reference = fields.String(required=True)
    note = fields.String(required=True)


class HoldsSchema(Schema):
    holds = fields.List(fields.Nested(HoldSchema), required=True)


class FeedMessageSchema(Schema):
    """A message of the feed at its log position; its fields as docs/asyncapi.yaml describes
    the message of the same kind."""

    class Meta:
        unknown = INCLUDE

    position = fields.Integer(required=True)


class NotificationsSchema(Schema):
    """`GET /notifications`: release notifications, hold requests and refusals after a log
    position, and the position to ask after next time."""

    notifications = fields.List(fields.Nested(FeedMessageSchema), required=True)
    hold_requests = fields.List(fields.Nested(FeedMessageSchema), required=True)
    refusals = fields.List(fields.Nested(FeedMessageSchema), required=True)
    next_after = fields.Integer(required=True)

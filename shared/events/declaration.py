"""Events of the declaration service (category `declaration`)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from typing import Any, ClassVar

from marshmallow import Schema, fields, validate

CATEGORY = "declaration"


class Problem(Schema):
    pointer = fields.String(required=True)
    message = fields.String(required=True)


@dataclass(frozen=True)
class DeclarationReceived:
    """A syntactically and materially valid declaration was lodged (status 02)."""

    TYPE: ClassVar[str] = "DeclarationReceived"
    VERSION: ClassVar[int] = 1
    CATEGORY: ClassVar[str] = CATEGORY
    consignment_id: str
    lrn: str
    declarant_eori: str
    fingerprint: str
    document: dict[str, Any]


class DeclarationReceivedV1(Schema):
    consignment_id = fields.String(required=True)
    lrn = fields.String(required=True)
    declarant_eori = fields.String(required=True)
    fingerprint = fields.String(required=True)
    document = fields.Dict(required=True)


@dataclass(frozen=True)
class DeclarationAccepted:
    """The declaration was accepted and given its MRN (status 01). Carries the whole document:
    risk and payment decide from it without calling back."""

    TYPE: ClassVar[str] = "DeclarationAccepted"
    VERSION: ClassVar[int] = 1
    CATEGORY: ClassVar[str] = CATEGORY
    consignment_id: str
    mrn: str
    lrn: str
    declarant_eori: str
    office: str
    transport_mode: str
    acceptance_date: date
    declaration_version: int
    document: dict[str, Any]


class DeclarationAcceptedV1(Schema):
    consignment_id = fields.String(required=True)
    mrn = fields.String(required=True)
    lrn = fields.String(required=True)
    declarant_eori = fields.String(required=True)
    office = fields.String(required=True)
    transport_mode = fields.String(required=True)
    acceptance_date = fields.Date(required=True)
    declaration_version = fields.Integer(required=True, validate=validate.Range(min=1))
    document = fields.Dict(required=True)


@dataclass(frozen=True)
class DeclarationRejected:
    """A received declaration was refused at acceptance (status 03), with the reasons."""

    TYPE: ClassVar[str] = "DeclarationRejected"
    VERSION: ClassVar[int] = 1
    CATEGORY: ClassVar[str] = CATEGORY
    consignment_id: str
    lrn: str
    declarant_eori: str
    problems: list[dict[str, str]]


class DeclarationRejectedV1(Schema):
    consignment_id = fields.String(required=True)
    lrn = fields.String(required=True)
    declarant_eori = fields.String(required=True)
    problems = fields.List(fields.Nested(Problem), required=True)


EVENTS = [
    (DeclarationReceived, DeclarationReceivedV1),
    (DeclarationAccepted, DeclarationAcceptedV1),
    (DeclarationRejected, DeclarationRejectedV1),
]

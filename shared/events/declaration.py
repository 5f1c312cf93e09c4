"""Events of the declaration service (category `declaration`)."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date
from typing import Any, ClassVar

from marshmallow import Schema, fields, validate

CATEGORY = "declaration"


class Problem(Schema):
    """One rule a refused document broke: where (a JSON pointer) and why."""

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
    declaration_version: int = field(metadata={"validate": validate.Range(min=1)})
    document: dict[str, Any]


@dataclass(frozen=True)
class DeclarationRejected:
    """A received declaration was refused at acceptance (status 03), with the reasons."""

    TYPE: ClassVar[str] = "DeclarationRejected"
    VERSION: ClassVar[int] = 1
    CATEGORY: ClassVar[str] = CATEGORY
    consignment_id: str
    lrn: str
    declarant_eori: str
    problems: list[dict[str, str]] = field(metadata={"items": Problem})


EVENTS = [DeclarationReceived, DeclarationAccepted, DeclarationRejected]

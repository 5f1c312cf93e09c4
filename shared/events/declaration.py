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


REASON = validate.Length(min=1, max=2000)


class Change(Schema):
    """One particular an amendment changed: where (a JSON pointer), from what, to what."""

    pointer = fields.String(required=True)
    before = fields.Raw(required=True, allow_none=True)
    after = fields.Raw(required=True, allow_none=True)


@dataclass(frozen=True)
class DeclarationAmended:
    """The declarant amended the declaration (UCC art. 173): `declaration_version` is the new
    version, `changes` what changed from the previous one. The whole corrected document is
    the DeclarationAccepted of that version, appended with it, which risk and payment assess
    again."""

    TYPE: ClassVar[str] = "DeclarationAmended"
    VERSION: ClassVar[int] = 1
    CATEGORY: ClassVar[str] = CATEGORY
    consignment_id: str
    mrn: str
    declaration_version: int = field(metadata={"validate": validate.Range(min=2)})
    reason: str = field(metadata={"validate": REASON})
    changes: list[dict[str, Any]] = field(metadata={"items": Change})


@dataclass(frozen=True)
class AmendmentRequested:
    """After release, the declarant applied to amend the declaration (UCC art. 173(3), the
    post-release amendment): `declaration_version` is the version it would become, `changes`
    what would change and `document` the whole corrected declaration. An officer decides
    (AmendmentDecided); granted, DeclarationAmended and the new version's
    DeclarationAccepted follow."""

    TYPE: ClassVar[str] = "AmendmentRequested"
    VERSION: ClassVar[int] = 1
    CATEGORY: ClassVar[str] = CATEGORY
    consignment_id: str
    mrn: str
    declaration_version: int = field(metadata={"validate": validate.Range(min=2)})
    reason: str = field(metadata={"validate": REASON})
    changes: list[dict[str, Any]] = field(metadata={"items": Change})
    document: dict[str, Any]


@dataclass(frozen=True)
class AmendmentDecided:
    """An officer decided the post-release amendment applied for (`request_event_id`):
    `decision` granted (the new version follows) or refused (the declaration stands)."""

    TYPE: ClassVar[str] = "AmendmentDecided"
    VERSION: ClassVar[int] = 1
    CATEGORY: ClassVar[str] = CATEGORY
    consignment_id: str
    mrn: str
    request_event_id: str
    decision: str = field(metadata={"validate": validate.OneOf(["granted", "refused"])})
    reason: str = field(metadata={"validate": REASON})


@dataclass(frozen=True)
class InvalidationRequested:
    """After release, the declarant asked for the declaration to be invalidated (UCC art.
    174); an officer decides (DeclarationInvalidated or InvalidationRefused)."""

    TYPE: ClassVar[str] = "InvalidationRequested"
    VERSION: ClassVar[int] = 1
    CATEGORY: ClassVar[str] = CATEGORY
    consignment_id: str
    mrn: str
    declaration_version: int = field(metadata={"validate": validate.Range(min=1)})
    reason: str = field(metadata={"validate": REASON})


@dataclass(frozen=True)
class DeclarationInvalidated:
    """The declaration was invalidated (status 10): final, nothing is released after it and
    money paid on it is repayable. Before release at the declarant's request
    (`request_event_id` None); after release by an officer granting the request."""

    TYPE: ClassVar[str] = "DeclarationInvalidated"
    VERSION: ClassVar[int] = 1
    CATEGORY: ClassVar[str] = CATEGORY
    consignment_id: str
    mrn: str
    declaration_version: int = field(metadata={"validate": validate.Range(min=1)})
    reason: str = field(metadata={"validate": REASON})
    after_release: bool
    request_event_id: str | None


@dataclass(frozen=True)
class InvalidationRefused:
    """An officer refused the invalidation requested after release; the declaration stands."""

    TYPE: ClassVar[str] = "InvalidationRefused"
    VERSION: ClassVar[int] = 1
    CATEGORY: ClassVar[str] = CATEGORY
    consignment_id: str
    mrn: str
    reason: str = field(metadata={"validate": REASON})
    request_event_id: str


EVENTS = [DeclarationReceived, DeclarationAccepted, DeclarationRejected, DeclarationAmended,
          AmendmentRequested, AmendmentDecided, InvalidationRequested, DeclarationInvalidated,
          InvalidationRefused]

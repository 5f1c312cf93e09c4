"""Events of the release service (category `release`)."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal
from typing import Any, ClassVar

from marshmallow import validate

CATEGORY = "release"


@dataclass(frozen=True)
class GoodsReleased:
    """The goods were released (status 08). Exactly one per consignment; the public release
    notification for partner agencies is published from this event. Version 2 names the
    declaration version released."""

    TYPE: ClassVar[str] = "GoodsReleased"
    VERSION: ClassVar[int] = 2
    CATEGORY: ClassVar[str] = CATEGORY
    consignment_id: str
    mrn: str
    declaration_version: int = field(metadata={"validate": validate.Range(min=1)})
    office: str
    lane: str
    transport_mode: str
    lodged_at: datetime
    released_at: datetime


@dataclass(frozen=True)
class GoodsReleasedV1:
    """Version 1 of GoodsReleased (stored until version 2 was deployed)."""

    TYPE: ClassVar[str] = "GoodsReleased"
    VERSION: ClassVar[int] = 1
    CATEGORY: ClassVar[str] = CATEGORY
    consignment_id: str
    mrn: str
    office: str
    lane: str
    transport_mode: str
    lodged_at: datetime
    released_at: datetime


def goods_released_v1_to_v2(data: dict[str, Any]) -> dict[str, Any]:
    """Before version 2 a declaration could not be amended: what was released was version 1."""
    return {**data, "declaration_version": 1}


@dataclass(frozen=True)
class GoodsHeld:
    """The goods are held: by customs (a non-compliant control recorded with no outcome,
    before ControlCompleted version 3) or by an agency (status 50)."""

    TYPE: ClassVar[str] = "GoodsHeld"
    VERSION: ClassVar[int] = 1
    CATEGORY: ClassVar[str] = CATEGORY
    consignment_id: str
    mrn: str
    reason: str


@dataclass(frozen=True)
class ReleaseRefused:
    """Release of the goods was refused (status `release_refused`): final, nothing is
    released after it. `control_event_id` is the ControlCompleted (outcome
    `refuse_release`) that decided it."""

    TYPE: ClassVar[str] = "ReleaseRefused"
    VERSION: ClassVar[int] = 1
    CATEGORY: ClassVar[str] = CATEGORY
    consignment_id: str
    mrn: str
    declaration_version: int = field(metadata={"validate": validate.Range(min=1)})
    office: str
    control_event_id: str
    refused_at: datetime


@dataclass(frozen=True)
class DeclarationCleared:
    """The declaration version is cleared (status 09): its goods were released and every debt
    on it (the assessed duty and any additional duty) is paid. Appended with the GoodsReleased
    when the debt was paid before release, or later, when the payment that settles it is
    heard. At most one per declaration version (a post-release amendment makes the next);
    never after an invalidation."""

    TYPE: ClassVar[str] = "DeclarationCleared"
    VERSION: ClassVar[int] = 1
    CATEGORY: ClassVar[str] = CATEGORY
    consignment_id: str
    mrn: str
    declaration_version: int = field(metadata={"validate": validate.Range(min=1)})
    amount_due: Decimal = field(metadata={"validate": validate.Range(min=0)})
    amount_paid: Decimal = field(metadata={"validate": validate.Range(min=0)})
    cleared_at: datetime


EVENTS = [GoodsReleased, GoodsHeld, ReleaseRefused, DeclarationCleared]
OLD_VERSIONS = {GoodsReleased: {1: (GoodsReleasedV1, goods_released_v1_to_v2)}}

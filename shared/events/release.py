"""Events of the release service (category `release`)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import ClassVar

from marshmallow import Schema, fields

CATEGORY = "release"


@dataclass(frozen=True)
class GoodsReleased:
    """The goods were released (status 08). Exactly one per consignment; the public release
    notification for partner agencies is published from this event."""

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


class GoodsReleasedV1(Schema):
    consignment_id = fields.String(required=True)
    mrn = fields.String(required=True)
    office = fields.String(required=True)
    lane = fields.String(required=True)
    transport_mode = fields.String(required=True)
    lodged_at = fields.AwareDateTime(required=True, format="iso")
    released_at = fields.AwareDateTime(required=True, format="iso")


@dataclass(frozen=True)
class GoodsHeld:
    """The goods are held (status 50): a non-compliant control or an agency hold."""

    TYPE: ClassVar[str] = "GoodsHeld"
    VERSION: ClassVar[int] = 1
    CATEGORY: ClassVar[str] = CATEGORY
    consignment_id: str
    mrn: str
    reason: str


class GoodsHeldV1(Schema):
    consignment_id = fields.String(required=True)
    mrn = fields.String(required=True)
    reason = fields.String(required=True)


EVENTS = [
    (GoodsReleased, GoodsReleasedV1),
    (GoodsHeld, GoodsHeldV1),
]

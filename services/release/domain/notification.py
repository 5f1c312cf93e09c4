"""The public release notification sent to partner agencies (pure).

Only what an agency needs to act on a release: no rules, rationales, scores or amounts (those
are officer-only or trader-confidential), and no selectivity lane: which consignments customs
checks, and how, is risk information (schema version 1 carried the lane in the body and in the
routing key; version 2 dropped it, see docs/asyncapi.yaml). The body's JSON Schema is
`notification.schema.json` beside this module (`NOTIFICATION_SCHEMA_PATH`); the
`schema_version` changes only with a new schema (a new `$id`).

Every notification, live or re-read with `GET /notifications`, is rendered from the
GoodsReleased event in the log by `release_notification`, so history is always sent in the
current version: nothing sends, and nothing here reads, a version 1 body any more.

Example body::

    {"schema_version": 2,
     "notification_id": "5d1c0a4e-7a0f-5b8e-9d7e-0c7f2b8f3a61",
     "mrn": "26GB1A2B3C4D5E6FR6", "consignment_id": "c-1",
     "declaration_version": 1, "office": "GBLHR001", "transport_mode": "air",
     "released_at": "2026-03-02T10:15:00.000000+00:00",
     "position": 42}
"""

from __future__ import annotations

import json
import uuid
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from shared.events.release import AgencyHoldPlaced, GoodsReleased, ReleaseRefused

from .errors import NotificationUnavailable

SCHEMA_VERSION = 2
NOTIFICATION_SCHEMA_PATH = Path(__file__).resolve().parent / "notification.schema.json"
# The messages of an agency's own feed besides the release notification (version 1 each).
HOLD_REQUEST_SCHEMA_PATH = NOTIFICATION_SCHEMA_PATH.with_name("hold-request.schema.json")
REFUSAL_SCHEMA_PATH = NOTIFICATION_SCHEMA_PATH.with_name("release-refusal.schema.json")
AGENCY_MESSAGES_VERSION = 1
# Notification ids are uuid5(namespace, "<consignment id>/<release fact id>"): the same release
# always yields the same notification id, so a resent notification is recognisably the same.
NOTIFICATION_NAMESPACE = uuid.UUID("0b6f4f5e-3d0c-5a55-9c1e-6c1e2a7f0d11")


def _check_position(position: int) -> None:
    if position < 1:
        raise ValueError("position must be positive")


def notification_id(consignment_id: str, release_fact_id: str) -> str:
    return str(uuid.uuid5(NOTIFICATION_NAMESPACE, f"{consignment_id}/{release_fact_id}"))


def release_notification(released: GoodsReleased, *, release_event_id: str,
                         position: int) -> dict[str, Any]:
    """The JSON-ready notification of one GoodsReleased event (the one builder: the feed on
    the broker and `GET /notifications` both send this). `position` is the event's global
    log position, so an agency can re-read notifications from there."""
    if released.released_at.tzinfo is None:
        raise NotificationUnavailable("released_at must be timezone-aware")
    _check_position(position)
    return {
        "schema_version": SCHEMA_VERSION,
        "notification_id": notification_id(released.consignment_id, release_event_id),
        "mrn": released.mrn,
        "consignment_id": released.consignment_id,
        "declaration_version": released.declaration_version,
        "office": released.office,
        "transport_mode": released.transport_mode,
        "released_at": released.released_at.astimezone(UTC).isoformat(timespec="microseconds"),
        "position": position,
    }


def _utc(moment: datetime) -> str:
    if moment.tzinfo is None:
        raise NotificationUnavailable("times must be timezone-aware")
    return moment.astimezone(UTC).isoformat(timespec="microseconds")


def hold_request(placed: AgencyHoldPlaced, *, event_id: str, position: int) -> dict[str, Any]:
    """The message asking agency `placed.agency` to decide on its hold: the consignment and
    the items it regulates, nothing else (no value, no parties, no risk information). Sent on
    the agency's own feed only; it decides with `POST /holds/{mrn}/{agency}`."""
    _check_position(position)
    return {
        "schema_version": AGENCY_MESSAGES_VERSION,
        "message_id": notification_id(placed.consignment_id, event_id),
        "agency": placed.agency,
        "mrn": placed.mrn,
        "consignment_id": placed.consignment_id,
        "declaration_version": placed.declaration_version,
        "office": placed.office,
        "transport_mode": placed.transport_mode,
        "items": [dict(item) for item in placed.items],
        "placed_at": _utc(placed.placed_at),
        "due_at": _utc(placed.due_at),
        "position": position,
    }


def refusal_notice(refused: ReleaseRefused, *, event_id: str, position: int) -> dict[str, Any]:
    """The message telling an agency with an interest in the consignment that its release
    was refused (final): by a customs control or by an agency (which one; its note to customs
    is not passed on)."""
    _check_position(position)
    return {
        "schema_version": AGENCY_MESSAGES_VERSION,
        "message_id": notification_id(refused.consignment_id, event_id),
        "mrn": refused.mrn,
        "consignment_id": refused.consignment_id,
        "declaration_version": refused.declaration_version,
        "office": refused.office,
        "refused_by": refused.refused_by,
        "agency": refused.agency,
        "refused_at": _utc(refused.refused_at),
        "position": position,
    }


def agency_routing_key(agency: str, kind: str) -> str:
    """The routing key of a message for one agency on `clearance.agencies`:
    `<agency>.<kind>`, kind `hold_request`, `release` or `refusal` (the agency's queue is
    bound with `<agency>.#`)."""
    return f"{agency}.{kind}"


def routing_key(notification: dict[str, Any]) -> str:
    """The topic routing key of a notification: `<office>.<transport_mode>` (bind e.g.
    `GBLHR001.*` for one office, `*.sea` for sea freight everywhere, `#` for all)."""
    return f"{notification['office']}.{notification['transport_mode']}"


def load_notification_schema() -> dict[str, Any]:
    """The JSON Schema (draft 2020-12) of the notification body."""
    schema: dict[str, Any] = json.loads(NOTIFICATION_SCHEMA_PATH.read_text(encoding="utf-8"))
    return schema

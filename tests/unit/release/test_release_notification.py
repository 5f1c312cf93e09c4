"""The public release notification body and its JSON Schema.

Strategy: bodies built from released states (every lane, with and without a log position)
validate against services/release/domain/notification.schema.json with jsonschema's
draft 2020-12 validator and format checks; the schema itself is checked to be a valid schema
that refuses extra (officer-only) fields; the notification id is stable for one release.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta, timezone
from decimal import Decimal

import jsonschema
import pytest

from services.release.domain import (
    NOTIFICATION_SCHEMA_PATH,
    ControlCompleted,
    ControlResult,
    DeclarationAccepted,
    DutyAssessed,
    GoodsReleased,
    Lane,
    NotificationUnavailable,
    RiskDecided,
    build_state,
    load_notification_schema,
    notification_id,
    release_notification,
)

T0 = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)
ACCEPTED = DeclarationAccepted("acc", "26GB0000000000001A", "GBLHR001", "air", T0)
RELEASED = GoodsReleased("rel-1", T0 + timedelta(minutes=7))


@pytest.fixture(scope="module")
def validator() -> jsonschema.protocols.Validator:
    schema = load_notification_schema()
    jsonschema.Draft202012Validator.check_schema(schema)
    return jsonschema.Draft202012Validator(
        schema, format_checker=jsonschema.Draft202012Validator.FORMAT_CHECKER
    )


def released_state(lane: Lane = Lane.GREEN, *extra):
    return build_state(
        "c-1", [ACCEPTED, RiskDecided("r", lane), DutyAssessed("d", Decimal(0)), RELEASED, *extra]
    )


@pytest.mark.parametrize("lane", list(Lane))
@pytest.mark.parametrize("position", [None, 1, 42])
def test_bodies_validate(validator, lane, position):
    extra = [ControlCompleted("c", "k", ControlResult.COMPLIANT)] if lane.needs_control else []
    body = release_notification(released_state(lane, *extra), position=position)
    validator.validate(json.loads(json.dumps(body)))
    assert body["lane"] == lane.value
    assert ("position" in body) is (position is not None)


def test_body_content():
    body = release_notification(released_state(), position=42)
    assert body == {
        "schema_version": 1,
        "notification_id": notification_id("c-1", "rel-1"),
        "mrn": "26GB0000000000001A",
        "consignment_id": "c-1",
        "declaration_version": 1,
        "office": "GBLHR001",
        "transport_mode": "air",
        "lane": "green",
        "released_at": "2026-03-02T09:07:00.000000+00:00",
        "position": 42,
    }


def test_release_time_is_sent_in_utc():
    paris = timezone(timedelta(hours=1))
    state = build_state(
        "c-1",
        [
            ACCEPTED,
            RiskDecided("r", Lane.GREEN),
            GoodsReleased("rel", datetime(2026, 3, 2, 10, 7, tzinfo=paris)),
        ],
    )
    assert release_notification(state)["released_at"] == "2026-03-02T09:07:00.000000+00:00"


def test_notification_id_is_stable_per_release():
    assert release_notification(released_state()) == release_notification(released_state())
    assert notification_id("c-1", "rel-1") != notification_id("c-1", "rel-2")
    assert notification_id("c-1", "rel-1") != notification_id("c-2", "rel-1")


def test_the_schema_refuses_officer_only_or_unknown_fields(validator):
    body = release_notification(released_state())
    for extra in ({"rules_hit": ["VAL-001"]}, {"rationale": "x"}, {"score": 50}):
        with pytest.raises(jsonschema.ValidationError):
            validator.validate({**body, **extra})


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("mrn", "GB123"),
        ("lane", "purple"),
        ("schema_version", 2),
        ("position", 0),
        ("released_at", "yesterday"),
        ("notification_id", "not-a-uuid"),
    ],
)
def test_the_schema_refuses_bad_values(validator, field, value):
    body = release_notification(released_state())
    with pytest.raises(jsonschema.ValidationError):
        validator.validate({**body, field: value})


@pytest.mark.parametrize("missing", ["mrn", "released_at", "notification_id", "lane"])
def test_the_schema_requires_fields(validator, missing):
    body = release_notification(released_state())
    del body[missing]
    with pytest.raises(jsonschema.ValidationError):
        validator.validate(body)


def test_only_released_consignments_have_a_notification():
    with pytest.raises(NotificationUnavailable):
        release_notification(build_state("c-1", [ACCEPTED, RiskDecided("r", Lane.GREEN)]))
    with pytest.raises(NotificationUnavailable):
        release_notification(build_state("c-1", [RiskDecided("r", Lane.GREEN), RELEASED]))


def test_schema_file_is_where_the_docs_say():
    assert NOTIFICATION_SCHEMA_PATH.name == "notification.schema.json"
    assert NOTIFICATION_SCHEMA_PATH.parent.name == "domain"

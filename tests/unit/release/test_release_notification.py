"""The public release notification body (the one builder) and its JSON Schema.

Strategy: bodies built from GoodsReleased payloads (every lane, declaration versions 1 and 2)
validate against services/release/domain/notification.schema.json with jsonschema's
draft 2020-12 validator and format checks; the schema itself is checked to be a valid schema
that refuses extra (officer-only) fields; the notification id is stable for one release and
the body carries the released declaration version. Schema version 2 carries no selectivity
lane: whatever the lane of the release, the body and the routing key are the same, and a
body with a `lane` (version 1's shape) is refused by the schema.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta, timezone

import jsonschema
import pytest

from services.release.domain import (
    NOTIFICATION_SCHEMA_PATH,
    SCHEMA_VERSION,
    Lane,
    NotificationUnavailable,
    load_notification_schema,
    notification_id,
    release_notification,
    routing_key,
)
from shared.events.release import GoodsReleased

T0 = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)


def released(lane: str = "green", version: int = 1,
             at: datetime = T0 + timedelta(minutes=7)) -> GoodsReleased:
    return GoodsReleased("c-1", "26GB00000000001AR5", version, "GBLHR001", lane, "air", T0, at)


def body_of(payload: GoodsReleased | None = None, position: int = 42) -> dict:
    return release_notification(payload or released(), release_event_id="rel-1",
                                position=position)


@pytest.fixture(scope="module")
def validator() -> jsonschema.protocols.Validator:
    schema = load_notification_schema()
    jsonschema.Draft202012Validator.check_schema(schema)
    return jsonschema.Draft202012Validator(
        schema, format_checker=jsonschema.Draft202012Validator.FORMAT_CHECKER
    )


@pytest.mark.parametrize("lane", [lane.value for lane in Lane])
@pytest.mark.parametrize("version", [1, 2])
def test_bodies_validate(validator, lane, version):
    body = body_of(released(lane, version))
    validator.validate(json.loads(json.dumps(body)))
    assert "lane" not in body and lane not in json.dumps(body)
    assert body["declaration_version"] == version
    assert body["schema_version"] == SCHEMA_VERSION == 2


def test_the_lane_changes_nothing_in_the_body_nor_the_routing_key():
    bodies = [body_of(released(lane.value)) for lane in Lane]
    assert all(body == bodies[0] for body in bodies)
    assert {routing_key(body) for body in bodies} == {"GBLHR001.air"}


def test_the_schema_refuses_a_lane(validator):
    """A version 1 body (with its lane) is not a version 2 body."""
    with pytest.raises(jsonschema.ValidationError):
        validator.validate({**body_of(), "lane": "green"})
    with pytest.raises(jsonschema.ValidationError):
        validator.validate({**body_of(), "lane": "green", "schema_version": 1})
    schema = load_notification_schema()
    assert "lane" not in schema["properties"] and "lane" not in schema["required"]
    assert schema["$id"] == "urn:open-clearance:release-notification:2"


def test_body_content():
    assert body_of(released(version=3)) == {
        "schema_version": 2,
        "notification_id": notification_id("c-1", "rel-1"),
        "mrn": "26GB00000000001AR5",
        "consignment_id": "c-1",
        "declaration_version": 3,
        "office": "GBLHR001",
        "transport_mode": "air",
        "released_at": "2026-03-02T09:07:00.000000+00:00",
        "position": 42,
    }


def test_release_time_is_sent_in_utc():
    paris = timezone(timedelta(hours=1))
    payload = released(at=datetime(2026, 3, 2, 10, 7, tzinfo=paris))
    assert body_of(payload)["released_at"] == "2026-03-02T09:07:00.000000+00:00"


def test_notification_id_is_stable_per_release():
    assert body_of() == body_of()
    assert notification_id("c-1", "rel-1") != notification_id("c-1", "rel-2")
    assert notification_id("c-1", "rel-1") != notification_id("c-2", "rel-1")


def test_the_schema_refuses_officer_only_or_unknown_fields(validator):
    body = body_of()
    for extra in ({"rules_hit": ["VAL-001"]}, {"rationale": "x"}, {"score": 50}):
        with pytest.raises(jsonschema.ValidationError):
            validator.validate({**body, **extra})


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("mrn", "GB123"),
        ("schema_version", 1),
        ("schema_version", 3),
        ("position", 0),
        ("released_at", "yesterday"),
        ("notification_id", "not-a-uuid"),
    ],
)
def test_the_schema_refuses_bad_values(validator, field, value):
    with pytest.raises(jsonschema.ValidationError):
        validator.validate({**body_of(), field: value})


@pytest.mark.parametrize("missing", ["mrn", "released_at", "notification_id", "office",
                                     "transport_mode", "declaration_version"])
def test_the_schema_requires_fields(validator, missing):
    body = body_of()
    del body[missing]
    with pytest.raises(jsonschema.ValidationError):
        validator.validate(body)


def test_a_release_time_without_a_zone_or_a_position_below_one_is_refused():
    with pytest.raises(NotificationUnavailable):
        body_of(released(at=datetime(2026, 3, 2, 10, 7)))
    with pytest.raises(ValueError):
        body_of(position=0)


def test_schema_file_is_where_the_docs_say():
    assert NOTIFICATION_SCHEMA_PATH.name == "notification.schema.json"
    assert NOTIFICATION_SCHEMA_PATH.parent.name == "domain"

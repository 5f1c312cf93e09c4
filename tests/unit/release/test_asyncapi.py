"""The AsyncAPI document agencies write their consumers from matches what we publish: its
message schema equals the notification JSON Schema, and a notification built from a real
GoodsReleased event validates against it."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path

import jsonschema
import yaml

from services.release.application import notification_body
from shared.events.envelope import RecordedEvent

ROOT = Path(__file__).parents[3]


def test_asyncapi_schema_is_the_notification_schema() -> None:
    doc = yaml.safe_load((ROOT / "docs" / "asyncapi.yaml").read_text())
    schema = json.loads(
        (ROOT / "services" / "release" / "domain" / "notification.schema.json").read_text())
    schema.pop("$schema")
    assert doc["components"]["schemas"]["ReleaseNotification"] == schema
    exchange = doc["channels"]["releases"]["bindings"]["amqp"]["exchange"]
    assert exchange == {"name": "clearance.releases", "type": "topic", "durable": True,
                        "autoDelete": False, "vhost": "/"}
    jsonschema.validate(doc["components"]["messages"]["releaseNotification"]["examples"][0]
                        ["payload"], schema)


def test_notification_from_an_event_validates() -> None:
    now = datetime.now(UTC)
    event = RecordedEvent(
        position=42, event_id="e1", type="GoodsReleased", version=1,
        stream="release-5f0c8e1e-6a1b-4d5e-9b1a-2f8e7d6c5b4a", stream_version=1,
        correlation_id="5f0c8e1e-6a1b-4d5e-9b1a-2f8e7d6c5b4a", causation_id=None,
        actor="release-service", occurred_at=now, recorded_at=now,
        data={"consignment_id": "5f0c8e1e-6a1b-4d5e-9b1a-2f8e7d6c5b4a",
              "mrn": "26GBA7K2M9Q4R8T1X5", "office": "GBLHR001", "lane": "green",
              "transport_mode": "air", "lodged_at": now.isoformat(),
              "released_at": now.isoformat()}, hash="h")
    schema = json.loads(
        (ROOT / "services" / "release" / "domain" / "notification.schema.json").read_text())
    body = notification_body(event)
    jsonschema.validate(body, schema)
    assert body["position"] == 42 and body["schema_version"] == 1

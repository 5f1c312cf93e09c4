"""Release notifications for partner agencies: GoodsReleased -> `clearance.releases`.

The same machinery as the event relay (the log is the outbox, lease, checkpoint after the
broker's confirm), under its own name `notifications:release`: every GoodsReleased event is
published once to the durable topic exchange `clearance.releases` as a persistent JSON
message (docs/asyncapi.yaml, schema version 2), routing key `<office>.<transport_mode>` (no
selectivity lane: version 1 had `<office>.<transport_mode>.<lane>`), message id = notification
id. Not mandatory: an agency with no queue bound yet re-reads what it missed from
`GET /notifications?after=N`.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

from shared.events.envelope import RecordedEvent
from shared.messaging.publisher import OutgoingMessage
from shared.messaging.relay import Relay, RelayProvider

from .application import notification_body
from .domain.notification import routing_key

EXCHANGE = "clearance.releases"
NAME = "notifications:release"


def declare_exchange(channel: Any) -> None:
    channel.exchange_declare(EXCHANGE, "topic", durable=True, auto_delete=False)


def notification_message(event: RecordedEvent) -> OutgoingMessage:
    body = notification_body(event)
    return OutgoingMessage(
        body=json.dumps(body, sort_keys=True, separators=(",", ":")).encode("utf-8"),
        routing_key=routing_key(body),
        message_id=body["notification_id"],
        exchange=EXCHANGE,
        headers={"schema_version": body["schema_version"]},
        correlation_id=event.correlation_id,
        type="ReleaseNotification",
        mandatory=False,
    )


class NotificationRelay(Relay):
    def __init__(self, *args: Any, **kwargs: Any) -> None:
        kwargs.setdefault("name", NAME)
        kwargs.setdefault("on_connect", declare_exchange)
        super().__init__(*args, **kwargs)

    def messages_for(self, batch: Sequence[RecordedEvent]) -> list[OutgoingMessage | None]:
        return [notification_message(e) if e.type == "GoodsReleased" else None for e in batch]


class NotificationRelayProvider(RelayProvider):
    def __init__(self) -> None:
        from services.topology import TOPOLOGY

        super().__init__(TOPOLOGY, "release", relay_class=NotificationRelay)

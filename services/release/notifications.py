"""Messages for partner agencies, published from the release service's log.

The same machinery as the event relay (the log is the outbox, lease, checkpoint after the
broker's confirm), under its own name `notifications:release` (docs/asyncapi.yaml):

* every GoodsReleased event is published once to the durable topic exchange
  `clearance.releases` as a persistent JSON message (schema version 2), routing key
  `<office>.<transport_mode>` (no selectivity lane: version 1 had
  `<office>.<transport_mode>.<lane>`), message id = notification id;
* each agency's own feed, on the durable topic exchange `clearance.agencies`, routing key
  `<AGENCY>.<kind>`: its hold requests (`hold_request`, from AgencyHoldPlaced), and the
  releases (`release`) and refusals (`refusal`) of the consignments it held. The register's
  agencies get their durable queue `agency.<code>` declared and bound with `<AGENCY>.#` here,
  on connect, so nothing is lost before the agency first connects; the agency's broker user
  (`clearance agency add CODE`) may only consume that queue.

An event counts as published when every one of its messages is confirmed. Not mandatory: an
agency that missed messages re-reads them from `GET /notifications?after=N`.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

from services.topology import (
    AGENCIES_EXCHANGE,
    RELEASES_EXCHANGE,
    agency_queue,
    agency_queue_arguments,
)
from shared.events import release as events
from shared.events.envelope import RecordedEvent
from shared.messaging.publisher import OutgoingMessage
from shared.messaging.relay import Relay, RelayProvider
from shared.observability.logging import get_logger
from shared.reference.agencies import AgencyRegister, load_register

from .application import notification_body
from .domain.notification import agency_routing_key, hold_request, refusal_notice, routing_key

log = get_logger(__name__)

EXCHANGE = RELEASES_EXCHANGE
NAME = "notifications:release"


def declare_exchange(channel: Any) -> None:
    channel.exchange_declare(EXCHANGE, "topic", durable=True, auto_delete=False)


def declare_agency_feeds(channel: Any, register: AgencyRegister) -> None:
    """The agencies' exchange, and each registered agency's queue bound to its own feed."""
    channel.exchange_declare(AGENCIES_EXCHANGE, "topic", durable=True, auto_delete=False)
    from amqp.exceptions import PreconditionFailed

    for code in register.codes():
        queue = agency_queue(code)
        scratch = channel.connection.channel()
        try:
            scratch.queue_declare(queue, durable=True, exclusive=False, auto_delete=False,
                                  arguments=agency_queue_arguments())
            scratch.close()
        except PreconditionFailed as exc:
            # An agency's queue made by a former version (a classic queue): it is the
            # agency's, with what it has not read yet; it is kept and still fed. The operator
            # converts it when the agency agrees (README, "Partner agencies").
            log.warning("agency queue kept with its former arguments", queue=queue,
                        reason=str(exc))
        channel.queue_bind(queue, AGENCIES_EXCHANGE, f"{code}.#")


def _json(body: dict[str, Any]) -> bytes:
    return json.dumps(body, sort_keys=True, separators=(",", ":")).encode("utf-8")


def agency_message(body: dict[str, Any], *, agency: str, kind: str, message_type: str,
                   message_id: str, correlation_id: str) -> OutgoingMessage:
    return OutgoingMessage(
        body=_json(body), routing_key=agency_routing_key(agency, kind), message_id=message_id,
        exchange=AGENCIES_EXCHANGE, headers={"schema_version": body["schema_version"]},
        correlation_id=correlation_id, type=message_type, mandatory=False)


def agency_messages(event: RecordedEvent) -> list[OutgoingMessage]:
    """The messages of the agencies' own feeds for one release event (none for most)."""
    payload = event.payload
    if event.type == events.AgencyHoldPlaced.TYPE:
        body = hold_request(payload, event_id=event.event_id, position=event.position)
        return [agency_message(body, agency=payload.agency, kind="hold_request",
                               message_type="HoldRequest", message_id=body["message_id"],
                               correlation_id=event.correlation_id)]
    if event.type == events.GoodsReleased.TYPE and payload.agencies:
        body = notification_body(event)
        return [agency_message(body, agency=code, kind="release",
                               message_type="ReleaseNotification",
                               message_id=body["notification_id"],
                               correlation_id=event.correlation_id)
                for code in payload.agencies]
    if event.type == events.ReleaseRefused.TYPE and payload.agencies:
        body = refusal_notice(payload, event_id=event.event_id, position=event.position)
        return [agency_message(body, agency=code, kind="refusal",
                               message_type="ReleaseRefusal", message_id=body["message_id"],
                               correlation_id=event.correlation_id)
                for code in payload.agencies]
    return []


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
    def __init__(self, *args: Any, register: AgencyRegister | None = None,
                 **kwargs: Any) -> None:
        self.register = register if register is not None else load_register()
        kwargs.setdefault("name", NAME)
        kwargs.setdefault("on_connect", self.declare)
        super().__init__(*args, **kwargs)

    def declare(self, channel: Any) -> None:
        declare_exchange(channel)
        declare_agency_feeds(channel, self.register)

    def messages_for(self, batch: Sequence[RecordedEvent]
                     ) -> list[OutgoingMessage | Sequence[OutgoingMessage] | None]:
        found: list[OutgoingMessage | Sequence[OutgoingMessage] | None] = []
        for event in batch:
            messages = agency_messages(event)
            if event.type == events.GoodsReleased.TYPE:
                messages.insert(0, notification_message(event))
            found.append(messages or None)
        return found


class NotificationRelayProvider(RelayProvider):
    def __init__(self) -> None:
        from services.topology import TOPOLOGY

        super().__init__(TOPOLOGY, "release", relay_class=NotificationRelay)

    def relay_options(self, config: Any) -> dict[str, Any]:
        return {"register": load_register(config.get("AGENCY_REGISTER_FILE") or None)}

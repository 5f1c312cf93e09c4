"""Idempotent event consumption for nameko services: `@event_handler(queue, topology=...)`.

    class RiskService:
        name = "risk"

        @event_handler("risk.declarations", topology=TOPOLOGY)
        def on_declaration(self, event: RecordedEvent, payload: DeclarationAccepted) -> Append:
            return Append(f"risk-{payload.mrn}", [new_event], expected_version=0)

The handler gets the envelope and the typed payload (decoded and upcast by the registry) and
RETURNS what to write (`commit.py`): None, an `Append`, a callable taking the store
`Transaction` (e.g. a read-model update), a `Together` (a write combined with the same kind of
write of the other events committed with it), or a list of those. The entrypoint then, in ONE
store transaction, records the event id in the inbox of this queue and performs the writes
(appends last); then it acks the message. That transaction is shared with the other events
the service handled meanwhile (group commit, `commit.py`): one commit and one turn of the
log-head lock for a batch of events, and a batch that fails is written again event by event,
so a failure stays with its event.

* A duplicate (the inbox already has the event id) has no effect: it is acked and counted in
  `duplicates` (checked before calling the handler unless `precheck=False`, and always
  inside the transaction).
* An undecodable message (not JSON, bad envelope, unknown type, invalid data) goes straight to
  the parking queue `Q.parked` with the reason.
* A forged message (the log does not confirm the delivered event: unknown id, another
  position, stream or hash, or content that does not hash to the stored hash; checked in the
  commit's transaction, one query per batch, `shared.eventstore.confirm`) has no effect: no
  inbox record, none of the handler's writes. It goes straight to `Q.parked` with a reason
  starting with `forged:`, is counted in `forged` (`clearance_forged_messages_total`) and
  logged at error. (With `precheck`, a message naming an event id already in the inbox is
  acked as a duplicate before that check: it has no effect either.)
* An infrastructure failure (`failures.is_transient`: the database or the broker unreachable,
  a timeout, a lock not granted) sends the message, with a confirm, to a retry queue
  `Q.delay.<n>` through the consuming service's own `<service>.retry` exchange, never the
  default one: level n for its n-th outage in a row, then the last level again and again (an
  `x-outages` header counts them; the queue's TTL brings it back to Q later). It is never
  parked: when the database is back, it is handled.
* Any other exception from the handler or the transaction (WrongExpectedVersion included)
  takes the retry queues in turn (an `x-attempts` header counts these failures), and after the
  last level goes to `Q.parked` with headers giving the reason, exception type, truncated
  traceback, attempts and original routing key. Only then is the original acked: nothing is
  acked and dropped, and nothing is requeued in a tight loop (if even the republish fails the
  message is requeued after a pause).

The queue, its retry queues and its parking queue are declared (from the topology) on every
connection before consuming, so a consumer started after publication finds its messages.
"""

from __future__ import annotations

import functools
import json
import sys
import time
import traceback
from collections.abc import Callable, Iterable, Mapping
from datetime import UTC, datetime
from types import TracebackType
from typing import Any, TypeVar

from eventlet.semaphore import Semaphore
from kombu.entity import Queue
from nameko.exceptions import ContainerBeingKilled
from nameko.extensions import SharedExtension, register_entrypoint
from nameko.messaging import Consumer, QueueConsumer

from shared.events.envelope import RecordedEvent
from shared.eventstore.confirm import ForgedEvent
from shared.eventstore.store import Transaction
from shared.failures import is_transient
from shared.observability.logging import bound, get_logger
from shared.observability.metrics import metrics

from .commit import GroupCommitter
from .publisher import OutgoingMessage, Publisher
from .store_provider import SharedEventStore
from .topology import Topology
from .writes import Append, Together

log = get_logger(__name__)

ATTEMPTS_HEADER = "x-attempts"
OUTAGES_HEADER = "x-outages"  # infrastructure failures in a row (never parked)
ORIGINAL_ROUTING_KEY_HEADER = "x-original-routing-key"
ORIGINAL_EXCHANGE_HEADER = "x-original-exchange"
PARK_REASON_HEADER = "x-park-reason"
EXCEPTION_TYPE_HEADER = "x-exception-type"
EXCEPTION_MESSAGE_HEADER = "x-exception-message"
TRACEBACK_HEADER = "x-traceback"
LAST_ERROR_HEADER = "x-last-error"
PARKED_AT_HEADER = "x-parked-at"
CONSUMER_HEADER = "x-consumer"
# Headers describing a failure; dropped when a message is replayed from parking.
FAILURE_HEADERS = (
    ATTEMPTS_HEADER, OUTAGES_HEADER, PARK_REASON_HEADER, EXCEPTION_TYPE_HEADER, EXCEPTION_MESSAGE_HEADER,
    TRACEBACK_HEADER, LAST_ERROR_HEADER, PARKED_AT_HEADER, "x-death", "x-first-death-queue",
    "x-first-death-reason", "x-first-death-exchange", "x-last-death-queue",
    "x-last-death-reason", "x-last-death-exchange",
)
MAX_TRACEBACK = 4000
MAX_TEXT = 1000
REQUEUE_PAUSE = 1.0  # seconds before requeueing a message whose retry could not be published

ExcInfo = tuple[type[BaseException], BaseException, TracebackType | None]
Effect = Callable[[Transaction], object]


HandlerResult = Append | Effect | Together | Iterable[Append | Effect | Together] | None
F = TypeVar("F", bound=Callable[..., Any])


class UndecodableMessage(ValueError):
    """A message whose body is not an event this consumer can decode."""


class RepublishFailed(RuntimeError):
    """The retry or parking copy of a message was not confirmed by the broker."""


def effects_of(result: object) -> list[Append | Effect | Together]:
    """The writes a handler asked for, validated."""
    if result is None:
        return []
    if isinstance(result, Append | Together) or callable(result):
        return [result]
    if isinstance(result, Iterable) and not isinstance(result, str | bytes | Mapping):
        items = list(result)
        for item in items:
            if not (isinstance(item, Append | Together) or callable(item)):
                raise TypeError(f"an event handler returned {item!r}: expected Append or a"
                                " callable taking the store transaction")
        return items
    raise TypeError(f"an event handler returned {result!r}: expected None, Append, a callable"
                    " taking the store transaction, or a list of those")


def log_context(consumer: str, event: RecordedEvent) -> dict[str, Any]:
    return {
        "consignment_id": event.correlation_id,
        "event_id": event.event_id,
        "event_type": event.type,
        "consumer": consumer,
    }


def _text(value: object, limit: int = MAX_TEXT) -> str:
    text = str(value)
    return text if len(text) <= limit else text[: limit - 3] + "..."


def _body_bytes(message: Any) -> bytes:
    body = message.body
    if isinstance(body, str):
        return body.encode(message.content_encoding or "utf-8")
    return bytes(body)


def decode_message(message: Any, topology: Topology) -> tuple[RecordedEvent, Any]:
    """The envelope and the typed payload of a broker message; UndecodableMessage if not."""
    content_type = message.content_type or "application/json"
    if content_type != "application/json":
        raise UndecodableMessage(f"unsupported content type {content_type!r}")
    try:
        body = json.loads(_body_bytes(message))
        if not isinstance(body, Mapping):
            raise TypeError("the body is not a JSON object")
        registry = topology.registry
        event = RecordedEvent.from_message(body, registry.decode)
        payload = registry.load(event.type, event.version, event.data)
        event.with_payload(payload)
    except Exception as exc:
        raise UndecodableMessage(f"{type(exc).__name__}: {exc}") from exc
    return event, payload


class EventQueueConsumer(QueueConsumer):  # type: ignore[misc]
    """nameko's QueueConsumer, but: each provider's queues are declared from its topology on
    every (re)connection before consuming, and messages reach the provider undecoded (the
    provider parks what it cannot decode instead of killing the consumer thread)."""

    def get_consumers(self, consumer_cls: Any, channel: Any) -> Any:
        for provider in self._providers:
            provider.declare(channel)
            consumer = consumer_cls(
                queues=[provider.queue],
                on_message=functools.partial(self._on_raw_message, provider),
                on_decode_error=lambda message, exc, p=provider: self._on_raw_message(p, message),
            )
            consumer.qos(prefetch_count=self.prefetch_count)
            self._consumers[provider] = consumer
        return self._consumers.values()

    def _on_raw_message(self, provider: Any, message: Any) -> None:
        self.handle_message(provider, None, message)


class RetryPublisher(SharedExtension):  # type: ignore[misc]
    """The container's confirming publisher for retry and parking copies (config AMQP_URI)."""

    def __init__(self) -> None:
        self.publisher: Publisher | None = None

    def setup(self) -> None:
        self.publisher = Publisher(self.container.config["AMQP_URI"], confirm_timeout=10.0)

    def publish(self, message: OutgoingMessage) -> None:
        assert self.publisher is not None
        delivery = self.publisher.publish_one(message)
        if not delivery.confirmed:
            raise RepublishFailed(f"{message.routing_key}: {delivery.outcome.value}:"
                                  f" {delivery.reason}")

    def stop(self) -> None:
        if self.publisher is not None:
            self.publisher.close()

    def kill(self) -> None:
        self.stop()


# Worker slots of a container kept for everything but event handling (the HTTP requests):
# nameko runs both in one pool of `max_workers`; without a reserve a burst of deliveries
# would take every worker and leave requests, and `/ready`, waiting.
HTTP_RESERVE = 2


class HandlerSlots(SharedExtension):  # type: ignore[misc]
    """Event handling's bounded share of the container's workers: at most `max_workers` at
    once, in a pool grown by `HTTP_RESERVE` so that requests always find a worker. (Taking
    the reserve out of `max_workers` instead halved the consumers' throughput, measured by
    bench M2: the group commit gathers fewer events per transaction.)"""

    def setup(self) -> None:
        self.size = int(self.container.max_workers)
        self.semaphore = Semaphore(self.size)
        # nameko sizes the pool when the container is made, before any setup.
        self.container._worker_pool.resize(self.size + HTTP_RESERVE)


class EventHandler(Consumer):  # type: ignore[misc]
    """The entrypoint behind `@event_handler` (see the module docstring)."""

    queue_consumer = EventQueueConsumer()
    shared_store = SharedEventStore()
    retry_publisher = RetryPublisher()
    committer = GroupCommitter()
    slots = HandlerSlots()

    def __init__(self, queue_name: str, topology: Topology, *, precheck: bool = True,
                 **kwargs: Any) -> None:
        topology.routing_keys(queue_name)  # a subscription of the topology, or KeyError
        self.queue_name = queue_name
        self.topology = topology
        self.precheck = precheck
        queue = Queue(queue_name, durable=True, no_declare=True)  # type: ignore[no-untyped-call]
        super().__init__(queue=queue, **kwargs)

    def setup(self) -> None:
        self.store = self.shared_store.open(self.topology.registry)
        # Exposed at 0 from the start, so the first forged message is an increase (alert).
        metrics().forged.labels(self.queue_name)
        super().setup()

    def declare(self, channel: Any) -> None:
        self.topology.declare(channel, [self.queue_name])

    # -- receiving ----------------------------------------------------------------------
    def handle_message(self, body: Any, message: Any) -> None:
        """Runs in its own greenthread for each delivery."""
        try:
            event, payload = decode_message(message, self.topology)
        except UndecodableMessage as exc:
            self._settle_failure(message, None, (type(exc), exc, exc.__traceback__),
                                 park_now=True)
            return
        with bound(**log_context(self.queue_name, event)):
            try:
                if self.precheck and self.store.inbox_contains(self.queue_name, event.event_id):
                    self._duplicate(message, event)
                    return
                self.slots.semaphore.acquire()  # released by _handle_result
                try:
                    self.container.spawn_worker(
                        self, (event, payload), {}, context_data={},
                        handle_result=functools.partial(self._handle_result, message, event),
                    )
                except BaseException:
                    self.slots.semaphore.release()
                    raise
            except ContainerBeingKilled:
                self.queue_consumer.requeue_message(message)
            except Exception:  # noqa: BLE001 - e.g. the database is down: retry later
                self._settle_failure(message, event, _exc_info())

    def _handle_result(
        self, message: Any, event: RecordedEvent, worker_ctx: Any, result: Any,
        exc_info: ExcInfo | None,
    ) -> tuple[Any, ExcInfo | None]:
        """Runs in the worker's greenthread after the service method returned or raised."""
        try:
            return self._settle(message, event, result, exc_info)
        finally:
            self.slots.semaphore.release()

    def _settle(
        self, message: Any, event: RecordedEvent, result: Any, exc_info: ExcInfo | None,
    ) -> tuple[Any, ExcInfo | None]:
        with bound(**log_context(self.queue_name, event)):
            if exc_info is None:
                try:
                    duplicate = self._commit(event, result)
                except ForgedEvent:
                    self._refuse(message, event, _exc_info())
                    return result, None
                except Exception:  # noqa: BLE001 - retried, then parked
                    exc_info = _exc_info()
                else:
                    if duplicate:
                        self._duplicate(message, event)
                    else:
                        metrics().consumed.labels(self.queue_name).inc()
                        self.queue_consumer.ack_message(message)
                        log.debug("event handled")
                    return result, None
            self._settle_failure(message, event, exc_info)
        return result, exc_info

    def _commit(self, event: RecordedEvent, result: object) -> bool:
        """The inbox record and the handler's writes in one transaction; True if duplicate."""
        return self.committer.commit(self.queue_name, event, effects_of(result))

    def _duplicate(self, message: Any, event: RecordedEvent) -> None:
        metrics().duplicates.labels(self.queue_name).inc()
        log.info("duplicate event ignored", position=event.position)
        self.queue_consumer.ack_message(message)

    # -- failures -----------------------------------------------------------------------
    def _refuse(self, message: Any, event: RecordedEvent, exc_info: ExcInfo) -> None:
        """A message the log does not confirm: no effect was made; parked at once."""
        metrics().forged.labels(self.queue_name).inc()
        log.error("forged message refused", reason=str(exc_info[1]),
                  position=event.position, stream=event.stream,
                  routing_key=message.delivery_info.get("routing_key"))
        self._settle_failure(message, event, exc_info, park_now=True)

    def _settle_failure(
        self, message: Any, event: RecordedEvent | None, exc_info: ExcInfo,
        *, park_now: bool = False,
    ) -> None:
        """Republish to the next retry level or to parking (confirmed), then ack; if even that
        fails, requeue after a pause (the broker keeps the message)."""
        try:
            self._retry_or_park(message, event, exc_info, park_now=park_now)
        except Exception as exc:  # noqa: BLE001
            log.error("could not republish a failed message; requeueing after a pause",
                      error=f"{type(exc).__name__}: {exc}", consumer=self.queue_name)
            time.sleep(REQUEUE_PAUSE)
            self.queue_consumer.requeue_message(message)
            return
        self.queue_consumer.ack_message(message)

    def _retry_or_park(
        self, message: Any, event: RecordedEvent | None, exc_info: ExcInfo, *, park_now: bool
    ) -> None:
        headers = dict(message.headers or {})
        exc = exc_info[1]
        transient = not park_now and is_transient(exc)
        attempts = _int(headers.get(ATTEMPTS_HEADER)) + (0 if transient else 1)
        outages = _int(headers.get(OUTAGES_HEADER)) + 1 if transient else 0
        error = str(exc) if isinstance(exc, ForgedEvent) else f"{type(exc).__name__}: {exc}"
        headers.setdefault(ORIGINAL_ROUTING_KEY_HEADER, message.delivery_info.get("routing_key"))
        headers.setdefault(ORIGINAL_EXCHANGE_HEADER, message.delivery_info.get("exchange"))
        for key in [k for k in headers if k.startswith("x-death") or "-death-" in k]:
            headers.pop(key)
        headers[ATTEMPTS_HEADER] = attempts
        headers[OUTAGES_HEADER] = outages
        headers[LAST_ERROR_HEADER] = _text(error)
        headers[CONSUMER_HEADER] = self.queue_name
        park = not transient and (park_now or attempts > self.topology.retry_levels)
        if park:
            target = self.topology.parking_queue(self.queue_name)
            headers[PARK_REASON_HEADER] = _text(error)
            headers[EXCEPTION_TYPE_HEADER] = f"{type(exc).__module__}.{type(exc).__qualname__}"
            headers[EXCEPTION_MESSAGE_HEADER] = _text(exc)
            headers[TRACEBACK_HEADER] = _text(
                "".join(traceback.format_exception(*exc_info)), MAX_TRACEBACK
            )
            headers[PARKED_AT_HEADER] = datetime.now(UTC).isoformat()
        elif transient:  # capped backoff: the longest delay from the last level on
            target = self.topology.retry_queue(self.queue_name,
                                               min(outages, self.topology.retry_levels))
        else:
            target = self.topology.retry_queue(self.queue_name, attempts)
        properties = message.properties or {}
        message_id = properties.get("message_id") or (event.event_id if event else None)
        self.retry_publisher.publish(
            OutgoingMessage(
                body=_body_bytes(message),
                routing_key=target,
                message_id=str(message_id or f"unidentified-{time.time_ns()}"),
                exchange=self.topology.republish_exchange(self.queue_name),
                headers=headers,
                content_type=message.content_type or "application/octet-stream",
                correlation_id=properties.get("correlation_id"),
                type=properties.get("type"),
            )
        )
        if park:
            metrics().parked.labels(self.queue_name).inc()
            log.error("event parked", queue=target, attempts=attempts, reason=error,
                      event_id=event.event_id if event else message_id)
        elif transient:
            metrics().retried.labels(self.queue_name).inc()
            log.warning("infrastructure failure; retry scheduled (never parked)", queue=target,
                        outages=outages, reason=error)
        else:
            metrics().retried.labels(self.queue_name).inc()
            log.warning("event handling failed; retry scheduled", queue=target,
                        attempts=attempts, reason=error)


def event_handler(queue: str, *, topology: Topology, precheck: bool = True,
                  **kwargs: Any) -> Callable[[F], F]:
    """Decorate a service method `(self, event: RecordedEvent, payload) -> HandlerResult` to
    consume the subscription queue `queue` of `topology` idempotently (module docstring).

    `precheck`: look the event up in the inbox before calling the method, so a redelivery
    does not run it (one query per delivery). A method that only returns its writes (a
    callable doing the work in the transaction) gains nothing from it: pass False, and the
    inbox record made in the transaction alone stops a redelivery.

    While the method runs, the structlog context carries consignment_id (the correlation
    id), event_id, event_type and consumer; its duration goes to `handler_seconds`."""

    def decorate(fn: F) -> F:
        @functools.wraps(fn)
        def handler(self: Any, event: RecordedEvent, payload: Any) -> Any:
            with bound(**log_context(queue, event)):
                started = time.perf_counter()
                try:
                    return fn(self, event, payload)
                finally:
                    metrics().handler_seconds.labels(queue).observe(
                        time.perf_counter() - started
                    )

        register_entrypoint(handler, EventHandler(queue, topology, precheck=precheck, **kwargs))
        return handler  # type: ignore[return-value]

    return decorate


def _exc_info() -> ExcInfo:
    exc_type, exc, tb = sys.exc_info()
    assert exc_type is not None and exc is not None
    return exc_type, exc, tb


def _int(value: object) -> int:
    if isinstance(value, int | str | bytes):
        try:
            return int(value)
        except ValueError:
            return 0
    return 0

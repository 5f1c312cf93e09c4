"""A confirming publisher on py-amqp, pipelined: publish a whole batch, then collect the confirms.

nameko's `EventDispatcher` waits one round trip per event and publishes with
`mandatory=False`, so an event sent before its queue exists is dropped silently. This one:

* puts its channel in confirm mode (`confirm.select`) and publishes every message of a batch
  persistent (`delivery_mode=2`), `mandatory=True`, with `message_id` and headers;
* then reads `basic.ack` / `basic.nack` (honouring `multiple`) and `basic.return` until every
  message of the batch is settled or the confirm timeout passes;
* reports per message: confirmed, returned (unroutable), nacked, or failed (connection lost,
  channel error, timeout). A message is confirmed only when the broker acked it and did not
  return it (RabbitMQ sends the return before the ack of an unroutable mandatory message).

Connections are made lazily and remade after any error (the next `publish` reconnects), and
`on_connect(channel)` runs after each (re)connection: the relay declares its topology there.
Under eventlet monkey patching py-amqp's sockets are green, so a publish yields to other
greenthreads while it waits. One `Publisher` is safe to share between threads/greenthreads:
publishes are serialised by a lock (threading's, which is green when monkey patched).
"""

from __future__ import annotations

import threading
import time
from collections import deque
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from enum import Enum
from types import TracebackType
from typing import Any
from urllib.parse import unquote, urlsplit

import amqp

from shared.observability.logging import get_logger

log = get_logger(__name__)

JSON = "application/json"


class Outcome(Enum):
    CONFIRMED = "confirmed"
    RETURNED = "returned"  # unroutable: no queue bound for the routing key
    NACKED = "nacked"  # the broker refused it (e.g. a full queue with reject-publish)
    FAILED = "failed"  # connection or channel lost, or no confirm before the timeout


@dataclass(frozen=True)
class OutgoingMessage:
    """One message to publish. `message_id` is required (the event id for events)."""

    body: bytes
    routing_key: str
    message_id: str
    exchange: str = ""
    headers: Mapping[str, Any] = field(default_factory=dict)
    content_type: str = JSON
    correlation_id: str | None = None
    type: str | None = None
    mandatory: bool = True

    def amqp_message(self) -> amqp.Message:
        properties: dict[str, Any] = {
            "content_type": self.content_type,
            "content_encoding": "utf-8",
            "delivery_mode": 2,
            "message_id": self.message_id,
            "application_headers": dict(self.headers),
        }
        if self.correlation_id is not None:
            properties["correlation_id"] = self.correlation_id
        if self.type is not None:
            properties["type"] = self.type
        return amqp.Message(self.body, **properties)


@dataclass(frozen=True)
class Delivery:
    message: OutgoingMessage
    outcome: Outcome
    reason: str | None = None

    @property
    def confirmed(self) -> bool:
        return self.outcome is Outcome.CONFIRMED


@dataclass(frozen=True)
class PublishResult:
    """The outcome of each message of a batch, in the order given."""

    deliveries: tuple[Delivery, ...]

    @property
    def ok(self) -> bool:
        return all(d.confirmed for d in self.deliveries)

    @property
    def confirmed(self) -> list[OutgoingMessage]:
        return [d.message for d in self.deliveries if d.confirmed]

    @property
    def failed(self) -> list[Delivery]:
        return [d for d in self.deliveries if not d.confirmed]

    @property
    def confirmed_prefix(self) -> int:
        """How many leading messages were confirmed (each one and all before it)."""
        count = 0
        for delivery in self.deliveries:
            if not delivery.confirmed:
                break
            count += 1
        return count


@dataclass(frozen=True)
class AmqpParams:
    host: str
    port: int
    userid: str
    password: str
    virtual_host: str

    @classmethod
    def from_uri(cls, uri: str) -> AmqpParams:
        """`amqp://user:pass@host:port/vhost` (also `pyamqp://`); an empty path is vhost `/`."""
        parts = urlsplit(uri)
        if parts.scheme not in ("amqp", "pyamqp"):
            raise ValueError(f"unsupported AMQP URI scheme {parts.scheme!r}")
        path = parts.path[1:] if parts.path.startswith("/") else parts.path
        return cls(
            host=parts.hostname or "localhost",
            port=parts.port or 5672,
            userid=unquote(parts.username or "guest"),
            password=unquote(parts.password or "guest"),
            virtual_host=unquote(path) if path else "/",
        )


WRITE_TIMEOUT = 10.0  # seconds a write to the broker's socket may block (a stalled peer)


def connect(uri: str, *, connect_timeout: float = 5.0, heartbeat: int = 0,
            write_timeout: float | None = WRITE_TIMEOUT) -> amqp.Connection:
    """An open py-amqp connection to `uri` (`heartbeat` seconds: 0 for none; a connection
    with heartbeats must be ticked, see `Publisher.tick`)."""
    params = AmqpParams.from_uri(uri)
    connection = amqp.Connection(
        host=f"{params.host}:{params.port}",
        userid=params.userid,
        password=params.password,
        virtual_host=params.virtual_host,
        connect_timeout=connect_timeout,
        heartbeat=heartbeat,
        write_timeout=write_timeout,
        confirm_publish=False,
    )
    connection.connect()
    return connection


def close_quietly(connection: amqp.Connection | None) -> None:
    if connection is None:
        return
    try:
        connection.close()
    except Exception:  # noqa: BLE001 - closing a broken connection
        try:
            connection.collect()
        except Exception:  # noqa: BLE001
            pass


class _Batch:
    """Book-keeping of one batch in flight: delivery tag -> index, returns by message id."""

    def __init__(self, first_tag: int, messages: Sequence[OutgoingMessage]) -> None:
        self.first_tag = first_tag
        self.outcomes: list[Outcome | None] = [None] * len(messages)
        self.reasons: list[str | None] = [None] * len(messages)
        self.returned: list[bool] = [False] * len(messages)
        self.return_reasons: list[str | None] = [None] * len(messages)
        self.published = 0  # how many were written to the socket
        self.unreturned: dict[str, deque[int]] = {}
        for index, message in enumerate(messages):
            self.unreturned.setdefault(message.message_id, deque()).append(index)

    def pending(self) -> int:
        return sum(1 for i in range(self.published) if self.outcomes[i] is None)

    def settle(self, delivery_tag: int, multiple: bool, outcome: Outcome) -> None:
        last = delivery_tag - self.first_tag
        first = 0 if multiple else last
        for index in range(max(first, 0), min(last + 1, self.published)):
            if self.outcomes[index] is not None:
                continue
            if outcome is Outcome.CONFIRMED and self.returned[index]:
                self.outcomes[index] = Outcome.RETURNED
                self.reasons[index] = self.return_reasons[index]
            else:
                self.outcomes[index] = outcome
                if outcome is Outcome.NACKED:
                    self.reasons[index] = "nacked by the broker"

    def mark_returned(self, message_id: str | None, reason: str) -> None:
        indexes = self.unreturned.get(message_id or "")
        if indexes:
            index = indexes.popleft()
            self.returned[index] = True
            self.return_reasons[index] = reason

    def fail_unsettled(self, reason: str) -> None:
        for index, outcome in enumerate(self.outcomes):
            if outcome is None:
                self.outcomes[index] = Outcome.FAILED
                self.reasons[index] = reason


class Publisher:
    """Publishes batches with pipelined publisher confirms (see the module docstring)."""

    def __init__(
        self,
        amqp_uri: str,
        *,
        on_connect: Callable[[Any], None] | None = None,
        confirm_timeout: float = 30.0,
        connect_timeout: float = 5.0,
        heartbeat: int = 0,
    ) -> None:
        self.amqp_uri = amqp_uri
        self.heartbeat = heartbeat
        self.on_connect = on_connect
        self.confirm_timeout = confirm_timeout
        self.connect_timeout = connect_timeout
        self._lock = threading.Lock()
        self._connection: amqp.Connection | None = None
        self._channel: Any = None
        self._next_tag = 1
        self._batch: _Batch | None = None

    # -- lifecycle ----------------------------------------------------------------------
    def __enter__(self) -> Publisher:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    @property
    def connected(self) -> bool:
        return self._connection is not None

    def close(self) -> None:
        with self._lock:
            self._reset()

    def tick(self) -> None:
        """Keep an idle connection's heartbeats going (send ours, check the broker's): call
        it at least every `heartbeat / 2` seconds. A connection found dead is dropped; the
        next publish reconnects."""
        with self._lock:
            if self._connection is None or not self.heartbeat:
                return
            try:
                self._connection.heartbeat_tick()
            except Exception as exc:  # noqa: BLE001 - dead: reconnect on the next publish
                log.warning("broker heartbeat missed; will reconnect",
                            error=f"{type(exc).__name__}: {exc}")
                self._reset()

    def ensure_connected(self) -> Any:
        """Connect (and run `on_connect`) if not connected; the confirm-mode channel."""
        with self._lock:
            return self._ensure_channel()

    # -- publishing ---------------------------------------------------------------------
    def publish(
        self, messages: Sequence[OutgoingMessage], *, timeout: float | None = None
    ) -> PublishResult:
        """Publish `messages` in order and wait for their confirms (at most `timeout` s).

        Never raises for broker or network trouble: every message not confirmed is reported
        with its outcome and reason, and the connection is remade on the next call."""
        if not messages:
            return PublishResult(())
        with self._lock:
            return self._publish(messages, self.confirm_timeout if timeout is None else timeout)

    def publish_one(self, message: OutgoingMessage, *, timeout: float | None = None) -> Delivery:
        return self.publish([message], timeout=timeout).deliveries[0]

    def _publish(self, messages: Sequence[OutgoingMessage], timeout: float) -> PublishResult:
        try:
            channel = self._ensure_channel()
        except Exception as exc:  # noqa: BLE001 - reported per message
            self._reset()
            reason = f"connect or declare failed: {type(exc).__name__}: {exc}"
            return PublishResult(tuple(Delivery(m, Outcome.FAILED, reason) for m in messages))

        batch = _Batch(self._next_tag, messages)
        self._batch = batch
        try:
            for message in messages:
                channel.basic_publish(
                    message.amqp_message(),
                    exchange=message.exchange,
                    routing_key=message.routing_key,
                    mandatory=message.mandatory,
                )
                batch.published += 1
                self._next_tag += 1
            deadline = time.monotonic() + timeout
            assert self._connection is not None
            while batch.pending():
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    raise TimeoutError(f"no confirm within {timeout:.1f}s")
                try:
                    self._connection.drain_events(timeout=min(remaining, 1.0))
                except TimeoutError:  # socket.timeout is TimeoutError
                    continue
        except Exception as exc:  # noqa: BLE001 - connection/channel trouble: reconnect later
            batch.fail_unsettled(f"{type(exc).__name__}: {exc}")
            log.warning("publish failed; will reconnect", error=f"{type(exc).__name__}: {exc}",
                        published=batch.published, batch=len(messages))
            self._reset()
        finally:
            self._batch = None
        batch.fail_unsettled("not published")
        return PublishResult(
            tuple(
                Delivery(message, outcome or Outcome.FAILED, reason)
                for message, outcome, reason in zip(
                    messages, batch.outcomes, batch.reasons, strict=True
                )
            )
        )

    # -- connection management ------------------------------------------------------------
    def _ensure_channel(self) -> Any:
        if self._connection is not None and self._channel is not None:
            return self._channel
        self._reset()
        connection = connect(self.amqp_uri, connect_timeout=self.connect_timeout,
                             heartbeat=self.heartbeat)
        try:
            channel = connection.channel()
            if self.on_connect is not None:
                self.on_connect(channel)
            channel.confirm_select()
            channel.events["basic_ack"].add(self._on_ack)
            channel.events["basic_nack"].add(self._on_nack)
            channel.events["basic_return"].add(self._on_return)
        except BaseException:
            close_quietly(connection)
            raise
        self._connection = connection
        self._channel = channel
        self._next_tag = 1
        return channel

    def _reset(self) -> None:
        connection, self._connection, self._channel = self._connection, None, None
        close_quietly(connection)

    # -- broker callbacks (run inside drain_events) ---------------------------------------
    def _on_ack(self, delivery_tag: int, multiple: bool) -> None:
        if self._batch is not None:
            self._batch.settle(delivery_tag, multiple, Outcome.CONFIRMED)

    def _on_nack(self, delivery_tag: int, multiple: bool) -> None:
        if self._batch is not None:
            self._batch.settle(delivery_tag, multiple, Outcome.NACKED)

    def _on_return(self, exc: Exception, exchange: str, routing_key: str, message: Any) -> None:
        if self._batch is not None:
            reason = f"returned: {exc} (exchange {exchange!r}, routing key {routing_key!r})"
            self._batch.mark_returned(message.properties.get("message_id"), reason)

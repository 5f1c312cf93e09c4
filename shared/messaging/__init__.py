"""Reliable delivery between the log and the services.

* `topology`: the events exchange, subscription queues, retry and parking queues (a value).
* `publisher`: a pipelined confirming publisher on py-amqp.
* `relay`: the log is the outbox; `Relay` (plain) and `RelayProvider` (nameko).
* `consumer`: `@event_handler(queue, topology=...)`, the idempotent nameko entrypoint.
* `parking`: list and replay parked messages.
* `store_provider`: the container's shared `EventStore` (`EventStoreProvider`).

Import the submodules directly; this package imports nothing (no nameko/eventlet side effects).
"""

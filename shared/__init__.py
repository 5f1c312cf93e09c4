"""The project's shared library: the event contract, the event store, messaging, observability."""

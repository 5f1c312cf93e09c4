"""What every service process wires the same way: the store, the reference data and the
application object, opened in `setup()` (never at import time) and injected into workers."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any, Generic, TypeVar

from nameko.extensions import DependencyProvider

from shared.events.catalog import registry
from shared.eventstore import EventStore
from shared.messaging.store_provider import SharedEventStore
from shared.observability.logging import configure
from shared.reference import ReferenceData, load_reference_data

T = TypeVar("T")


def reference_data(config: Mapping[str, Any]) -> ReferenceData:
    return load_reference_data(config.get("REFERENCE_DATA_DIR") or None)


class Application(DependencyProvider, Generic[T]):  # type: ignore[misc]
    """Injects the service's application object, built once per container by `factory`
    from the container's shared store and its config."""

    shared_store = SharedEventStore()

    def __init__(self, factory: Callable[[EventStore, Mapping[str, Any]], T]) -> None:
        self.factory = factory
        self.app: T | None = None

    def setup(self) -> None:
        configure(self.container.service_name)
        store = self.shared_store.open(registry())
        self.app = self.factory(store, self.container.config)

    def get_dependency(self, worker_ctx: Any) -> T:
        assert self.app is not None, "Application used before setup()"
        return self.app

"""The deployment's catalogue: every service's events in one registry."""

from __future__ import annotations

from functools import lru_cache

from . import declaration, payment, release, risk
from .registry import EventRegistry


@lru_cache(maxsize=1)
def registry() -> EventRegistry:
    catalogue = EventRegistry()
    for module in (declaration, risk, payment, release):
        old = getattr(module, "OLD_VERSIONS", {})
        for cls in module.EVENTS:
            catalogue.register(cls, old=old.get(cls))
    return catalogue

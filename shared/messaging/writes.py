"""What an event handler asks to write, and how the writes are made in a store transaction.

Pure data and one function, no broker or framework: the application layer builds these (a
risk assessment computes its events outside any transaction and returns the writes that
record them), and the consumer's group commit (`commit.py`) or a caller holding a
`Transaction` makes them with `perform`:

* a callable taking the `Transaction` (e.g. a read-model update), called in order;
* `Together(apply, value)`: `apply(tx, values)` called ONCE with the values of every write
  of the same `apply` (in order), after the callables;
* `Append(stream, events, expected_version)`: made last, in order. Appending takes the
  deployment's one log-head lock until COMMIT, so it comes last and the lock is held for
  the appends and the commit only.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from shared.events.envelope import NewEvent
from shared.eventstore.store import Transaction

Write = Callable[[Transaction], object]


@dataclass(frozen=True)
class Append:
    """Append `events` to `stream` (expected_version as in `EventStore.append`)."""

    stream: str
    events: Sequence[NewEvent]
    expected_version: int | None


@dataclass(frozen=True)
class Together:
    """A write applied together with the same kind of write of the batch's other events."""

    apply: Callable[[Transaction, list[Any]], object]
    value: Any


AnyWrite = Append | Together | Write


def perform(tx: Transaction, writes: Sequence[AnyWrite]) -> None:
    """Make `writes` in `tx`: callables in order, then the `Together` groups (one call each,
    values in order), then the appends in order (see the module docstring)."""
    together: dict[Callable[[Transaction, list[Any]], object], list[Any]] = {}
    appends: list[Append] = []
    for each in writes:
        if isinstance(each, Append):
            appends.append(each)
        elif isinstance(each, Together):
            together.setdefault(each.apply, []).append(each.value)
        else:
            each(tx)
    for apply_all, values in together.items():
        apply_all(tx, values)
    for append in appends:
        tx.append(append.stream, append.events, append.expected_version)

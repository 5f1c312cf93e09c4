"""Group commit: the handled events of one service written in few store transactions.

Each `@event_handler` delivery ends with one store transaction: the inbox record and the
handler's writes. One transaction per event means one commit (a WAL flush) per event and,
for each appending handler, one turn of the deployment-wide log-head lock. Under load the
per-event transactions of one service queue for the same lock and the same flush anyway, so
the service gathers them: the workers hand their (consumer, event, effects) to the
container's one `GroupCommitter` and wait; its committer greenthread takes everything waiting
(up to `EVENT_HANDLER_BATCH`, default 64) and writes it in ONE transaction, in arrival order,
then tells each worker its outcome. At low load a batch is one event: nothing waits for a
batch to fill.

Under load (the previous commit ended less than 50 ms ago) the committer lingers up to
`EVENT_HANDLER_LINGER` (default 20 ms) before taking the batch, so more events share one
commit; it stops lingering as soon as every worker of the container is waiting for it, and
an event arriving on a quiet service is committed at once.

A batch is all or nothing. When it fails (one handler's write raised, a concurrent append
won a stream version), it is rolled back and its items are written again one transaction
each, so a failure stays with the event that caused it (that one goes to its retry queue)
and the others commit. A duplicate inside a batch (the same event id twice for one
consumer) is caught by the inbox record, as across batches.

The writes (`writes.py`: callables, `Together`, `Append`) of the whole batch are made by
`writes.perform`: appends last, so the deployment's log-head lock is held for the appends
and the commit only, and each `Together` group in one call for the batch.

Each delivered event is confirmed against the log (`shared.eventstore.confirm`). Its worker
first checks that the content hashes to the event's hash on top of the previous hash the
relay published with it; the batch's transaction then records the inbox records only of the
events whose position, id, stream and hash the log holds (one statement, joined by key). An
event the log does not confirm (forged on the broker: an unknown id, another position, stream
or hash, content that does not hash to the hash) gets no inbox record and none of its writes
are made; its worker is told with `ForgedEvent` (the consumer parks the message at once). The
other events of the batch commit as usual.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import eventlet
from eventlet.event import Event
from eventlet.queue import LightQueue
from nameko.extensions import SharedExtension

from shared.events.envelope import RecordedEvent, utcnow
from shared.eventstore.confirm import (
    Content,
    ForgedEvent,
    confirm_and_record,
    delivered_content,
    vouch,
)
from shared.eventstore.store import EventStore, Transaction
from shared.observability.logging import get_logger
from shared.observability.metrics import metrics

from .store_provider import SharedEventStore
from .writes import AnyWrite, perform

log = get_logger(__name__)

BATCH_KEY = "EVENT_HANDLER_BATCH"
DEFAULT_BATCH = 64
LINGER_KEY = "EVENT_HANDLER_LINGER"
DEFAULT_LINGER = 0.02  # seconds (measured: see SERVICE_LINGER in relay.py)
LINGER_WINDOW = 0.05  # lingers only when the previous commit ended less than this ago
LINGER_STEP = 0.0005


@dataclass
class Item:
    """One handled event waiting to be committed; `done` carries True for a duplicate, or
    raises what its writes raised (`ForgedEvent` when the log does not confirm the event)."""

    consumer: str
    event: RecordedEvent
    writes: Sequence[AnyWrite]
    done: Event = field(default_factory=Event)
    # What the event's chain hash covers, and whether it hashes to the event's hash on top
    # of the previous hash it carries (`confirm.vouch`): made by the worker that queues the
    # item, not by the committer inside the transaction, which only asks the log by key.
    content: Content = field(init=False)
    vouched: bool | str = field(init=False)

    def __post_init__(self) -> None:
        self.content = delivered_content(self.event)
        self.vouched = vouch(self.event, self.content)


Outcome = bool | ForgedEvent  # True: a duplicate; False: written; ForgedEvent: refused


def write(tx: Transaction, batch: Sequence[Item]) -> list[Outcome]:
    """Confirm the events of `batch` against the log and record the confirmed ones in the
    inbox (`confirm_and_record`: one statement as a rule), then make the writes of each that
    is not a duplicate, in `tx`; per item, True if it is a duplicate, False if written, the
    `ForgedEvent` if refused (nothing of it written)."""
    refusals, new = confirm_and_record(
        tx, [(i.consumer, i.event, i.content, i.vouched) for i in batch], utcnow())
    outcomes: list[Outcome] = []
    writes: list[AnyWrite] = []
    for item, refused in zip(batch, refusals, strict=True):
        if refused is not None:
            outcomes.append(refused)
            continue
        key = (item.consumer, item.event.event_id)
        if key not in new:
            outcomes.append(True)
            continue
        new.discard(key)  # the same event again later in the batch is a duplicate
        writes.extend(item.writes)
        outcomes.append(False)
    perform(tx, writes)
    return outcomes


def settle(item: Item, outcome: Outcome) -> None:
    if isinstance(outcome, ForgedEvent):
        item.done.send_exception(outcome)
    else:
        item.done.send(outcome)


def commit_batch(store: EventStore, batch: Sequence[Item]) -> None:
    """Write `batch` in one transaction, or (when that fails) each item in its own; settle
    every item's `done` with its outcome or its exception."""
    if len(batch) > 1:
        try:
            with store.transaction() as tx:
                outcomes = write(tx, batch)
        except Exception as exc:  # noqa: BLE001 - isolate the failing item below
            log.info("batch rolled back; writing its events one by one", size=len(batch),
                     error=f"{type(exc).__name__}: {exc}")
        else:
            for item, outcome in zip(batch, outcomes, strict=True):
                settle(item, outcome)
            return
    for item in batch:
        try:
            with store.transaction() as tx:
                [outcome] = write(tx, [item])
        except Exception as exc:  # noqa: BLE001 - handed to the waiting worker
            item.done.send_exception(exc)
        else:
            settle(item, outcome)


class GroupCommitter(SharedExtension):  # type: ignore[misc]
    """The container's committer of handled events (see the module docstring)."""

    shared_store = SharedEventStore()

    def __init__(self) -> None:
        self.queue: LightQueue = LightQueue()
        self.store: EventStore | None = None
        self.batch = DEFAULT_BATCH
        self.linger = DEFAULT_LINGER
        self.full = 10  # the container's max_workers: no more can wait for one commit
        self._last_commit = float("-inf")
        self._thread: Any = None

    def setup(self) -> None:
        self.store = self.shared_store.open()
        self.batch = max(1, int(self.container.config.get(BATCH_KEY, DEFAULT_BATCH)))
        self.linger = max(0.0, float(self.container.config.get(LINGER_KEY, DEFAULT_LINGER)))
        self.full = max(1, int(self.container.max_workers))

    def start(self) -> None:
        self._thread = self.container.spawn_managed_thread(self._run,
                                                           identifier="group-committer")

    def commit(self, consumer: str, event: RecordedEvent,
               writes: Sequence[AnyWrite]) -> bool:
        """Commit the inbox record of `event` for `consumer` with `writes` (called by a worker,
        which waits); True if the event was a duplicate. Raises what the writes raised, and
        `ForgedEvent` (nothing written) when the log does not confirm `event`."""
        item = Item(consumer, event, writes)
        self.queue.put(item)
        return bool(item.done.wait())

    def _run(self) -> None:
        assert self.store is not None
        while True:
            item = self.queue.get()
            if item is None:
                return
            if time.monotonic() - self._last_commit < LINGER_WINDOW:
                self._linger()
            batch = [item]
            stop = False
            while len(batch) < self.batch and not self.queue.empty():
                more = self.queue.get_nowait()
                if more is None:
                    stop = True
                    break
                batch.append(more)
            metrics().commit_batch.observe(len(batch))
            commit_batch(self.store, batch)
            self._last_commit = time.monotonic()
            if stop:
                return

    def _linger(self) -> None:
        """Busy: let the batch fill a little, but not past the point where every worker of
        the container waits for this commit (nothing more could join it)."""
        deadline = time.monotonic() + self.linger
        while self.queue.qsize() + 1 < self.full and time.monotonic() < deadline:
            eventlet.sleep(LINGER_STEP)

    def stop(self) -> None:
        # The entrypoints have stopped and their workers finished: nothing more arrives.
        if self._thread is not None:
            self.queue.put(None)
            self._thread.wait()
            self._thread = None

    def kill(self) -> None:
        if self._thread is not None:
            self._thread.kill()
            self._thread = None

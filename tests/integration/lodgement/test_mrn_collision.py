"""Two processes (here: two `Declarations` with allocators starting at the same serial, as
two replicas may by chance) allocate the same MRN: the second lodgement's status row meets the
unique MRN of the first, its transaction is rolled back (nothing of it stored) and it is
accepted under the next MRN. On SQLite and PostgreSQL."""

from __future__ import annotations

import copy
from collections.abc import Iterator

import pytest

from services.declaration.application import Declarations
from services.declaration.domain.identifiers import MrnAllocator
from shared.events.catalog import registry
from shared.eventstore import EventStore
from shared.identity import Caller
from shared.reference import load_reference_data
from tests.unit.declaration.support import SAMPLE_DOCUMENT


@pytest.fixture
def store(store_url: str) -> Iterator[EventStore]:
    store = EventStore(store_url, registry())
    yield store
    store.close()


def test_a_taken_mrn_is_drawn_again_and_nothing_of_the_first_try_is_stored(
        store: EventStore) -> None:
    reference = load_reference_data()
    first = Declarations(store, reference, MrnAllocator(random_start=lambda: 1234))
    second = Declarations(store, reference, MrnAllocator(random_start=lambda: 1234))
    caller = Caller("broker-1", frozenset({"declarant"}),
                    eori=str(SAMPLE_DOCUMENT["declarant"]["eori"]))
    documents = []
    for lrn in ("COLLIDE-1", "COLLIDE-2"):
        document = copy.deepcopy(SAMPLE_DOCUMENT)
        document["lrn"] = lrn
        documents.append(document)
    one = first.lodge(documents[0], caller)
    before = store.last_position()
    two = second.lodge(documents[1], caller)
    assert one.mrn != two.mrn
    # the second took the serial after the shared start: the first try left nothing
    assert store.last_position() == before + 2
    assert first.status(two.mrn, caller)["lrn"] == "COLLIDE-2"
    assert first.status(one.mrn, caller)["lrn"] == "COLLIDE-1"

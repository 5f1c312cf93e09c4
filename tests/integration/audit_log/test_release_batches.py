"""The release service hears the facts of a whole committed batch at once (`hear_all`).

Property: for random histories of several consignments, delivered in any order, with
duplicates, cut into batches of any size, the batched hearing ends where hearing the same
facts one by one ends: the same facts and outcome per consignment in `release_cases`, and
exactly one GoodsReleased for each released consignment, and one DeclarationCleared for each
cleared one. Real SQLite stores.
"""

from __future__ import annotations

import tempfile
from collections import Counter
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from services.release.application import Releases
from services.release.projections import CASES
from shared.events.catalog import registry
from shared.events.envelope import RecordedEvent, stream_name
from shared.eventstore import EventStore

from .test_rebuild import consignment_history, histories


def cases(store: EventStore) -> dict[str, tuple[str, str]]:
    return {str(row["consignment_id"]): (str(row["facts"]), str(row["outcome"]))
            for row in CASES.all(store)}


def released(store: EventStore, event_type: str = "GoodsReleased") -> Counter[str]:
    return Counter(e.correlation_id for e in store.read_all(limit=100_000)
                   if e.type == event_type)


@settings(max_examples=20, deadline=None, suppress_health_check=list(HealthCheck))
@given(plans=histories, data=st.data())
def test_batched_hearing_ends_where_hearing_one_by_one_ends(plans: Any, data: Any) -> None:
    with tempfile.TemporaryDirectory() as folder:
        source = EventStore(f"sqlite:///{folder}/source.db", registry())
        one_by_one = EventStore(f"sqlite:///{folder}/single.db", registry())
        batched = EventStore(f"sqlite:///{folder}/batched.db", registry())
        try:
            facts: list[RecordedEvent] = []
            for plan in plans:
                for cid, category, payload in consignment_history(*plan):
                    if category != "release":  # the release service appends its own
                        facts += source.append(stream_name(category, cid), [
                            registry().new_event(payload, correlation_id=cid, actor="t")], None)
            deliveries = list(data.draw(st.permutations(facts), label="order"))
            deliveries += data.draw(st.lists(st.sampled_from(facts), max_size=6), label="again")
            sizes = data.draw(st.lists(st.integers(1, 8), min_size=len(deliveries),
                                       max_size=len(deliveries)), label="batch sizes")

            single = Releases(one_by_one)
            for event in deliveries:
                with one_by_one.transaction() as tx:
                    single.hear(tx, event)
            together = Releases(batched)
            at = 0
            for size in sizes:
                if at >= len(deliveries):
                    break
                with batched.transaction() as tx:
                    together.hear_all(tx, deliveries[at:at + size])
                at += size

            assert cases(batched) == cases(one_by_one)
            outcomes = {cid: outcome for cid, (_facts, outcome) in cases(batched).items()}
            assert released(batched) == Counter(
                {cid: 1 for cid, outcome in outcomes.items()
                 if outcome in ("released", "cleared")})
            assert released(batched, "DeclarationCleared") == Counter(
                {cid: 1 for cid, outcome in outcomes.items() if outcome == "cleared"})
            assert released(one_by_one) == released(batched)
        finally:
            for store in (source, one_by_one, batched):
                store.close()

"""A release and an invalidation or amendment of the same declaration exclude each other
(the release side; the declaration side is driven through the services in the e2e tests).

The release service decides from the facts it has heard. If the declaration was invalidated,
or amended to a new version, in the log before its GoodsReleased commits, the release is
undone (`ChangedMeanwhile`: the batch rolls back, nothing appended) and heard again later with
the new facts. Real SQLite and PostgreSQL stores."""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from typing import Any

import pytest

from services.release.application import ChangedMeanwhile, Releases
from shared.events.catalog import registry
from shared.events.declaration import DeclarationAccepted, DeclarationInvalidated
from shared.events.envelope import RecordedEvent, stream_name
from shared.events.payment import DutyAssessed, PaymentReceived
from shared.events.risk import RiskAssessed
from shared.eventstore import EventStore

CID, MRN = "c0ffee00-0000-4000-8000-0000000000aa", "26GBA7K2M9Q4R8T1X5"


def accepted(version: int) -> DeclarationAccepted:
    return DeclarationAccepted(CID, MRN, "L-1", "GB1", "GBDEM001", "air", date(2026, 3, 2),
                               version, {})


def append(store: EventStore, category: str, payload: Any) -> list[RecordedEvent]:
    return store.append(stream_name(category, CID), [
        registry().new_event(payload, correlation_id=CID, actor="t")], None)


def ready(store: EventStore) -> list[RecordedEvent]:
    """The facts of a green declaration, version 1, paid: the release decides to release."""
    return [*append(store, "declaration", accepted(1)),
            *append(store, "risk", RiskAssessed(CID, MRN, "green", 0, [], "2026.1", None, {},
                                                 {})),
            *append(store, "payment", DutyAssessed(CID, MRN, "GBP", Decimal("0"), Decimal("10"),
                                                   Decimal("10"), "t", "r", "half-up", {})),
            *append(store, "payment", PaymentReceived(CID, MRN, "P-1", Decimal("10"), "GBP",
                                                      Decimal("0"), Decimal("0")))]


@pytest.mark.parametrize("meanwhile", [
    DeclarationInvalidated(CID, MRN, 1, "withdrawn", False, None), accepted(2)],
    ids=["invalidated", "amended"])
def test_a_release_the_declaration_changed_under_is_undone(store_url: str,
                                                           meanwhile: Any) -> None:
    store = EventStore(store_url, registry())
    try:
        heard = ready(store)
        append(store, "declaration", meanwhile)  # not heard by the release service yet
        releases = Releases(store)
        with pytest.raises(ChangedMeanwhile), store.transaction() as tx:
            releases.hear_all(tx, heard)
        assert store.read_stream(stream_name("release", CID)) == []
    finally:
        store.close()


def test_an_unchanged_declaration_is_released_and_cleared(store_url: str) -> None:
    store = EventStore(store_url, registry())
    try:
        heard = ready(store)
        with store.transaction() as tx:
            assert Releases(store).hear_all(tx, heard) == {CID: "cleared"}  # paid before
        [release, cleared] = store.read_stream(stream_name("release", CID))
        assert release.type == "GoodsReleased" and release.payload.declaration_version == 1
        assert cleared.type == "DeclarationCleared"
        assert cleared.payload.amount_paid == cleared.payload.amount_due == Decimal("10")
    finally:
        store.close()

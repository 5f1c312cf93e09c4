"""Clearance (status 09) on the release side: a release whose debt was paid before is cleared
in the same append; goods released before they were cleared (a release recorded by an earlier
version of the service, or later on a guarantee) are cleared when the fact that settles the
debt is heard, exactly once, and never after an invalidation. Real SQLite and PostgreSQL
stores."""

from __future__ import annotations

from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Any

from services.release import projections
from services.release.application import Releases
from services.release.projections import CASES
from shared.events.catalog import registry
from shared.events.declaration import DeclarationAccepted, DeclarationInvalidated
from shared.events.envelope import RecordedEvent, stream_name
from shared.events.payment import DutyAssessed, PaymentReceived
from shared.events.release import GoodsReleased
from shared.events.risk import RiskAssessed
from shared.eventstore import EventStore

CID, MRN = "c0ffee00-0000-4000-8000-0000000000cc", "26GBA7K2M9Q4R8T1X5"


def append(store: EventStore, category: str, payload: Any) -> list[RecordedEvent]:
    return store.append(stream_name(category, CID), [
        registry().new_event(payload, correlation_id=CID, actor="t")], None)


def paid(store: EventStore, reference: str, amount: str) -> list[RecordedEvent]:
    return append(store, "payment", PaymentReceived(CID, MRN, reference, Decimal(amount), "GBP",
                                                    Decimal("0"), Decimal("0")))


def released_unpaid(store: EventStore) -> list[RecordedEvent]:
    """A green declaration with 10.00 due, 4.00 paid, whose goods a release recorded before
    clearance existed released (its case says `released`, its stream has no clearance)."""
    facts = [
        *append(store, "declaration", DeclarationAccepted(
            CID, MRN, "L-1", "GB1", "GBDEM001", "air", date(2026, 3, 2), 1, {})),
        *append(store, "risk", RiskAssessed(CID, MRN, "green", 0, [], "2026.1", None, {}, {})),
        *append(store, "payment", DutyAssessed(CID, MRN, "GBP", Decimal("0"), Decimal("10"),
                                               Decimal("10"), "t", "r", "half-up", {})),
        *paid(store, "P-1", "4.00"),
    ]
    now = datetime.now(UTC)
    release = append(store, "release", GoodsReleased(CID, MRN, 1, "GBDEM001", "green", "air",
                                                     now, now))
    with store.transaction() as tx:
        projections.project(tx, [*facts, *release])
    return facts


def outcome(store: EventStore) -> str:
    [row] = [r for r in CASES.all(store) if r["consignment_id"] == CID]
    return str(row["outcome"])


def release_stream(store: EventStore) -> list[str]:
    return [e.type for e in store.read_stream(stream_name("release", CID))]


def test_released_goods_are_cleared_once_by_the_payment_that_settles_the_debt(
        store_url: str) -> None:
    store = EventStore(store_url, registry())
    try:
        released_unpaid(store)
        assert outcome(store) == "released"
        releases = Releases(store)
        partly = paid(store, "P-2", "3.00")
        with store.transaction() as tx:  # 7.00 of 10.00: released, not cleared
            assert releases.hear_all(tx, partly) == {CID: "released"}
        assert release_stream(store) == ["GoodsReleased"]
        settling = paid(store, "P-3", "3.00")
        with store.transaction() as tx:
            assert releases.hear_all(tx, settling) == {CID: "cleared"}
        assert release_stream(store) == ["GoodsReleased", "DeclarationCleared"]
        cleared = store.read_stream(stream_name("release", CID))[-1]
        assert cleared.payload.amount_due == Decimal("10")
        assert cleared.payload.amount_paid == Decimal("10.00")
        assert cleared.causation_id == settling[0].event_id
        with store.transaction() as tx:  # heard again: final, nothing more
            assert releases.hear_all(tx, settling) == {CID: "cleared"}
        assert release_stream(store) == ["GoodsReleased", "DeclarationCleared"]
        assert outcome(store) == "cleared"
    finally:
        store.close()


def test_released_goods_invalidated_after_release_are_never_cleared(store_url: str) -> None:
    store = EventStore(store_url, registry())
    try:
        released_unpaid(store)
        releases = Releases(store)
        invalidated = append(store, "declaration", DeclarationInvalidated(
            CID, MRN, 1, "re-exported unopened", True, None))
        with store.transaction() as tx:
            releases.hear_all(tx, invalidated)
        settling = paid(store, "P-2", "6.00")
        with store.transaction() as tx:
            assert releases.hear_all(tx, settling) == {CID: "released"}
        assert release_stream(store) == ["GoodsReleased"]
    finally:
        store.close()


def test_a_version_amended_after_clearance_is_cleared_in_turn(store_url: str) -> None:
    """A post-release amendment (UCC art. 173(3)) makes version 2: its higher duty is owed,
    and once paid, version 2 is cleared too; nothing is released again."""
    store = EventStore(store_url, registry())
    try:
        releases = Releases(store)
        first = [
            *append(store, "declaration", DeclarationAccepted(
                CID, MRN, "L-1", "GB1", "GBDEM001", "air", date(2026, 3, 2), 1, {})),
            *append(store, "risk", RiskAssessed(CID, MRN, "green", 0, [], "2026.1", None, {},
                                                {})),
            *append(store, "payment", DutyAssessed(CID, MRN, "GBP", Decimal("0"), Decimal("10"),
                                                   Decimal("10"), "t", "r", "half-up", {})),
            *paid(store, "P-1", "10.00"),
        ]
        with store.transaction() as tx:
            assert releases.hear_all(tx, first) == {CID: "cleared"}
        amended = [
            *append(store, "declaration", DeclarationAccepted(
                CID, MRN, "L-1", "GB1", "GBDEM001", "air", date(2026, 3, 2), 2, {})),
            *append(store, "risk", RiskAssessed(CID, MRN, "green", 0, [], "2026.1", None, {},
                                                {}, declaration_version=2)),
            *append(store, "payment", DutyAssessed(CID, MRN, "GBP", Decimal("0"), Decimal("14"),
                                                   Decimal("14"), "t", "r", "half-up", {},
                                                   declaration_version=2)),
        ]
        with store.transaction() as tx:
            releases.hear_all(tx, amended)
        assert release_stream(store) == ["GoodsReleased", "DeclarationCleared"]  # 4.00 owed
        settling = paid(store, "P-2", "4.00")
        for _ in range(2):  # heard twice: cleared once
            with store.transaction() as tx:
                assert releases.hear_all(tx, settling) == {CID: "cleared"}
        assert release_stream(store) == ["GoodsReleased", "DeclarationCleared",
                                         "DeclarationCleared"]
        versions = [e.payload.declaration_version
                    for e in store.read_stream(stream_name("release", CID))[1:]]
        assert versions == [1, 2]
    finally:
        store.close()

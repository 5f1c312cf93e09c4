"""The acceptance date is the local date at the office of declaration (DOMAIN.md), on both
stores: a declaration lodged at a UK office at 00:30 BST on 1 July (23:30 UTC on 30 June) is
accepted on 1 July, under July's tariff, and its MRN carries that year; an office that is not
in the office register is refused with a problem on `/office` and nothing is stored."""

from __future__ import annotations

import copy
from collections.abc import Iterator
from datetime import UTC, date, datetime

import pytest

from services.declaration.application import Declarations
from services.declaration.domain.validation import DeclarationInvalid
from shared.events.catalog import registry
from shared.events.declaration import DeclarationAccepted
from shared.eventstore import EventStore
from shared.identity import Caller
from shared.reference import load_reference_data
from tests.unit.declaration.support import SAMPLE_DOCUMENT

BST_0030_1_JULY = datetime(2026, 6, 30, 23, 30, tzinfo=UTC)


@pytest.fixture
def declarations(store_url: str) -> Iterator[Declarations]:
    store = EventStore(store_url, registry())
    yield Declarations(store, load_reference_data())
    store.close()


def declarant() -> Caller:
    return Caller("broker-1", frozenset({"declarant"}),
                  eori=str(SAMPLE_DOCUMENT["declarant"]["eori"]))


def test_a_uk_declaration_at_0030_bst_on_1_july_is_accepted_on_1_july(
    declarations: Declarations,
) -> None:
    document = copy.deepcopy(SAMPLE_DOCUMENT)
    assert document["office"] == "GBLHR001"
    lodged = declarations.lodge(document, declarant(), now=BST_0030_1_JULY)
    [accepted] = [e.payload for e in declarations.store.read_stream(
        f"declaration-{lodged.consignment_id}") if e.type == "DeclarationAccepted"]
    assert isinstance(accepted, DeclarationAccepted)
    assert accepted.acceptance_date == date(2026, 7, 1)  # not the UTC date, 30 June
    tariff = load_reference_data().tariff
    assert tariff.version_on(date(2026, 7, 1)) != tariff.version_on(date(2026, 6, 30))
    assert lodged.mrn.startswith("26GB") and lodged.mrn[16] == "R"


def test_the_same_moment_at_an_office_in_utc_plus_two_is_also_1_july_and_at_2230_utc_30_june(
    declarations: Declarations,
) -> None:
    register = load_reference_data().offices
    assert register.local_date("DEHAM001", BST_0030_1_JULY) == date(2026, 7, 1)
    assert register.local_date("GBLHR001", datetime(2026, 6, 30, 22, 59, tzinfo=UTC)) == date(
        2026, 6, 30)
    assert register.local_date("GBLHR001", datetime(2026, 12, 31, 23, 30, tzinfo=UTC)) == date(
        2026, 12, 31)  # GMT in winter: no shift


def test_an_office_outside_the_register_is_refused_and_nothing_is_stored(
    declarations: Declarations,
) -> None:
    document = copy.deepcopy(SAMPLE_DOCUMENT)
    document["office"] = "GBZZZ999"
    before = declarations.store.last_position()
    with pytest.raises(DeclarationInvalid) as refused:
        declarations.lodge(document, declarant(), now=BST_0030_1_JULY)
    assert [p.pointer for p in refused.value.problems] == ["/office"]
    assert "office register" in refused.value.problems[0].message
    assert declarations.store.last_position() == before

"""Fixtures for the risk domain tests: the sample reference data and a facts builder."""

from __future__ import annotations

from collections.abc import Callable
from datetime import date
from decimal import Decimal

import pytest

from services.risk.domain import (
    SAMPLE_AEO_DIR,
    SAMPLE_RULESET_DIR,
    AeoRegister,
    DeclarationFacts,
    ItemFacts,
    RuleSet,
    load_aeo_register,
    load_ruleset,
)

ON = date(2026, 3, 2)
SAMPLE_VERSION = "2026.1"

FactsBuilder = Callable[..., DeclarationFacts]


def item(
    hs_code: str = "8517130000",
    origin: str = "CN",
    net_mass_kg: str = "20.5",
    value: str = "15000.00",
) -> ItemFacts:
    return ItemFacts(hs_code, origin, Decimal(net_mass_kg), Decimal(value))


def facts(
    *items: ItemFacts,
    consignment_id: str = "c-1",
    office: str = "GBDEM001",
    declarant: str = "GB123456789000",
    importer: str = "GB987654321000",
    rate: str = "0.80",
) -> DeclarationFacts:
    """The contract's sample declaration (USD at 0.80 GBP) unless told otherwise."""
    return DeclarationFacts(
        consignment_id=consignment_id,
        office=office,
        declarant_eori=declarant,
        importer_eori=importer,
        currency="USD",
        exchange_rate=Decimal(rate),
        items=items or (item(),),
    )


@pytest.fixture(scope="session")
def make_item() -> Callable[..., ItemFacts]:
    return item


@pytest.fixture(scope="session")
def make_facts() -> FactsBuilder:
    return facts


@pytest.fixture(scope="session")
def sample_ruleset() -> RuleSet:
    return load_ruleset(SAMPLE_RULESET_DIR, SAMPLE_VERSION)


@pytest.fixture(scope="session")
def sample_register() -> AeoRegister:
    return load_aeo_register(SAMPLE_AEO_DIR, SAMPLE_VERSION)

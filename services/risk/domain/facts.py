"""The facts about a declaration that risk needs, and nothing more.

Values are in the invoice currency; `exchange_rate` converts them to the national currency
(national units per invoice unit, the rate valid on the acceptance date), which is the
currency of the reference unit values.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from ._codec import decimal_text, to_decimal, to_str
from .errors import InvalidFacts, InvalidRecord


@dataclass(frozen=True)
class ItemFacts:
    hs_code: str
    origin: str
    net_mass_kg: Decimal
    value: Decimal

    def __post_init__(self) -> None:
        if not self.hs_code.isdigit() or not 6 <= len(self.hs_code) <= 10:
            raise InvalidFacts(f"hs_code {self.hs_code!r}: expected 6 to 10 digits")
        if len(self.origin) != 2 or not self.origin.isalpha() or not self.origin.isupper():
            raise InvalidFacts(f"origin {self.origin!r}: expected an ISO 3166 alpha-2 code")
        if self.net_mass_kg < 0 or self.value < 0:
            raise InvalidFacts("net mass and value must not be negative")

    @property
    def hs6(self) -> str:
        return self.hs_code[:6]

    def value_national(self, exchange_rate: Decimal) -> Decimal:
        return self.value * exchange_rate

    def to_dict(self) -> dict[str, Any]:
        return {
            "hs_code": self.hs_code,
            "origin": self.origin,
            "net_mass_kg": decimal_text(self.net_mass_kg),
            "value": decimal_text(self.value),
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> ItemFacts:
        try:
            return cls(
                hs_code=to_str(data["hs_code"], "hs_code"),
                origin=to_str(data["origin"], "origin"),
                net_mass_kg=to_decimal(data["net_mass_kg"], "net_mass_kg"),
                value=to_decimal(data["value"], "value"),
            )
        except KeyError as missing:
            raise InvalidRecord(f"item: missing {missing}") from None


@dataclass(frozen=True)
class DeclarationFacts:
    """What `assess` reads, e.g. the contract's sample declaration at 0.80 GBP per USD:

    >>> DeclarationFacts(
    ...     consignment_id="c-1", office="GBLHR001",
    ...     declarant_eori="GB123456789000", importer_eori="GB987654321000",
    ...     currency="USD", exchange_rate=Decimal("0.80"),
    ...     items=(ItemFacts("8517130000", "CN", Decimal("20.5"), Decimal("15000.00")),),
    ... )  # doctest: +SKIP
    """

    consignment_id: str
    office: str
    declarant_eori: str
    importer_eori: str
    currency: str
    exchange_rate: Decimal
    items: tuple[ItemFacts, ...]

    def __post_init__(self) -> None:
        if not self.consignment_id:
            raise InvalidFacts("consignment_id is required")
        if not self.office:
            raise InvalidFacts("office is required")
        if not self.items:
            raise InvalidFacts("a declaration has at least one item")
        if self.exchange_rate <= 0:
            raise InvalidFacts("exchange_rate must be positive")
        if not isinstance(self.items, tuple):
            raise InvalidFacts("items must be a tuple")

    def to_dict(self) -> dict[str, Any]:
        return {
            "consignment_id": self.consignment_id,
            "office": self.office,
            "declarant_eori": self.declarant_eori,
            "importer_eori": self.importer_eori,
            "currency": self.currency,
            "exchange_rate": decimal_text(self.exchange_rate),
            "items": [item.to_dict() for item in self.items],
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> DeclarationFacts:
        try:
            items = data["items"]
            if not isinstance(items, list | tuple):
                raise InvalidRecord("items: expected a list")
            return cls(
                consignment_id=to_str(data["consignment_id"], "consignment_id"),
                office=to_str(data["office"], "office"),
                declarant_eori=to_str(data["declarant_eori"], "declarant_eori"),
                importer_eori=to_str(data["importer_eori"], "importer_eori"),
                currency=to_str(data["currency"], "currency"),
                exchange_rate=to_decimal(data["exchange_rate"], "exchange_rate"),
                items=tuple(ItemFacts.from_dict(item) for item in items),
            )
        except KeyError as missing:
            raise InvalidRecord(f"facts: missing {missing}") from None

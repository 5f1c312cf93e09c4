"""The declaration as the domain sees it: typed, frozen, exact (Decimals, dates, enums).

Built by `services.declaration.schemas` from the HTTP document (see CONTRACT.md) and turned
back into a JSON-ready document by `to_document`, which is also the shape stored in events.
Decimal text is kept as given ("20.50" stays "20.50"); `identifiers.payload_fingerprint`
normalises it when comparing payloads.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from enum import Enum
from typing import Any

#: The most items one declaration may carry (EU and UK CDS: 999).
MAX_ITEMS = 999

#: Incoterms 2020 (ICC): the eleven rules.
INCOTERMS_2020 = frozenset(
    {"EXW", "FCA", "FAS", "FOB", "CFR", "CIF", "CPT", "CIP", "DAP", "DPU", "DDP"}
)


class DeclarationType(Enum):
    """Declaration types; only `IMPORT` is lodged for now (export and transit come later)."""

    IMPORT = "IM"
    EXPORT = "EX"
    TRANSIT = "TR"


SUPPORTED_TYPES = frozenset({DeclarationType.IMPORT})


class TransportMode(Enum):
    """Mode of transport at the border, by name; `code` is the UN/ECE Recommendation 19 digit."""

    SEA = "sea"
    RAIL = "rail"
    ROAD = "road"
    AIR = "air"
    POST = "post"
    FIXED = "fixed"
    INLAND_WATERWAY = "inland_waterway"
    OWN_PROPULSION = "own_propulsion"

    @property
    def code(self) -> str:
        return _MODE_CODES[self]


_MODE_CODES = {
    TransportMode.SEA: "1",
    TransportMode.RAIL: "2",
    TransportMode.ROAD: "3",
    TransportMode.AIR: "4",
    TransportMode.POST: "5",
    TransportMode.FIXED: "7",
    TransportMode.INLAND_WATERWAY: "8",
    TransportMode.OWN_PROPULSION: "9",
}


@dataclass(frozen=True, slots=True)
class Declarant:
    eori: str
    name: str


@dataclass(frozen=True, slots=True)
class Importer:
    eori: str
    name: str
    country: str


@dataclass(frozen=True, slots=True)
class Exporter:
    name: str
    country: str


@dataclass(frozen=True, slots=True)
class Transport:
    mode: TransportMode
    document: str


@dataclass(frozen=True, slots=True)
class Document:
    """A document produced for an item (licence, certificate, proof of origin...)."""

    type: str
    reference: str
    date: date | None = None  # date of issue, when given


class PaymentMethod(Enum):
    """How the declarant settles the debt: paid at once (the default), charged to a deferment
    account, or secured by a guarantee account (released on it, paid later)."""

    IMMEDIATE = "immediate"
    DEFERMENT = "deferment"
    GUARANTEE = "guarantee"


@dataclass(frozen=True, slots=True)
class PaymentTerms:
    method: PaymentMethod = PaymentMethod.IMMEDIATE
    account: str | None = None  # the deferment or guarantee account (none when immediate)


@dataclass(frozen=True, slots=True)
class Item:
    hs_code: str
    description: str
    origin: str
    quantity: Decimal
    unit: str
    net_mass_kg: Decimal
    gross_mass_kg: Decimal
    value: Decimal
    preference: str | None = None
    documents: tuple[Document, ...] = ()


@dataclass(frozen=True, slots=True)
class Declaration:
    """A lodged declaration (header and items). Amounts are in `currency`, masses in kg."""

    lrn: str
    type: DeclarationType
    declarant: Declarant
    importer: Importer
    exporter: Exporter
    office: str
    transport: Transport
    currency: str
    incoterm: str
    freight: Decimal
    insurance: Decimal
    gross_mass_kg: Decimal
    items: tuple[Item, ...]
    invoice_date: date | None = None
    payment: PaymentTerms | None = None  # None: not given (immediate)

    @property
    def office_country(self) -> str:
        return self.office[:2]


def decimal_text(value: Decimal, *, normalise: bool = False) -> str:
    """Plain decimal text, never an exponent; `normalise` drops trailing fraction zeros
    (`Decimal("20.50")` -> `"20.5"`, `Decimal("100")` stays `"100"`)."""
    if normalise:
        value = value.normalize()
        if value == 0:
            value = Decimal(0)  # not "-0" or "0E-3"
    return format(value, "f")


def _document_to_json(document: Document) -> dict[str, Any]:
    return {
        "type": document.type,
        "reference": document.reference,
        "date": None if document.date is None else document.date.isoformat(),
    }


def _item_to_json(item: Item, normalise: bool) -> dict[str, Any]:
    def num(value: Decimal) -> str:
        return decimal_text(value, normalise=normalise)

    return {
        "hs_code": item.hs_code,
        "description": item.description,
        "origin": item.origin,
        "quantity": num(item.quantity),
        "unit": item.unit,
        "net_mass_kg": num(item.net_mass_kg),
        "gross_mass_kg": num(item.gross_mass_kg),
        "value": num(item.value),
        "preference": item.preference,
        "documents": [_document_to_json(d) for d in item.documents],
    }


def to_document(declaration: Declaration, *, normalise_decimals: bool = False) -> dict[str, Any]:
    """The JSON-ready document (CONTRACT.md shape, every optional key present, null if unset;
    `payment` only when the declarant gave it, so a document lodged before payment methods
    existed keeps its fingerprint).

    Decimals keep the places they were given unless `normalise_decimals` (used for the
    payload fingerprint, so that "20.50" and "20.5" are the same payload).
    """
    d = declaration

    def num(value: Decimal) -> str:
        return decimal_text(value, normalise=normalise_decimals)

    return {
        "lrn": d.lrn,
        "type": d.type.value,
        "declarant": {"eori": d.declarant.eori, "name": d.declarant.name},
        "importer": {
            "eori": d.importer.eori,
            "name": d.importer.name,
            "country": d.importer.country,
        },
        "exporter": {"name": d.exporter.name, "country": d.exporter.country},
        "office": d.office,
        "transport": {"mode": d.transport.mode.value, "document": d.transport.document},
        "currency": d.currency,
        "incoterm": d.incoterm,
        "invoice_date": None if d.invoice_date is None else d.invoice_date.isoformat(),
        "freight": num(d.freight),
        "insurance": num(d.insurance),
        "gross_mass_kg": num(d.gross_mass_kg),
        "items": [_item_to_json(item, normalise_decimals) for item in d.items],
    } | ({} if d.payment is None else {"payment": {"method": d.payment.method.value,
                                                   "account": d.payment.account}})

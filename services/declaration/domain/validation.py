"""Business rules over a well-formed `Declaration`, each violation named by an RFC 6901 pointer.

The shape of the document (types, formats, required and unknown fields) is the schema's job
(`services.declaration.schemas`); the rules here need typed data and reference data, which
arrive as arguments so that this module stays pure:

- `tariff`: anything with `has_code(hs_code, on_date) -> bool` (`TariffLookup`);
- `countries`: ISO 3166-1 alpha-2 codes;
- `currencies`: ISO 4217 codes, or a mapping code -> minor units (then amounts may not carry
  more decimal places than the currency has).

`check_declaration` returns every violation it finds (not just the first): the header's, then
each item's, then those of totals across items;
`DeclarationInvalid` carries them to the HTTP edge, which renders each as `{pointer, message}`.

Rules (DOMAIN.md, "Declaration data and validation"):

- 1..max_items items; only supported declaration types (IM for now);
- no negative amounts; quantities and masses greater than zero;
- amounts with no more decimal places than the invoice currency has;
- net mass <= gross mass per item; sum of item gross masses <= header gross mass;
- the commodity code exists in the tariff valid on the acceptance date (`on_date`), and is no
  statistical aggregate (UN Comtrade's 999999, chapters 98 and 99), whatever the tariff says;
- a claimed preference needs a proof-of-origin document on the same item;
- acceptance means assessable (with `measures` and `rates`): what risk and duty will need is
  there before an MRN is given: an exchange rate for the invoice currency on the acceptance
  date, the quantity in the supplementary unit each measure that may apply is charged in,
  and a claimed preference open to the item's origin on its commodity code;
- no vague or too short descriptions;
- dates not after `on_date`;
- known countries (parties, origin, office, EORI prefixes) and currency.

Not here: "a measure that needs a licence needs one" (waits for licence requirements in the
tariff's measures) and "deferred payment needs a deferment account with headroom" (the
payment service's decision).
"""

from __future__ import annotations

import re
from collections.abc import Collection, Iterable, Iterator, Mapping
from datetime import date
from decimal import Decimal
from typing import NamedTuple, Protocol

from shared.reference.documents import PROOF_OF_ORIGIN_TYPES
from shared.reference.errors import ReferenceDataError
from shared.reference.nomenclature import statistical_aggregate
from shared.reference.tariff import NET_MASS_UNIT, Measure, TariffLine

from .declaration import MAX_ITEMS, SUPPORTED_TYPES, Declaration, Item


class Problem(NamedTuple):
    """One violation: where (an RFC 6901 JSON pointer into the document) and what to do."""

    pointer: str
    message: str


class DeclarationInvalid(ValueError):
    """The document breaks the contract or the rules; `problems` lists every violation."""

    def __init__(self, problems: Iterable[Problem]) -> None:
        self.problems: tuple[Problem, ...] = tuple(problems)
        if not self.problems:
            raise ValueError("DeclarationInvalid needs at least one problem")
        summary = "; ".join(f"{p.pointer or '/'}: {p.message}" for p in self.problems[:3])
        more = len(self.problems) - 3
        super().__init__(summary + (f" (and {more} more)" if more > 0 else ""))


class TariffLookup(Protocol):
    """The one question validation asks the tariff (see `shared.reference`)."""

    def has_code(self, hs_code: str, on_date: date, /) -> bool: ...


class MeasureLookup(Protocol):
    """What the assessability checks ask the tariff (`shared.reference.Tariff`)."""

    def lookup(self, hs_code: str, on_date: date, /) -> TariffLine: ...


class RateLookup(Protocol):
    """... and the exchange rates (`shared.reference.ExchangeRates`); raises a
    `ReferenceDataError` when there is no rate."""

    def rate(self, currency: str, on_date: date, /) -> object: ...


def escape_token(token: str | int) -> str:
    """One reference token of a JSON pointer (RFC 6901: `~` -> `~0`, `/` -> `~1`)."""
    return str(token).replace("~", "~0").replace("/", "~1")


def pointer(*tokens: str | int) -> str:
    """`pointer("items", 0, "hs_code")` -> `"/items/0/hs_code"`; no tokens -> `""` (whole doc)."""
    return "".join("/" + escape_token(t) for t in tokens)


# ---------------------------------------------------------------------------------------------
# Configuration (jurisdiction-specific values are arguments with these defaults)

#: Document types accepted as proof of origin for a preference claim, compared
#: case-insensitively. Symbolic names; a jurisdiction may pass its own codes
#: (e.g. UK CDS document codes) through `check_declaration(proof_of_origin_types=...)`.
DEFAULT_PROOF_OF_ORIGIN_TYPES = PROOF_OF_ORIGIN_TYPES

#: Party-id and office prefixes that are not ISO 3166 codes but are in use
#: (XI: Northern Ireland under the Windsor Framework).
NON_ISO_PREFIXES = frozenset({"XI"})

#: Descriptions that say nothing about the goods, compared after `normalise_description`.
VAGUE_DESCRIPTIONS = frozenset(
    {
        "accessories",
        "as per invoice",
        "cargo",
        "commodities",
        "commodity",
        "consolidated",
        "consolidated cargo",
        "equipment",
        "fak",
        "freight",
        "freight all kinds",
        "general cargo",
        "general goods",
        "general merchandise",
        "gift",
        "gifts",
        "goods",
        "item",
        "items",
        "materials",
        "merchandise",
        "misc",
        "miscellaneous",
        "mixed goods",
        "n a",
        "na",
        "none",
        "other",
        "others",
        "part",
        "parts",
        "personal belongings",
        "personal effects",
        "personal items",
        "present",
        "presents",
        "product",
        "products",
        "said to contain",
        "sample",
        "samples",
        "see invoice",
        "spare parts",
        "stc",
        "stuff",
        "supplies",
        "unknown",
        "various",
        "various goods",
        "various items",
    }
)

#: A description needs at least this many letters or digits.
MIN_DESCRIPTION_CHARS = 3

_NON_WORD = re.compile(r"[\W_]+")


def normalise_description(text: str) -> str:
    """Case-folded words separated by single spaces: `"General-Cargo!"` -> `"general cargo"`."""
    return _NON_WORD.sub(" ", text.casefold()).strip()


def description_problem(text: str) -> str | None:
    """Why a description is refused, or None when it is specific enough."""
    words = normalise_description(text)
    if len(words.replace(" ", "")) < MIN_DESCRIPTION_CHARS:
        return (
            f"The description {text!r} is too short: describe the goods precisely enough "
            f"to classify them (at least {MIN_DESCRIPTION_CHARS} letters or digits), "
            'e.g. "Smartphones, 128 GB".'
        )
    if not any(ch.isalpha() for ch in words):
        return (
            f"The description {text!r} contains no words: describe what the goods are, "
            'e.g. "Cotton T-shirts, knitted".'
        )
    if words in VAGUE_DESCRIPTIONS:
        return (
            f"The description {text!r} is too vague to identify the goods: say what they are, "
            'what they are made of and what they are for, e.g. "Brake pads for cars" '
            'rather than "parts".'
        )
    return None


# ---------------------------------------------------------------------------------------------
# The rules


def check_declaration(
    declaration: Declaration,
    *,
    on_date: date,
    tariff: TariffLookup,
    countries: Collection[str],
    currencies: Collection[str] | Mapping[str, int],
    max_items: int = MAX_ITEMS,
    proof_of_origin_types: Collection[str] = DEFAULT_PROOF_OF_ORIGIN_TYPES,
    offices: Collection[str] | None = None,
    measures: MeasureLookup | None = None,
    rates: RateLookup | None = None,
) -> list[Problem]:
    """Every business-rule violation of `declaration` (empty when valid): the header's, then
    each item's in order, then the totals across items.

    `on_date` is the acceptance date (the local date at the office): the tariff valid on it
    is consulted and no date in the document may be after it. `offices`: the codes of the
    office register, when the office must be one of them. `measures` and `rates` (the tariff
    and the exchange rates): when given, a declaration must also be assessable.
    """
    problems: list[Problem] = []
    problems += _header_problems(declaration, on_date, countries, currencies, max_items)
    if rates is not None and not any(p.pointer == pointer("currency") for p in problems):
        problems += _rate_problems(declaration.currency, on_date, rates)
    if (offices is not None and declaration.office not in offices
            and not any(p.pointer == pointer("office") for p in problems)):
        problems.append(Problem(
            pointer("office"),
            f"The office {declaration.office!r} is not an office of declaration in the "
            "customs office register."))
    proof_types = frozenset(t.upper() for t in proof_of_origin_types)
    for index, item in enumerate(declaration.items):
        problems += _item_problems(
            index, item, declaration.currency, on_date, tariff, countries, currencies, proof_types
        )
    if measures is not None:
        for index, item in enumerate(declaration.items):
            if not any(p.pointer.startswith(pointer("items", index, "")) for p in problems):
                problems += _assessability_problems(index, item, on_date, measures)
    problems += _mass_total_problems(declaration)
    return problems


def _rate_problems(currency: str, on_date: date, rates: RateLookup) -> Iterator[Problem]:
    try:
        rates.rate(currency, on_date)
    except ReferenceDataError:
        yield Problem(
            pointer("currency"),
            f"No exchange rate for {currency} is in force on {on_date.isoformat()} (the "
            "acceptance date), so the customs value cannot be converted; declare the invoice "
            "in a currency that has one.",
        )


def _assessability_problems(index: int, item: Item, on_date: date,
                            measures: MeasureLookup) -> Iterator[Problem]:
    """What the duty of item `index` will need and the document does not give: the quantity
    in each measure's supplementary unit, and a preference open to the item's origin."""
    try:
        line = measures.lookup(item.hs_code, on_date)
    except ReferenceDataError:  # reported as a commodity code problem already
        return
    applicable: list[tuple[str, Measure]] = [("third-country duty", line.third_country)]
    if item.preference is not None:
        open_to_origin = [p for p in line.preferences_for(item.origin)
                          if p.scheme == item.preference]
        if not open_to_origin:
            schemes = sorted({p.scheme for p in line.preferences_for(item.origin)})
            yield Problem(
                pointer("items", index, "preference"),
                f"Preference {item.preference!r} is not open to origin {item.origin} on "
                f"commodity code {item.hs_code} on {on_date.isoformat()} (open to it: "
                f"{', '.join(schemes) or 'none'}); correct the claim or remove it.",
            )
        applicable += [(f"preference {p.scheme}", p.measure) for p in open_to_origin]
    for what, measure in applicable:
        for unit in sorted(measure.units - {NET_MASS_UNIT}):
            if item.unit != unit:
                yield Problem(
                    pointer("items", index, "unit"),
                    f"The {what} on commodity code {item.hs_code} is charged per {unit}: "
                    f"declare the quantity in {unit} (its supplementary unit), not in "
                    f"{item.unit}.",
                )
                return


def _header_problems(
    d: Declaration,
    on_date: date,
    countries: Collection[str],
    currencies: Collection[str] | Mapping[str, int],
    max_items: int,
) -> Iterator[Problem]:
    if d.type not in SUPPORTED_TYPES:
        supported = ", ".join(sorted(t.value for t in SUPPORTED_TYPES))
        yield Problem(
            pointer("type"),
            f"Declarations of type {d.type.value} are not supported yet; use: {supported}.",
        )
    yield from _party_id_problems(pointer("declarant", "eori"), d.declarant.eori, countries)
    yield from _party_id_problems(pointer("importer", "eori"), d.importer.eori, countries)
    yield from _country_problems(pointer("importer", "country"), d.importer.country, countries)
    yield from _country_problems(pointer("exporter", "country"), d.exporter.country, countries)
    office_country = d.office_country
    if office_country not in countries and office_country not in NON_ISO_PREFIXES:
        yield Problem(
            pointer("office"),
            f"The office {d.office!r} starts with {office_country!r}, which is not an "
            "ISO 3166 country code; an office code is a country code followed by 6 characters.",
        )
    if d.currency not in currencies:
        yield Problem(
            pointer("currency"),
            f"{d.currency!r} is not an ISO 4217 currency code (e.g. USD, EUR, GBP).",
        )
    if d.invoice_date is not None and d.invoice_date > on_date:
        yield _future_date(pointer("invoice_date"), d.invoice_date, on_date)
    for name, amount in (("freight", d.freight), ("insurance", d.insurance)):
        yield from _amount_problems(pointer(name), amount, d.currency, currencies)
    if d.gross_mass_kg <= 0:
        yield _not_positive(pointer("gross_mass_kg"), "The total gross mass", d.gross_mass_kg)
    if not 1 <= len(d.items) <= max_items:
        yield Problem(pointer("items"), items_count_message(len(d.items), max_items))


def items_count_message(count: int, max_items: int) -> str:
    if count < 1:
        return "A declaration needs at least one item."
    return (
        f"A declaration may have at most {max_items} items ({count} given); "
        "split the consignment over several declarations."
    )


def _item_problems(
    index: int,
    item: Item,
    currency: str,
    on_date: date,
    tariff: TariffLookup,
    countries: Collection[str],
    currencies: Collection[str] | Mapping[str, int],
    proof_types: frozenset[str],
) -> Iterator[Problem]:
    def at(*tokens: str | int) -> str:
        return pointer("items", index, *tokens)

    aggregate = statistical_aggregate(item.hs_code)
    if aggregate is not None:
        yield Problem(
            at("hs_code"),
            f"The commodity code {item.hs_code} is not in the tariff valid on "
            f"{on_date.isoformat()} nor in any other: it is a statistical code, not a tariff "
            f"line; {aggregate}. Declare the goods under the subheading that describes them, "
            "e.g. 8517130000 for smartphones.",
        )
    elif not tariff.has_code(item.hs_code, on_date):
        yield Problem(
            at("hs_code"),
            f"The commodity code {item.hs_code} is not in the tariff valid on "
            f"{on_date.isoformat()}; check the code against the tariff for that date.",
        )
    reason = description_problem(item.description)
    if reason is not None:
        yield Problem(at("description"), reason)
    yield from _country_problems(at("origin"), item.origin, countries)
    if item.quantity <= 0:
        yield _not_positive(at("quantity"), "The quantity", item.quantity)
    if item.net_mass_kg <= 0:
        yield _not_positive(at("net_mass_kg"), "The net mass", item.net_mass_kg)
    elif item.net_mass_kg > item.gross_mass_kg:
        yield Problem(
            at("net_mass_kg"),
            f"The net mass ({item.net_mass_kg} kg) is greater than the gross mass "
            f"({item.gross_mass_kg} kg); the gross mass includes the packaging, so it cannot "
            "be smaller.",
        )
    if item.gross_mass_kg <= 0:
        yield _not_positive(at("gross_mass_kg"), "The gross mass", item.gross_mass_kg)
    yield from _amount_problems(at("value"), item.value, currency, currencies)
    if item.preference is not None and not any(
        doc.type.upper() in proof_types for doc in item.documents
    ):
        yield Problem(
            at("preference"),
            f"Preference {item.preference!r} is claimed but the item has no proof of origin; "
            f"add to {at('documents')} a document whose type is one of "
            f"{', '.join(sorted(proof_types))}, or remove the claim.",
        )
    for doc_index, doc in enumerate(item.documents):
        if doc.date is not None and doc.date > on_date:
            yield _future_date(at("documents", doc_index, "date"), doc.date, on_date)


def _mass_total_problems(d: Declaration) -> Iterator[Problem]:
    total = sum((item.gross_mass_kg for item in d.items), Decimal(0))
    if total > d.gross_mass_kg:
        yield Problem(
            pointer("gross_mass_kg"),
            f"The total gross mass ({d.gross_mass_kg} kg) is less than the sum of the items' "
            f"gross masses ({total} kg); it must be at least that sum.",
        )


def _party_id_problems(at: str, eori: str, countries: Collection[str]) -> Iterator[Problem]:
    prefix = eori[:2]
    if prefix not in countries and prefix not in NON_ISO_PREFIXES:
        yield Problem(
            at,
            f"The identifier {eori!r} starts with {prefix!r}, which is not a country code; "
            "an EORI number is the issuing country's ISO 3166 code followed by up to "
            "15 letters or digits.",
        )


def _country_problems(at: str, code: str, countries: Collection[str]) -> Iterator[Problem]:
    if code not in countries:
        yield Problem(at, f"{code!r} is not an ISO 3166-1 alpha-2 country code (e.g. CN, DE, US).")


def _amount_problems(
    at: str, amount: Decimal, currency: str, currencies: Collection[str] | Mapping[str, int]
) -> Iterator[Problem]:
    if amount < 0:
        yield Problem(at, f"The amount ({amount}) must not be negative.")
        return
    if isinstance(currencies, Mapping) and currency in currencies:
        minor_units = currencies[currency]
        places = decimal_places(amount.normalize())  # trailing zeros do not count
        if places > minor_units:
            yield Problem(
                at,
                f"The amount {amount} has {_places(places)} but {currency} has "
                f"{minor_units}; round it to {_places(minor_units)}.",
            )


def _places(count: int) -> str:
    return f"{count} decimal place" + ("" if count == 1 else "s")


def decimal_places(value: Decimal) -> int:
    """Decimal places as written: `Decimal("1.50")` -> 2, `Decimal("100")` -> 0."""
    exponent = value.as_tuple().exponent
    return -exponent if isinstance(exponent, int) and exponent < 0 else 0


def _not_positive(at: str, what: str, value: Decimal) -> Problem:
    if value < 0:
        return Problem(at, f"{what} ({value}) must not be negative.")
    return Problem(at, f"{what} must be greater than zero ({value} given).")


def _future_date(at: str, value: date, on_date: date) -> Problem:
    return Problem(
        at,
        f"The date {value.isoformat()} is in the future (after {on_date.isoformat()}); "
        "give the date it actually happened.",
    )

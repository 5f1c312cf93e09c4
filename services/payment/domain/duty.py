"""Duty and taxes: the pure assessment of a declaration, item by item, then summed.

`assess(declaration, acceptance_date, tariff, rates, minor_units=...)` reads nothing but its
arguments and returns an `Assessment` that carries its inputs and every term of its working,
so the payment service can record it in an event and an auditor can re-derive it with
`reassess(record, tariff, rates)` (or `verify_assessment`, which names what differs).

Per item:

1. **Freight and insurance** (header amounts, invoice currency) are apportioned over the
   items by invoice value, in minor units of the invoice currency, by the largest-remainder
   method, so the shares always add up to the header amount (ties go to the earlier item;
   items all of value zero share equally).
2. **Valuation basis** (CIF, as in the EU and the UK): the customs value is the price of the
   goods delivered to the border, so what the incoterm leaves out of the invoice price is added.
   The table (`CIF_BASIS`; a jurisdiction valuing FOB passes its own in the policy):

   ========================  ===============  =================
   incoterm                  freight added    insurance added
   ========================  ===============  =================
   EXW, FCA, FAS, FOB        yes              yes
   CFR, CPT                  no (in price)    yes
   CIF, CIP                  no (in price)    no (in price)
   DAP, DPU, DDP             no (in price)    no (in price)
   ========================  ===============  =================

   For D-terms the price also covers transport after the border, which a full valuation would
   deduct when shown separately; the declaration has no field for it, so nothing is deducted.
3. **Customs value** = (invoice value + added freight + added insurance) x the exchange rate
   valid on the acceptance date (national currency per unit of the invoice currency), rounded
   to the national currency's minor units.
4. **Measure**: the third-country measure of the line, unless a preference is claimed, the
   line has a preference open to the item's origin (under the scheme claimed, or any scheme
   when the claim names none), and a proof document is given: then the preferential measure
   (the lowest when several are open) replaces it, unless the third-country duty is lower
   (a preference never raises the duty). The reason is recorded either way.
5. **Duty** = ad valorem % x customs value + specific amount x quantity (net mass for `kg`,
   else the declared quantity, which must be in the measure's unit), raised to the MIN and
   lowered to the MAX, then rounded.
6. **VAT** = VAT rate x (customs value + duty), rounded. (The sample tariff has no additional
   duties or excise; when it does, they join the VAT base here.)

Then for the consignment, **low-value relief** (`shared.reference.reliefs`), when a measure is
in force on the acceptance date: its intrinsic value (the items' invoice values, without
freight and insurance, x the exchange rate, rounded) at most the threshold, and no item of a
code the measure excludes: what the measure relieves is not due. Duty relieved: the totals
carry no duty, and VAT (when not relieved) is computed on the customs value alone. The items
keep the tariff's working; `relief` records the measure, the intrinsic value, whether it
applied and why, and the amounts relieved.

Arithmetic is `Decimal` throughout and exact until a rounding step (an inexact intermediate
raises rather than rounding silently). Every national-currency amount that is recorded as a
line (customs value, duty, VAT) is rounded by one `RoundingRule`: ROUND_HALF_UP to the
national currency's minor units by default. Totals are sums of the rounded lines.
"""

from __future__ import annotations

import decimal
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal
from fractions import Fraction
from types import MappingProxyType
from typing import Any, Literal

from shared.reference.rates import ExchangeRate, ExchangeRates
from shared.reference.reliefs import LowValueRelief, Reliefs
from shared.reference.tariff import (
    NET_MASS_UNIT,
    UNITS,
    Measure,
    SpecificRate,
    Tariff,
    TariffLine,
)

from .errors import (
    AssessmentMismatch,
    AssessmentRecordInvalid,
    CurrencyMismatch,
    InvalidDutyInput,
    SupplementaryUnitMissing,
    UnknownCurrency,
    UnknownIncoterm,
)

RECORD_FORMAT = 1
Basis = Literal["third_country", "preferential"]
THIRD_COUNTRY: Basis = "third_country"
PREFERENTIAL: Basis = "preferential"

ROUNDING_MODES = frozenset(
    {
        decimal.ROUND_HALF_UP,
        decimal.ROUND_HALF_EVEN,
        decimal.ROUND_HALF_DOWN,
        decimal.ROUND_UP,
        decimal.ROUND_DOWN,
        decimal.ROUND_CEILING,
        decimal.ROUND_FLOOR,
        decimal.ROUND_05UP,
    }
)

# Inputs are bounded (`MAX_DIGITS`), so 60 digits hold every product exactly; the traps turn
# any silent rounding into an error.
_EXACT = decimal.Context(
    prec=60,
    traps=[decimal.Inexact, decimal.InvalidOperation, decimal.Overflow, decimal.DivisionByZero],
)
_ROUNDING = decimal.Context(prec=60, traps=[decimal.InvalidOperation, decimal.Overflow])
MAX_INTEGER_DIGITS = 15
MAX_DECIMAL_PLACES = 6


# --- inputs --------------------------------------------------------------------------------


@dataclass(frozen=True)
class PreferenceClaim:
    """A claimed tariff preference. `scheme` None means any scheme open to the origin."""

    scheme: str | None = None
    proof_document: str | None = None  # the reference of the proof of origin, if any


@dataclass(frozen=True)
class DutyItem:
    """What the assessment needs of one declared item (amounts in the invoice currency)."""

    hs_code: str
    origin: str  # ISO 3166 alpha-2
    quantity: Decimal
    unit: str  # the unit of `quantity`, e.g. "p/st", "l", "pa"
    net_mass_kg: Decimal
    value: Decimal  # invoice value
    preference: PreferenceClaim | None = None


@dataclass(frozen=True)
class DutyDeclaration:
    """What the assessment needs of a declaration: its header and items.

    Every amount and quantity must be a non-negative `Decimal` (floats are refused).
    """

    currency: str  # invoice currency, ISO 4217
    incoterm: str
    freight: Decimal  # to the border, for the whole consignment
    insurance: Decimal
    items: tuple[DutyItem, ...]

    def __post_init__(self) -> None:
        _check_amount(self.freight, "/freight")
        _check_amount(self.insurance, "/insurance")
        if not isinstance(self.items, tuple) or not self.items:
            raise InvalidDutyInput("/items", "at least one item, as a tuple")
        for index, item in enumerate(self.items):
            at = f"/items/{index}"
            if not isinstance(item, DutyItem):
                raise InvalidDutyInput(at, "not a DutyItem")
            _check_amount(item.value, f"{at}/value")
            _check_amount(item.quantity, f"{at}/quantity")
            _check_amount(item.net_mass_kg, f"{at}/net_mass_kg")


def _check_amount(value: object, pointer: str) -> None:
    if not isinstance(value, Decimal) or not value.is_finite():
        raise InvalidDutyInput(pointer, "must be a finite Decimal")
    if value < 0:
        raise InvalidDutyInput(pointer, "must not be negative")
    if value.adjusted() >= MAX_INTEGER_DIGITS:
        raise InvalidDutyInput(pointer, f"must be below 10^{MAX_INTEGER_DIGITS}")
    if decimal_places(value) > MAX_DECIMAL_PLACES:
        raise InvalidDutyInput(pointer, f"at most {MAX_DECIMAL_PLACES} decimal places")


def decimal_places(value: Decimal) -> int:
    """Significant decimal places: 2 for ``1.25`` and for ``1.2500``, 0 for ``100.00``."""
    sign, digits, exponent = value.as_tuple()
    if not isinstance(exponent, int) or exponent >= 0 or not any(digits):
        return 0
    places = -exponent
    for digit in reversed(digits):
        if digit or not places:
            break
        places -= 1
    return places


# --- policy ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class RoundingRule:
    """How each recorded national-currency amount is rounded.

    `minor_units` None means the national currency's minor units (2 for GBP).
    """

    mode: str = decimal.ROUND_HALF_UP
    minor_units: int | None = None

    def __post_init__(self) -> None:
        if self.mode not in ROUNDING_MODES:
            raise ValueError(f"unknown rounding mode {self.mode!r}")
        if self.minor_units is not None and not 0 <= self.minor_units <= 6:
            raise ValueError("minor_units must be between 0 and 6")

    def describe(self) -> str:
        units = "minor units" if self.minor_units is None else f"{self.minor_units} decimals"
        return f"{self.mode} to {units}"

    def round(self, amount: Decimal) -> Decimal:
        if self.minor_units is None:
            raise ValueError("resolve the rule's minor units first")
        return amount.quantize(
            Decimal(1).scaleb(-self.minor_units), rounding=self.mode, context=_ROUNDING
        )


@dataclass(frozen=True)
class IncotermTreatment:
    """Whether the header freight and insurance are added to the invoice price."""

    adds_freight: bool
    adds_insurance: bool


_BUYER_CARRIES = IncotermTreatment(adds_freight=True, adds_insurance=True)
_SELLER_CARRIES = IncotermTreatment(adds_freight=False, adds_insurance=True)
_SELLER_CARRIES_AND_INSURES = IncotermTreatment(adds_freight=False, adds_insurance=False)

#: Incoterms 2020 on a CIF valuation basis (EU, UK): see the module docstring.
CIF_BASIS: Mapping[str, IncotermTreatment] = MappingProxyType(
    {
        "EXW": _BUYER_CARRIES,
        "FCA": _BUYER_CARRIES,
        "FAS": _BUYER_CARRIES,
        "FOB": _BUYER_CARRIES,
        "CFR": _SELLER_CARRIES,
        "CPT": _SELLER_CARRIES,
        "CIF": _SELLER_CARRIES_AND_INSURES,
        "CIP": _SELLER_CARRIES_AND_INSURES,
        "DAP": _SELLER_CARRIES_AND_INSURES,
        "DPU": _SELLER_CARRIES_AND_INSURES,
        "DDP": _SELLER_CARRIES_AND_INSURES,
    }
)


@dataclass(frozen=True)
class AssessmentPolicy:
    """The jurisdiction's choices: the rounding rule and the incoterm table."""

    rounding: RoundingRule = field(default_factory=RoundingRule)
    incoterms: Mapping[str, IncotermTreatment] = field(default_factory=lambda: CIF_BASIS)


# --- outputs ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class AppliedMeasure:
    """The measure used for an item, where it came from, and why it was chosen."""

    basis: Basis
    scheme: str | None  # the preference scheme, None for third-country
    code: str  # the tariff row the measure came from
    measure: Measure
    reason: str


@dataclass(frozen=True)
class DutyWorking:
    """The terms of one item's duty (national currency)."""

    ad_valorem: Decimal  # ad valorem % x customs value, exact (0 without an ad valorem part)
    specific_quantity: Decimal | None  # the quantity in the specific unit
    specific: Decimal  # specific amount x quantity, exact
    computed: Decimal  # ad_valorem + specific
    minimum: Decimal | None  # the MIN in money (amount x quantity), when the measure has one
    maximum: Decimal | None
    limit_applied: Literal["MIN", "MAX"] | None
    unrounded: Decimal  # computed, after MIN and MAX
    amount: Decimal  # rounded


@dataclass(frozen=True)
class ItemAssessment:
    """One item's customs value, duty and VAT, with their working."""

    number: int  # 1-based, as on the declaration
    hs_code: str
    origin: str
    invoice_value: Decimal  # invoice currency
    freight_share: Decimal  # apportioned share of the header freight (invoice currency)
    insurance_share: Decimal
    freight_added: Decimal  # the share when the incoterm adds it, else 0
    insurance_added: Decimal
    value_in_invoice_currency: Decimal  # invoice_value + freight_added + insurance_added
    customs_value_unrounded: Decimal  # x the exchange rate
    customs_value: Decimal  # rounded, national currency
    measure: AppliedMeasure
    duty: DutyWorking
    vat_rate: Decimal  # percent
    vat_base: Decimal  # customs_value + duty
    vat_unrounded: Decimal
    vat: Decimal

    @property
    def total(self) -> Decimal:
        return self.duty.amount + self.vat


@dataclass(frozen=True)
class ReliefWorking:
    """The low-value relief measure in force, and what it did to this declaration."""

    code: str
    legal_basis: str
    threshold: Decimal
    currency: str
    relieves: tuple[str, ...]  # sorted: "duty", "vat"
    intrinsic_value: Decimal  # national currency, rounded
    applied: bool
    reason: str
    duty_relieved: Decimal  # what the totals leave out (0 unless applied)
    vat_relieved: Decimal


@dataclass(frozen=True)
class Assessment:
    """A declaration's duty and taxes, with its inputs and everything needed to re-derive it."""

    declaration: DutyDeclaration
    acceptance_date: date
    national_currency: str
    tariff_version: str
    exchange_rate: ExchangeRate
    rounding: RoundingRule  # resolved: minor_units is set
    valuation: IncotermTreatment
    invoice_minor_units: int
    items: tuple[ItemAssessment, ...]
    total_customs_value: Decimal
    total_duty: Decimal
    total_vat: Decimal
    total_due: Decimal  # total_duty + total_vat
    relief: ReliefWorking | None = None  # a low-value relief measure in force, if any

    @property
    def rates_version(self) -> str:
        return self.exchange_rate.version

    @property
    def rounding_rule(self) -> str:
        """E.g. ``ROUND_HALF_UP to 2 decimals``."""
        return self.rounding.describe()


# --- the assessment --------------------------------------------------------------------------


def assess(
    declaration: DutyDeclaration,
    acceptance_date: date,
    tariff: Tariff,
    rates: ExchangeRates,
    *,
    minor_units: Mapping[str, int],
    policy: AssessmentPolicy | None = None,
    reliefs: Reliefs | None = None,
) -> Assessment:
    """Assess a declaration accepted on `acceptance_date` (see the module docstring).

    `minor_units` maps currency codes to their ISO 4217 minor units
    (`shared.reference.currencies()`); `policy` defaults to half-up rounding and `CIF_BASIS`.

    Raises `InvalidDutyInput` (and its subclasses) with a JSON pointer, `CurrencyMismatch`,
    or the reference data's lookup errors (`TariffVersionNotFound`, `CommodityCodeNotFound`,
    `ExchangeRateNotFound`).
    """
    policy = policy or AssessmentPolicy()
    tariff_version = tariff.version_on(acceptance_date)
    national = tariff_version.currency
    if national != rates.national_currency:
        raise CurrencyMismatch(national, rates.national_currency)
    if national not in minor_units:
        raise UnknownCurrency("/currency", national)
    if declaration.currency not in minor_units:
        raise UnknownCurrency("/currency", declaration.currency)
    invoice_minor = minor_units[declaration.currency]
    rounding = RoundingRule(
        policy.rounding.mode,
        minor_units[national]
        if policy.rounding.minor_units is None
        else policy.rounding.minor_units,
    )
    treatment = policy.incoterms.get(declaration.incoterm)
    if treatment is None:
        raise UnknownIncoterm(declaration.incoterm)
    _check_minor_units(declaration, invoice_minor)
    rate = rates.rate(declaration.currency, acceptance_date)

    values = [item.value for item in declaration.items]
    freight = apportion(declaration.freight, values, invoice_minor)
    insurance = apportion(declaration.insurance, values, invoice_minor)
    items = tuple(
        _assess_item(
            index,
            item,
            tariff.lookup(item.hs_code, acceptance_date),
            freight_share=freight[index],
            insurance_share=insurance[index],
            treatment=treatment,
            rate=rate,
            rounding=rounding,
            currency=national,
        )
        for index, item in enumerate(declaration.items)
    )
    measure = reliefs.on(acceptance_date) if reliefs is not None else None
    relief = None if measure is None else _relief(measure, declaration, items, rate, rounding,
                                                  national)
    total_duty = sum((item.duty.amount for item in items), Decimal(0))
    total_vat = sum((item.vat for item in items), Decimal(0))
    if relief is not None:
        total_duty -= relief.duty_relieved
        total_vat -= relief.vat_relieved
    return Assessment(
        declaration=declaration,
        acceptance_date=acceptance_date,
        national_currency=national,
        tariff_version=tariff_version.version,
        exchange_rate=rate,
        rounding=rounding,
        valuation=treatment,
        invoice_minor_units=invoice_minor,
        items=items,
        total_customs_value=sum((item.customs_value for item in items), Decimal(0)),
        total_duty=total_duty,
        total_vat=total_vat,
        total_due=total_duty + total_vat,
        relief=relief,
    )


def _relief(measure: LowValueRelief, declaration: DutyDeclaration,
            items: Sequence[ItemAssessment], rate: ExchangeRate, rounding: RoundingRule,
            national: str) -> ReliefWorking:
    """Whether the low-value relief `measure` applies to the declaration, and what it
    relieves (see the module docstring)."""
    intrinsic = rounding.round(_EXACT.multiply(
        sum((item.value for item in declaration.items), Decimal(0)), rate.rate))
    excluded = [item.number for item in items if measure.excludes(item.hs_code)]
    relieves = tuple(sorted(measure.relieves))
    reason = ""
    if measure.currency != national:
        reason = f"the measure's threshold is in {measure.currency}, not {national}"
    elif intrinsic > measure.threshold:
        reason = (f"intrinsic value {intrinsic} {national} is above the threshold "
                  f"{measure.threshold}")
    elif excluded:
        reason = "excluded goods (excise) in item(s) " + ", ".join(map(str, excluded))
    if reason:
        return ReliefWorking(measure.code, measure.legal_basis, measure.threshold,
                             measure.currency, relieves, intrinsic, False, reason,
                             Decimal(0), Decimal(0))
    duty = sum((item.duty.amount for item in items), Decimal(0)) if "duty" in relieves \
        else Decimal(0)
    vat = sum((item.vat for item in items), Decimal(0))
    if "vat" in relieves:
        vat_relieved = vat
    elif "duty" in relieves:  # VAT on the customs value alone: no duty in its base
        vat_relieved = vat - sum((rounding.round(_percent(item.customs_value, item.vat_rate))
                                  for item in items), Decimal(0))
    else:
        vat_relieved = Decimal(0)
    return ReliefWorking(measure.code, measure.legal_basis, measure.threshold,
                         measure.currency, relieves, intrinsic, True,
                         f"intrinsic value {intrinsic} {national} is at most the threshold "
                         f"{measure.threshold}: {' and '.join(relieves)} relieved",
                         duty, vat_relieved)


def _check_minor_units(declaration: DutyDeclaration, minor: int) -> None:
    def check(value: Decimal, pointer: str) -> None:
        if decimal_places(value) > minor:
            raise InvalidDutyInput(
                pointer, f"{declaration.currency} amounts have at most {minor} decimals"
            )

    check(declaration.freight, "/freight")
    check(declaration.insurance, "/insurance")
    for index, item in enumerate(declaration.items):
        check(item.value, f"/items/{index}/value")


def apportion(total: Decimal, weights: Sequence[Decimal], minor_units: int) -> tuple[Decimal, ...]:
    """Split `total` over `weights` pro rata, in minor units, by the largest remainder.

    The shares add up to `total` exactly; remainders are given one minor unit each, largest
    remainder first, earlier item first on ties. All-zero weights share equally.

    >>> apportion(Decimal("100.00"), [Decimal(1), Decimal(1), Decimal(1)], 2)
    (Decimal('33.34'), Decimal('33.33'), Decimal('33.33'))
    """
    if not weights:
        return ()
    units = Fraction(total) * 10**minor_units
    if units.denominator != 1:
        raise InvalidDutyInput("", f"{total} has more than {minor_units} decimals")
    whole = int(units)
    fractions = [Fraction(w) for w in weights]
    weight_sum = sum(fractions, Fraction(0))
    if weight_sum == 0:
        fractions = [Fraction(1)] * len(weights)
        weight_sum = Fraction(len(weights))
    exact = [whole * w / weight_sum for w in fractions]
    floors = [int(share) for share in exact]  # shares are non-negative: int() is the floor
    left = whole - sum(floors)
    order = sorted(range(len(exact)), key=lambda i: (-(exact[i] - floors[i]), i))
    for index in order[:left]:
        floors[index] += 1
    return tuple(Decimal(units_).scaleb(-minor_units) for units_ in floors)


def _assess_item(
    index: int,
    item: DutyItem,
    line: TariffLine,
    *,
    freight_share: Decimal,
    insurance_share: Decimal,
    treatment: IncotermTreatment,
    rate: ExchangeRate,
    rounding: RoundingRule,
    currency: str,
) -> ItemAssessment:
    freight_added = freight_share if treatment.adds_freight else Decimal(0)
    insurance_added = insurance_share if treatment.adds_insurance else Decimal(0)
    in_invoice_currency = _EXACT.add(_EXACT.add(item.value, freight_added), insurance_added)
    customs_value_unrounded = _EXACT.multiply(in_invoice_currency, rate.rate)
    customs_value = rounding.round(customs_value_unrounded)

    applied, duty = _choose_measure(index, item, line, customs_value, rounding, currency)

    vat_base = _EXACT.add(customs_value, duty.amount)
    vat_unrounded = _percent(vat_base, line.vat_rate)
    return ItemAssessment(
        number=index + 1,
        hs_code=item.hs_code,
        origin=item.origin,
        invoice_value=item.value,
        freight_share=freight_share,
        insurance_share=insurance_share,
        freight_added=freight_added,
        insurance_added=insurance_added,
        value_in_invoice_currency=in_invoice_currency,
        customs_value_unrounded=customs_value_unrounded,
        customs_value=customs_value,
        measure=applied,
        duty=duty,
        vat_rate=line.vat_rate,
        vat_base=vat_base,
        vat_unrounded=vat_unrounded,
        vat=rounding.round(vat_unrounded),
    )


def _choose_measure(
    index: int,
    item: DutyItem,
    line: TariffLine,
    customs_value: Decimal,
    rounding: RoundingRule,
    currency: str,
) -> tuple[AppliedMeasure, DutyWorking]:
    third = duty_for(line.third_country, customs_value, item, rounding, pointer=f"/items/{index}")

    def third_country(reason: str) -> tuple[AppliedMeasure, DutyWorking]:
        return AppliedMeasure(THIRD_COUNTRY, None, line.code, line.third_country, reason), third

    claim = item.preference
    if claim is None:
        return third_country("no preference claimed")
    wanted = f"preference {claim.scheme}" if claim.scheme else "a preference"
    open_to_origin = [
        p
        for p in line.preferences_for(item.origin)
        if claim.scheme is None or p.scheme == claim.scheme
    ]
    if not open_to_origin:
        return third_country(
            f"{wanted} claimed, but line {line.code} has none open to origin {item.origin}"
        )
    if not (claim.proof_document or "").strip():
        return third_country(f"{wanted} claimed without a proof document: refused")
    candidates = []
    for preference in open_to_origin:
        working = duty_for(preference.measure, customs_value, item, rounding, f"/items/{index}")
        candidates.append((working.unrounded, preference.scheme, preference, working))
    _, _, best, working = min(candidates, key=lambda c: (c[0], c[1]))
    if working.unrounded > third.unrounded:
        return third_country(
            f"preference {best.scheme} ({best.measure.describe(currency)}) would exceed the"
            " third-country duty"
        )
    proof = (claim.proof_document or "").strip()
    reason = f"preference {best.scheme} for origin {item.origin}, proof document {proof}"
    return AppliedMeasure(PREFERENTIAL, best.scheme, best.code, best.measure, reason), working


def duty_for(
    measure: Measure,
    customs_value: Decimal,
    item: DutyItem,
    rounding: RoundingRule,
    pointer: str = "",
) -> DutyWorking:
    """The duty of one item under one measure (the rule in the module docstring, step 5)."""
    ad_valorem = (
        Decimal(0)
        if measure.ad_valorem_pct is None
        else _percent(customs_value, measure.ad_valorem_pct)
    )
    specific_quantity = None
    specific = Decimal(0)
    if measure.specific is not None:
        specific_quantity = _quantity(measure.specific.unit, item, pointer)
        specific = _EXACT.multiply(measure.specific.amount, specific_quantity)
    computed = _EXACT.add(ad_valorem, specific)
    minimum = _money(measure.minimum, item, pointer)
    maximum = _money(measure.maximum, item, pointer)
    unrounded = computed
    limit: Literal["MIN", "MAX"] | None = None
    if minimum is not None and unrounded < minimum:
        unrounded, limit = minimum, "MIN"
    if maximum is not None and unrounded > maximum:
        unrounded, limit = maximum, "MAX"
    return DutyWorking(
        ad_valorem=ad_valorem,
        specific_quantity=specific_quantity,
        specific=specific,
        computed=computed,
        minimum=minimum,
        maximum=maximum,
        limit_applied=limit,
        unrounded=unrounded,
        amount=rounding.round(unrounded),
    )


def _percent(amount: Decimal, pct: Decimal) -> Decimal:
    return _EXACT.multiply(amount, pct).scaleb(-2, _EXACT)


def _money(rate: SpecificRate | None, item: DutyItem, pointer: str) -> Decimal | None:
    if rate is None:
        return None
    return _EXACT.multiply(rate.amount, _quantity(rate.unit, item, pointer))


def _quantity(unit: str, item: DutyItem, pointer: str) -> Decimal:
    """The item's quantity in a measure's unit: net mass for kg, else the declared quantity."""
    if unit == NET_MASS_UNIT:
        return item.net_mass_kg
    if unit not in UNITS or item.unit != unit:
        raise SupplementaryUnitMissing(f"{pointer}/unit", unit, item.unit)
    return item.quantity


# --- the record: JSON-ready dicts and back ---------------------------------------------------


def assessment_to_dict(assessment: Assessment) -> dict[str, Any]:
    """The assessment as JSON-ready data: decimals as strings, dates as ISO text.

    Everything `reassess` needs is in it: the inputs, the acceptance date, the tariff and
    rates versions, the rate, the rounding rule and the valuation basis.
    """
    a = assessment
    return {
        "format": RECORD_FORMAT,
        "acceptance_date": a.acceptance_date.isoformat(),
        "national_currency": a.national_currency,
        "tariff_version": a.tariff_version,
        "exchange_rate": {
            "currency": a.exchange_rate.currency,
            "rate": _s(a.exchange_rate.rate),
            "valid_from": a.exchange_rate.valid_from.isoformat(),
            "valid_to": a.exchange_rate.valid_to.isoformat(),
            "published_on": _date_or_none(a.exchange_rate.published_on),
            "version": a.exchange_rate.version,
        },
        "rounding": {
            "mode": a.rounding.mode,
            "minor_units": a.rounding.minor_units,
            "rule": a.rounding.describe(),
        },
        "valuation": {
            "incoterm": a.declaration.incoterm,
            "adds_freight": a.valuation.adds_freight,
            "adds_insurance": a.valuation.adds_insurance,
            "invoice_minor_units": a.invoice_minor_units,
        },
        "declaration": _declaration_to_dict(a.declaration),
        "items": [_item_to_dict(item, a.national_currency) for item in a.items],
        "totals": {
            "customs_value": _s(a.total_customs_value),
            "duty": _s(a.total_duty),
            "vat": _s(a.total_vat),
            "due": _s(a.total_due),
        },
    } | ({} if a.relief is None else {"relief": _relief_to_dict(a.relief)})


def _relief_to_dict(relief: ReliefWorking) -> dict[str, Any]:
    return {"code": relief.code, "legal_basis": relief.legal_basis,
            "threshold": _s(relief.threshold), "currency": relief.currency,
            "relieves": list(relief.relieves), "intrinsic_value": _s(relief.intrinsic_value),
            "applied": relief.applied, "reason": relief.reason,
            "duty_relieved": _s(relief.duty_relieved), "vat_relieved": _s(relief.vat_relieved)}


def _relief_from_dict(data: Mapping[str, Any]) -> ReliefWorking:
    return ReliefWorking(str(data["code"]), str(data["legal_basis"]), _d(data["threshold"]),
                         str(data["currency"]), tuple(data["relieves"]),
                         _d(data["intrinsic_value"]), bool(data["applied"]),
                         str(data["reason"]), _d(data["duty_relieved"]),
                         _d(data["vat_relieved"]))


def assessment_from_dict(data: Mapping[str, Any]) -> Assessment:
    """The `Assessment` recorded by `assessment_to_dict` (`AssessmentRecordInvalid` if not)."""
    try:
        if data["format"] != RECORD_FORMAT:
            raise AssessmentRecordInvalid(f"unknown record format {data['format']!r}")
        declaration = _declaration_from_dict(data["declaration"])
        rate = data["exchange_rate"]
        national = data["national_currency"]
        valuation = data["valuation"]
        totals = data["totals"]
        return Assessment(
            declaration=declaration,
            acceptance_date=date.fromisoformat(data["acceptance_date"]),
            national_currency=national,
            tariff_version=data["tariff_version"],
            exchange_rate=ExchangeRate(
                currency=rate["currency"],
                national_currency=national,
                rate=_d(rate["rate"]),
                valid_from=date.fromisoformat(rate["valid_from"]),
                valid_to=date.fromisoformat(rate["valid_to"]),
                version=rate["version"],
                published_on=(
                    None
                    if rate["published_on"] is None
                    else date.fromisoformat(rate["published_on"])
                ),
            ),
            rounding=RoundingRule(data["rounding"]["mode"], int(data["rounding"]["minor_units"])),
            valuation=IncotermTreatment(
                adds_freight=bool(valuation["adds_freight"]),
                adds_insurance=bool(valuation["adds_insurance"]),
            ),
            invoice_minor_units=int(valuation["invoice_minor_units"]),
            items=tuple(_item_from_dict(item) for item in data["items"]),
            total_customs_value=_d(totals["customs_value"]),
            total_duty=_d(totals["duty"]),
            total_vat=_d(totals["vat"]),
            total_due=_d(totals["due"]),
            relief=None if data.get("relief") is None else _relief_from_dict(data["relief"]),
        )
    except AssessmentRecordInvalid:
        raise
    except (KeyError, TypeError, ValueError, decimal.InvalidOperation, InvalidDutyInput) as error:
        raise AssessmentRecordInvalid(f"cannot read the recorded assessment: {error!r}") from error


def reassess(record: Mapping[str, Any], tariff: Tariff, rates: ExchangeRates,
             reliefs: Reliefs | None = None) -> Assessment:
    """Re-run `assess` on a record's own inputs, rounding rule, valuation basis and minor units,
    and the low-value reliefs when the record was made with them (a record without `relief`
    predates them and is re-derived without).

    An auditor checks ``reassess(record, tariff, rates) == assessment_from_dict(record)``;
    `verify_assessment` does that and names the differences.
    """
    recorded = assessment_from_dict(record)
    policy = AssessmentPolicy(
        rounding=recorded.rounding,
        incoterms={recorded.declaration.incoterm: recorded.valuation},
    )
    # The rounding rule is explicit, so the national entry only has to exist; the invoice
    # currency's entry is the one apportionment used.
    minor_units = {
        recorded.national_currency: int(recorded.rounding.minor_units or 0),
        recorded.declaration.currency: recorded.invoice_minor_units,
    }
    return assess(
        recorded.declaration,
        recorded.acceptance_date,
        tariff,
        rates,
        minor_units=minor_units,
        policy=policy,
        reliefs=reliefs if "relief" in record else None,
    )


def verify_assessment(record: Mapping[str, Any], tariff: Tariff, rates: ExchangeRates,
                      reliefs: Reliefs | None = None) -> None:
    """Raise `AssessmentMismatch` (with the JSON paths that differ) unless the record re-derives.

    The comparison is of the records, so a recorded amount written differently
    (``"10.0"`` for ``"10.00"``) also counts as a difference.
    """
    again = assessment_to_dict(reassess(record, tariff, rates, reliefs))
    differences = tuple(_differences(dict(record), again, ""))
    if differences:
        raise AssessmentMismatch(differences)


def _differences(recorded: Any, derived: Any, path: str) -> list[str]:
    if isinstance(recorded, dict) and isinstance(derived, dict):
        found = []
        for key in sorted(set(recorded) | set(derived), key=str):
            found += _differences(recorded.get(key), derived.get(key), f"{path}/{key}")
        return found
    if isinstance(recorded, list) and isinstance(derived, list):
        if len(recorded) != len(derived):
            return [path or "/"]
        found = []
        for index, (left, right) in enumerate(zip(recorded, derived, strict=True)):
            found += _differences(left, right, f"{path}/{index}")
        return found
    return [] if recorded == derived else [path or "/"]


def _s(value: Decimal) -> str:
    return format(value, "f")


def _d(value: object) -> Decimal:
    if not isinstance(value, str):
        raise ValueError(f"a decimal must be recorded as a string, not {value!r}")
    number = Decimal(value)
    if not number.is_finite():
        raise ValueError(f"{value!r} is not a finite decimal")
    return number


def _optional(value: Decimal | None) -> str | None:
    return None if value is None else _s(value)


def _optional_d(value: object) -> Decimal | None:
    return None if value is None else _d(value)


def _date_or_none(value: date | None) -> str | None:
    return None if value is None else value.isoformat()


def _declaration_to_dict(declaration: DutyDeclaration) -> dict[str, Any]:
    return {
        "currency": declaration.currency,
        "incoterm": declaration.incoterm,
        "freight": _s(declaration.freight),
        "insurance": _s(declaration.insurance),
        "items": [
            {
                "hs_code": item.hs_code,
                "origin": item.origin,
                "quantity": _s(item.quantity),
                "unit": item.unit,
                "net_mass_kg": _s(item.net_mass_kg),
                "value": _s(item.value),
                "preference": (
                    None
                    if item.preference is None
                    else {
                        "scheme": item.preference.scheme,
                        "proof_document": item.preference.proof_document,
                    }
                ),
            }
            for item in declaration.items
        ],
    }


def declaration_from_dict(data: Mapping[str, Any]) -> DutyDeclaration:
    """A `DutyDeclaration` from the JSON-ready form `assessment_to_dict` records it in."""
    return DutyDeclaration(
        currency=data["currency"],
        incoterm=data["incoterm"],
        freight=_d(data["freight"]),
        insurance=_d(data["insurance"]),
        items=tuple(
            DutyItem(
                hs_code=item["hs_code"],
                origin=item["origin"],
                quantity=_d(item["quantity"]),
                unit=item["unit"],
                net_mass_kg=_d(item["net_mass_kg"]),
                value=_d(item["value"]),
                preference=(
                    None
                    if item["preference"] is None
                    else PreferenceClaim(
                        scheme=item["preference"]["scheme"],
                        proof_document=item["preference"]["proof_document"],
                    )
                ),
            )
            for item in data["items"]
        ),
    )


_declaration_from_dict = declaration_from_dict


def _rate_to_dict(rate: SpecificRate | None) -> dict[str, str] | None:
    return None if rate is None else {"amount": _s(rate.amount), "unit": rate.unit}


def _rate_from_dict(data: Mapping[str, Any] | None) -> SpecificRate | None:
    return None if data is None else SpecificRate(_d(data["amount"]), data["unit"])


def _item_to_dict(item: ItemAssessment, currency: str) -> dict[str, Any]:
    measure = item.measure.measure
    duty = item.duty
    return {
        "number": item.number,
        "hs_code": item.hs_code,
        "origin": item.origin,
        "invoice_value": _s(item.invoice_value),
        "freight_share": _s(item.freight_share),
        "insurance_share": _s(item.insurance_share),
        "freight_added": _s(item.freight_added),
        "insurance_added": _s(item.insurance_added),
        "value_in_invoice_currency": _s(item.value_in_invoice_currency),
        "customs_value_unrounded": _s(item.customs_value_unrounded),
        "customs_value": _s(item.customs_value),
        "measure": {
            "basis": item.measure.basis,
            "scheme": item.measure.scheme,
            "code": item.measure.code,
            "kind": measure.kind,
            "description": measure.describe(currency),
            "ad_valorem_pct": _optional(measure.ad_valorem_pct),
            "specific": _rate_to_dict(measure.specific),
            "minimum": _rate_to_dict(measure.minimum),
            "maximum": _rate_to_dict(measure.maximum),
            "reason": item.measure.reason,
        },
        "duty": {
            "ad_valorem": _s(duty.ad_valorem),
            "specific_quantity": _optional(duty.specific_quantity),
            "specific": _s(duty.specific),
            "computed": _s(duty.computed),
            "minimum": _optional(duty.minimum),
            "maximum": _optional(duty.maximum),
            "limit_applied": duty.limit_applied,
            "unrounded": _s(duty.unrounded),
            "amount": _s(duty.amount),
        },
        "vat_rate": _s(item.vat_rate),
        "vat_base": _s(item.vat_base),
        "vat_unrounded": _s(item.vat_unrounded),
        "vat": _s(item.vat),
    }


def _item_from_dict(data: Mapping[str, Any]) -> ItemAssessment:
    measure = data["measure"]
    duty = data["duty"]
    basis: Basis
    if measure["basis"] == THIRD_COUNTRY:
        basis = THIRD_COUNTRY
    elif measure["basis"] == PREFERENTIAL:
        basis = PREFERENTIAL
    else:
        raise ValueError(f"unknown basis {measure['basis']!r}")
    limit = duty["limit_applied"]
    if limit not in (None, "MIN", "MAX"):
        raise ValueError(f"unknown limit {limit!r}")
    return ItemAssessment(
        number=int(data["number"]),
        hs_code=data["hs_code"],
        origin=data["origin"],
        invoice_value=_d(data["invoice_value"]),
        freight_share=_d(data["freight_share"]),
        insurance_share=_d(data["insurance_share"]),
        freight_added=_d(data["freight_added"]),
        insurance_added=_d(data["insurance_added"]),
        value_in_invoice_currency=_d(data["value_in_invoice_currency"]),
        customs_value_unrounded=_d(data["customs_value_unrounded"]),
        customs_value=_d(data["customs_value"]),
        measure=AppliedMeasure(
            basis=basis,
            scheme=measure["scheme"],
            code=measure["code"],
            measure=Measure(
                ad_valorem_pct=_optional_d(measure["ad_valorem_pct"]),
                specific=_rate_from_dict(measure["specific"]),
                minimum=_rate_from_dict(measure["minimum"]),
                maximum=_rate_from_dict(measure["maximum"]),
            ),
            reason=measure["reason"],
        ),
        duty=DutyWorking(
            ad_valorem=_d(duty["ad_valorem"]),
            specific_quantity=_optional_d(duty["specific_quantity"]),
            specific=_d(duty["specific"]),
            computed=_d(duty["computed"]),
            minimum=_optional_d(duty["minimum"]),
            maximum=_optional_d(duty["maximum"]),
            limit_applied=limit,
            unrounded=_d(duty["unrounded"]),
            amount=_d(duty["amount"]),
        ),
        vat_rate=_d(data["vat_rate"]),
        vat_base=_d(data["vat_base"]),
        vat_unrounded=_d(data["vat_unrounded"]),
        vat=_d(data["vat"]),
    )

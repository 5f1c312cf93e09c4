"""Marshmallow schemas of the declaration document (CONTRACT.md), loading to the domain types.

The schemas check the shape: types, formats, lengths, required and unknown fields (refused at
every level). Decimal fields take decimal strings only ("120.00"): JSON numbers, floats above
all, are refused so that no value is ever rounded on the way in. Business rules that need
reference data (tariff, country and currency lists) or several fields at once live in
`services.declaration.domain.validation`.

`load_declaration(raw)` returns a `Declaration` or raises `DeclarationInvalid` with one
`Problem(pointer, message)` per invalid field; `problems_from_messages` turns marshmallow's
nested error dict into those pointers.

Example document::

    {"lrn": "ACME-2026-000123", "type": "IM",
     "declarant": {"eori": "GB123456789000", "name": "Acme Brokers Ltd"},
     "importer": {"eori": "GB987654321000", "name": "Acme Retail Ltd", "country": "GB"},
     "exporter": {"name": "Shenzhen Phone Works", "country": "CN"},
     "office": "GBLHR001", "transport": {"mode": "air", "document": "AWB 125-12345675"},
     "currency": "USD", "incoterm": "FOB", "freight": "120.00", "insurance": "15.00",
     "gross_mass_kg": "26.0",
     "items": [{"hs_code": "8517130000", "description": "Smartphones, 128 GB", "origin": "CN",
                "quantity": "100", "unit": "p/st", "net_mass_kg": "20.5",
                "gross_mass_kg": "25.0", "value": "15000.00", "preference": null,
                "documents": []}]}

Optional fields beyond the contract's example: `invoice_date` (header) and `date` (each
document's date of issue), ISO dates `YYYY-MM-DD`; `preference` and `documents` may be left out.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Mapping
from typing import Any

from marshmallow import (
    RAISE,
    Schema,
    ValidationError,
    fields,
    post_load,
    validate,
    validates_schema,
)
from marshmallow.types import ErrorMessages

#: Decimal strings: at most this many digits before the point and places after it.
from shared.web.fields import NOT_BLANK_PATTERN, TEXT_PATTERN, DecimalString, IsoDate

from .domain.declaration import (
    INCOTERMS_2020,
    MAX_ITEMS,
    Declarant,
    Declaration,
    DeclarationType,
    Document,
    Exporter,
    Importer,
    Item,
    PaymentMethod,
    PaymentTerms,
    Transport,
    TransportMode,
)
from .domain.validation import DeclarationInvalid, Problem, items_count_message, pointer

_REQUIRED: ErrorMessages = {
    "required": "This field is required.",
    "null": "This field may not be null.",
}


# ---------------------------------------------------------------------------------------------
# Fields


def _no_control_or_blank(value: str) -> None:
    if value and not value.strip():  # "" is the length validator's to report
        raise ValidationError("Must not be blank.")
    if any(unicodedata.category(ch) == "Cc" for ch in value):
        raise ValidationError("Must not contain control characters (tabs, line breaks...).")


def _text(max_length: int, **kwargs: Any) -> fields.String:
    """Free text of 1..max_length characters, not blank, no control characters."""
    kwargs.setdefault("required", True)
    return fields.String(
        validate=[
            validate.Length(
                min=1, max=max_length, error=f"Must be 1 to {max_length} characters long."
            ),
            _no_control_or_blank,
        ],
        error_messages={**_REQUIRED, "invalid": "Must be a string."},
        metadata={"pattern": TEXT_PATTERN},
        **kwargs,
    )


def _code(pattern: str, message: str, **kwargs: Any) -> fields.String:
    """A code matching `pattern` in full (ASCII)."""
    kwargs.setdefault("required", True)
    return fields.String(
        validate=validate.Regexp(re.compile(pattern + r"\Z", re.ASCII), error=message),
        error_messages={**_REQUIRED, "invalid": "Must be a string."},
        **kwargs,
    )


def _country(**kwargs: Any) -> fields.String:
    return _code(
        r"[A-Z]{2}",
        "Must be an ISO 3166-1 alpha-2 country code in capitals, e.g. CN.",
        **kwargs,
    )


def _eori(**kwargs: Any) -> fields.String:
    return _code(
        r"[A-Z]{2}[A-Z0-9]{1,15}",
        "An EORI number is a two-letter country code followed by 1 to 15 capital letters "
        "or digits, e.g. GB123456789000.",
        **kwargs,
    )


def _validate_type(value: str) -> None:
    if value in (DeclarationType.EXPORT.value, DeclarationType.TRANSIT.value):
        raise ValidationError(
            "Export (EX) and transit (TR) declarations are not supported yet; "
            "only import declarations (IM) can be lodged."
        )
    if value != DeclarationType.IMPORT.value:
        raise ValidationError(f"Unknown declaration type {value!r}; use IM (import).")


class ItemList(fields.List[Any]):
    """The items: counted (1..max_items of the root schema) before any item is loaded."""

    def _deserialize(self, value: Any, attr: Any, data: Any, **kwargs: Any) -> list[Any]:
        if isinstance(value, list):
            max_items = getattr(self.root, "max_items", MAX_ITEMS)
            if not 1 <= len(value) <= max_items:
                raise ValidationError(items_count_message(len(value), max_items))
        return super()._deserialize(value, attr, data, **kwargs)


# ---------------------------------------------------------------------------------------------
# Schemas


class _Strict(Schema):
    """Unknown fields refused at every level, with messages that say what to do."""

    class Meta:
        unknown = RAISE

    error_messages = {
        "unknown": "Unknown field: it is not part of the declaration document; remove it.",
        "type": "Must be a JSON object.",
    }


class DeclarantSchema(_Strict):
    eori = _eori()
    name = _text(70)

    @post_load
    def make(self, data: dict[str, Any], **kwargs: Any) -> Declarant:
        return Declarant(**data)


class ImporterSchema(_Strict):
    eori = _eori()
    name = _text(70)
    country = _country()

    @post_load
    def make(self, data: dict[str, Any], **kwargs: Any) -> Importer:
        return Importer(**data)


class ExporterSchema(_Strict):
    name = _text(70)
    country = _country()

    @post_load
    def make(self, data: dict[str, Any], **kwargs: Any) -> Exporter:
        return Exporter(**data)


class TransportSchema(_Strict):
    mode = fields.Enum(
        TransportMode,
        by_value=True,
        required=True,
        error_messages={
            **_REQUIRED,
            "unknown": "Must be one of: " + ", ".join(m.value for m in TransportMode) + ".",
        },
    )
    document = _text(70)

    @post_load
    def make(self, data: dict[str, Any], **kwargs: Any) -> Transport:
        return Transport(**data)


class DocumentSchema(_Strict):
    type = _code(
        r"[A-Za-z0-9][A-Za-z0-9._-]{0,34}",
        "A document type is 1 to 35 letters, digits, '.', '_' or '-', e.g. EUR1 or N954.",
    )
    reference = _text(70)
    date = IsoDate(required=False, load_default=None, allow_none=True)

    @post_load
    def make(self, data: dict[str, Any], **kwargs: Any) -> Document:
        return Document(**data)


class PaymentSchema(_Strict):
    """How the debt is settled: `immediate` (no account), or charged to a `deferment`
    account, or secured by a `guarantee` account (the account's number required)."""

    method = fields.Enum(
        PaymentMethod,
        by_value=True,
        required=True,
        error_messages={
            **_REQUIRED,
            "unknown": "Must be one of: " + ", ".join(m.value for m in PaymentMethod) + ".",
        },
    )
    account = _code(
        r"[A-Z0-9][A-Z0-9-]{0,29}",
        "An account number is 1 to 30 capital letters, digits or '-', e.g. DAN1234567.",
        required=False,
        load_default=None,
        allow_none=True,
    )

    @validates_schema
    def account_for_method(self, data: dict[str, Any], **kwargs: Any) -> None:
        method, account = data.get("method"), data.get("account")
        if method is PaymentMethod.IMMEDIATE and account is not None:
            raise ValidationError("An immediate payment names no account; remove it, or "
                                  "choose deferment or guarantee.", "account")
        if method not in (None, PaymentMethod.IMMEDIATE) and account is None:
            raise ValidationError(f"A {method.value} payment needs the account's number.",
                                  "account")

    @post_load
    def make(self, data: dict[str, Any], **kwargs: Any) -> PaymentTerms:
        return PaymentTerms(**data)


class ItemSchema(_Strict):
    hs_code = _code(
        r"[0-9]{6}(?:[0-9]{2}){0,2}",
        "A commodity code is 6, 8 or 10 digits with no spaces or dots, e.g. 8517130000.",
    )
    description = _text(512)
    origin = _country()
    quantity = DecimalString()
    unit = _text(20)
    net_mass_kg = DecimalString()
    gross_mass_kg = DecimalString()
    value = DecimalString()
    preference = _code(
        r"[A-Za-z0-9][A-Za-z0-9._/-]{0,34}",
        "A preference is null or a scheme or code of 1 to 35 letters, digits, '.', '_', "
        "'/' or '-', e.g. GSP or 300.",
        required=False,
        load_default=None,
        allow_none=True,
    )
    documents = fields.List(
        fields.Nested(DocumentSchema),
        load_default=list,
        error_messages={**_REQUIRED, "invalid": "Must be a list of documents."},
    )

    @post_load
    def make(self, data: dict[str, Any], **kwargs: Any) -> Item:
        return Item(**{**data, "documents": tuple(data["documents"])})


class DeclarationSchema(_Strict):
    """The whole declaration document; `max_items` bounds the number of items."""

    lrn = _code(
        r"[A-Za-z0-9][A-Za-z0-9._/-]{0,21}",
        "An LRN is 1 to 22 letters, digits, '.', '_', '/' or '-', starting with a letter or "
        "digit, e.g. ACME-2026-000123.",
    )
    type = fields.String(
        required=True,
        validate=_validate_type,
        error_messages={**_REQUIRED, "invalid": "Must be a string: IM."},
        metadata={"enum": [DeclarationType.IMPORT.value]},
    )
    declarant = fields.Nested(DeclarantSchema, required=True, error_messages=_REQUIRED)
    importer = fields.Nested(ImporterSchema, required=True, error_messages=_REQUIRED)
    exporter = fields.Nested(ExporterSchema, required=True, error_messages=_REQUIRED)
    office = _code(
        r"[A-Z]{2}[A-Z0-9]{6}",
        "An office code is a two-letter country code followed by 6 capital letters or "
        "digits, e.g. GBLHR001.",
    )
    transport = fields.Nested(TransportSchema, required=True, error_messages=_REQUIRED)
    currency = _code(r"[A-Z]{3}", "Must be an ISO 4217 currency code in capitals, e.g. USD.")
    incoterm = fields.String(
        required=True,
        validate=validate.OneOf(
            sorted(INCOTERMS_2020),
            error="Must be an Incoterms 2020 rule: " + ", ".join(sorted(INCOTERMS_2020)) + ".",
        ),
        error_messages=_REQUIRED,
    )
    invoice_date = IsoDate(required=False, load_default=None, allow_none=True)
    freight = DecimalString()
    insurance = DecimalString()
    gross_mass_kg = DecimalString()
    items = ItemList(
        fields.Nested(ItemSchema),
        required=True,
        error_messages={**_REQUIRED, "invalid": "Must be a list of items."},
    )
    payment = fields.Nested(PaymentSchema, required=False, load_default=None)

    def __init__(self, *, max_items: int = MAX_ITEMS, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.max_items = max_items

    @post_load
    def make(self, data: dict[str, Any], **kwargs: Any) -> Declaration:
        return Declaration(
            **{
                **data,
                "type": DeclarationType(data["type"]),
                "items": tuple(data["items"]),
            }
        )


# ---------------------------------------------------------------------------------------------
# Loading and error conversion


def problems_from_messages(messages: Any, *tokens: str | int) -> list[Problem]:
    """Flatten marshmallow's nested error messages into pointer problems.

    `{"items": {0: {"hs_code": ["..."]}}, "_schema": ["..."]}` ->
    `[Problem("/items/0/hs_code", "..."), Problem("", "...")]`; `_schema` errors belong to
    the object that holds them.
    """
    problems: list[Problem] = []
    if isinstance(messages, Mapping):
        for key, value in messages.items():
            if key == "_schema":
                problems += problems_from_messages(value, *tokens)
            else:
                problems += problems_from_messages(value, *tokens, key)
    elif isinstance(messages, list | tuple):
        for message in messages:
            problems += problems_from_messages(message, *tokens)
    else:
        problems.append(Problem(pointer(*tokens), str(messages)))
    return problems


_SCHEMAS: dict[int, DeclarationSchema] = {}


def declaration_schema(max_items: int = MAX_ITEMS) -> DeclarationSchema:
    """A shared schema instance per `max_items` (loading does not mutate it)."""
    schema = _SCHEMAS.get(max_items)
    if schema is None:
        schema = _SCHEMAS.setdefault(max_items, DeclarationSchema(max_items=max_items))
    return schema


def load_declaration(raw: Any, *, max_items: int = MAX_ITEMS) -> Declaration:
    """The typed `Declaration`, or `DeclarationInvalid` listing every shape problem.

    Problems come in document order (the schema's field order; unknown fields last in each
    object)."""
    try:
        declaration = declaration_schema(max_items).load(raw)
    except ValidationError as error:
        problems = problems_from_messages(error.messages)
        raise DeclarationInvalid(problems) from None
    if not isinstance(declaration, Declaration):  # pragma: no cover - post_load guarantees it
        raise TypeError("DeclarationSchema.load did not return a Declaration")
    return declaration


class StatusSchema(Schema):
    name = fields.String(required=True)
    code = fields.String(required=True)


class LodgedSchema(Schema):
    """`POST /declarations` answer (201 created, 200 idempotent repeat)."""

    mrn = fields.String(required=True)
    consignment_id = fields.String(required=True)
    status = fields.Nested(StatusSchema, required=True)


class DeclarationStatusSchema(Schema):
    """`GET /declarations/{mrn}`: the status projection's view (amounts as decimal strings in
    the national currency; lane and released_at null until known)."""

    mrn = fields.String(required=True)
    lrn = fields.String(required=True)
    consignment_id = fields.String(required=True)
    declarant = fields.String(required=True)
    office = fields.String(allow_none=True)
    version = fields.Integer(required=True)  # the same as declaration_version (kept)
    declaration_version = fields.Integer(required=True)
    status = fields.Nested(StatusSchema, required=True)
    lane = fields.String(allow_none=True)
    # the lane of the version before an amendment (null when not amended)
    previous_lane = fields.String(allow_none=True)
    amount_due = fields.String(allow_none=True)
    amount_paid = fields.String(allow_none=True)
    amount_repayable = fields.String(required=True)  # "0.00" when none
    currency = fields.String(allow_none=True)
    lodged_at = fields.String(allow_none=True)
    released_at = fields.String(allow_none=True)


class InvalidationRequestSchema(Schema):
    """`POST /declarations/{mrn}/invalidation`: the declarant's request and its reason."""

    class Meta:
        unknown = RAISE

    reason = fields.String(required=True, validate=validate.Length(min=1, max=2000))


class DecisionSchema(Schema):
    """An officer's decision on what the declarant asked for after release: the invalidation
    (`/invalidation/decision`) or the post-release amendment (`/amendments/decision`)."""

    class Meta:
        unknown = RAISE

    decision = fields.String(required=True, validate=validate.OneOf(["granted", "refused"]))
    reason = fields.String(required=True, validate=validate.Length(min=1, max=2000))


class InvalidationAnswerSchema(Schema):
    """The answer to an invalidation request: `invalidated` (200, before release) or
    `requested` (202, after release: an officer decides)."""

    mrn = fields.String(required=True)
    consignment_id = fields.String(required=True)
    status = fields.Nested(StatusSchema, required=True)
    invalidation = fields.String(required=True, validate=validate.OneOf(["invalidated",
                                                                         "requested"]))


class InvalidationDecidedSchema(Schema):
    """The answer to an officer's decision (the declaration's status after it)."""

    mrn = fields.String(required=True)
    consignment_id = fields.String(required=True)
    status = fields.Nested(StatusSchema, required=True)
    decision = fields.String(required=True, validate=validate.OneOf(["granted", "refused"]))


class AmendmentSchema(Schema):
    """`POST /declarations/{mrn}/amendments`: why, and the whole corrected declaration."""

    class Meta:
        unknown = RAISE

    # not blank either (intake.amendment_request reads the body)
    reason = fields.String(required=True, validate=validate.Length(min=1, max=2000),
                           metadata={"pattern": NOT_BLANK_PATTERN})
    document = fields.Nested(DeclarationSchema, required=True)


class ChangeSchema(Schema):
    pointer = fields.String(required=True)
    before = fields.Raw(required=True, allow_none=True)
    after = fields.Raw(required=True, allow_none=True)


class AmendedSchema(Schema):
    """The answer to an amendment: the new declaration version and what changed; `amended`
    (201, before release) or `requested` (202, a post-release amendment an officer
    decides)."""

    mrn = fields.String(required=True)
    consignment_id = fields.String(required=True)
    declaration_version = fields.Integer(required=True)
    changes = fields.List(fields.Nested(ChangeSchema), required=True)
    amendment = fields.String(required=True, validate=validate.OneOf(["amended", "requested"]))


class AmendmentDecidedSchema(InvalidationDecidedSchema):
    """The answer to an officer's decision on a post-release amendment: the status after it,
    and the declaration version in force."""

    declaration_version = fields.Integer(required=True)


class StatusChangeSchema(Schema):
    position = fields.Integer(required=True)
    mrn = fields.String(required=True)
    lrn = fields.String(required=True)
    declaration_version = fields.Integer(required=True)
    status = fields.Nested(StatusSchema, required=True)
    at = fields.String(required=True)


class StatusNotificationsSchema(Schema):
    """`GET /status-notifications`: the caller's status changes in log order, and the
    position to ask after next time."""

    notifications = fields.List(fields.Nested(StatusChangeSchema), required=True)
    next_after = fields.Integer(required=True)

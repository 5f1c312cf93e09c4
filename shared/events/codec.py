"""One field list per event version: the frozen dataclass. Its schema and its codec come from it.

    @dataclass(frozen=True)
    class RiskAssessed:
        TYPE: ClassVar[str] = "RiskAssessed"
        VERSION: ClassVar[int] = 1
        CATEGORY: ClassVar[str] = "risk"
        lane: str = field(metadata={"validate": validate.OneOf(LANES)})
        rules_hit: list[dict[str, Any]] = field(metadata={"items": RuleHit})

* `schema_for(cls)`: the marshmallow schema that validates stored data of that version (the
  store's door: nothing invalid is appended). Field types: str, int, bool, Decimal (a decimal
  string), date, datetime (ISO 8601 with an offset), dict[str, Any], list[...], and `X | None`
  (null allowed). Metadata: `validate` (marshmallow validators), `items` (a schema for the
  items of a list of objects).
* `Codec(cls)`: encode a payload to its JSON-ready data and decode data (already valid) to a
  payload, without marshmallow on the way: the hot paths (appends, folds, rebuilds) pay a
  conversion per Decimal, date and time field and nothing else. `decode_partial` builds a
  payload holding only some fields (a rebuild reads just what its fold uses).
"""

from __future__ import annotations

import types
import typing
from collections.abc import Callable, Mapping
from dataclasses import MISSING, fields
from datetime import date, datetime
from decimal import Decimal
from typing import Any

import marshmallow
from marshmallow import fields as mf

Convert = Callable[[Any], Any]


def _hints(cls: type[Any]) -> dict[str, Any]:
    return typing.get_type_hints(cls)


def _optional(hint: Any) -> tuple[Any, bool]:
    """(the type inside `X | None`, True) or (hint, False)."""
    if typing.get_origin(hint) in (typing.Union, types.UnionType):
        args = [a for a in typing.get_args(hint) if a is not type(None)]
        if len(args) == 1 and len(typing.get_args(hint)) == 2:
            return args[0], True
    return hint, False


class DecimalString(mf.Decimal):
    """A decimal given as a string ("12.50"): a JSON number is refused (no float ever
    becomes an amount)."""

    def _deserialize(self, value: Any, attr: str | None, data: Any, **kwargs: Any) -> Any:
        if not isinstance(value, str):
            raise self.make_error("invalid")
        return super()._deserialize(value, attr, data, **kwargs)


def _field(hint: Any, metadata: Mapping[str, Any], *, required: bool) -> mf.Field[Any]:
    inner, nullable = _optional(hint)
    options: dict[str, Any] = {"required": required, "allow_none": nullable}
    if "validate" in metadata:
        options["validate"] = metadata["validate"]
    origin = typing.get_origin(inner) or inner
    made: mf.Field[Any]
    if inner is str:
        made = mf.String(**options)
    elif inner is bool:
        made = mf.Boolean(**options)
    elif inner is int:
        made = mf.Integer(strict=True, **options)
    elif inner is Decimal:
        made = DecimalString(as_string=True, allow_nan=False, **options)
    elif inner is datetime:
        made = mf.AwareDateTime(format="iso", **options)
    elif inner is date:
        made = mf.Date(**options)
    elif origin is dict:
        made = mf.Dict(**options)
    elif origin is list:
        (item,) = typing.get_args(inner) or (Any,)
        items = metadata.get("items")
        if items is not None:
            made = mf.List(mf.Nested(items), **options)
        else:
            made = mf.List(_field(item, {}, required=True) if item is not Any else mf.Raw(),
                           **options)
    else:
        raise TypeError(f"no event field type for {hint!r}")
    return made


def schema_for(cls: type[Any]) -> marshmallow.Schema:
    """The marshmallow schema of one event version (unknown keys refused)."""
    hints = _hints(cls)
    declared = {
        f.name: _field(hints[f.name], f.metadata,
                       required=f.default is MISSING and f.default_factory is MISSING)
        for f in fields(cls)
    }
    schema_cls = marshmallow.Schema.from_dict(declared, name=f"{cls.TYPE}V{cls.VERSION}")
    return schema_cls(unknown=marshmallow.RAISE)


def _decimal_text(value: Decimal) -> str:
    return format(value, "f")


# type -> (decode from its JSON text, encode to it); other field types are JSON as they are
_CONVERSIONS: dict[Any, tuple[Convert, Convert]] = {
    Decimal: (Decimal, _decimal_text),
    datetime: (datetime.fromisoformat, datetime.isoformat),
    date: (date.fromisoformat, date.isoformat),
}


def _conversion(hint: Any, way: int) -> Convert | None:
    """How a field of type `hint` is decoded (`way` 0) or encoded (1), or None: as it is."""
    inner, nullable = _optional(hint)
    conversions = _CONVERSIONS.get(inner)
    if conversions is None:
        return None
    convert = conversions[way]
    if nullable:
        return lambda value: None if value is None else convert(value)
    return convert


def _decoder(hint: Any) -> Convert | None:
    return _conversion(hint, 0)


def _encoder(hint: Any) -> Convert | None:
    return _conversion(hint, 1)


def json_value(value: Any) -> Any:
    """One field's value as the codec encodes it (Decimal, date and datetime as text)."""
    conversions = _CONVERSIONS.get(type(value))
    return value if conversions is None else conversions[1](value)


def kept_fields(payload: Any, names: tuple[str, ...]) -> dict[str, Any]:
    """The named fields of a typed payload (all its fields, or a partial one holding at least
    these), JSON-ready as the codec encodes them: what a projection keeps of an event."""
    return keeper(type(payload), names)(payload)


Keeper = Callable[[Any], dict[str, Any]]
_KEEPERS: dict[tuple[type[Any], tuple[str, ...]], Keeper] = {}


def keeper(cls: type[Any], names: tuple[str, ...]) -> Keeper:
    """`kept_fields` of one class and field list, made once (a fold calls it per event)."""
    found = _KEEPERS.get((cls, names))
    if found is not None:
        return found
    encoders = _encoders_of(cls)
    wanted = frozenset(names)
    count = len(wanted)
    converted = tuple((n, encoders[n]) for n in names if n in encoders)

    def keep(payload: Any) -> dict[str, Any]:
        values = payload.__dict__
        kept: dict[str, Any]
        if len(values) == count and values.keys() == wanted:
            kept = values.copy()  # a partial payload of exactly these fields (a rebuild's scan)
        else:
            kept = {k: values[k] for k in names if k in values}
        for name, convert in converted:
            if name in kept:
                kept[name] = convert(kept[name])
        return kept

    _KEEPERS[(cls, names)] = keep
    return keep


_ENCODERS: dict[type[Any], dict[str, Convert]] = {}


def _encoders_of(cls: type[Any]) -> dict[str, Convert]:
    found = _ENCODERS.get(cls)
    if found is None:
        hints = _hints(cls)
        found = _ENCODERS[cls] = {f.name: e for f in fields(cls)
                                  if (e := _encoder(hints[f.name])) is not None}
    return found


class Codec:
    """Data <-> payload of one event version (see the module docstring)."""

    def __init__(self, cls: type[Any]) -> None:
        hints = _hints(cls)
        self.cls = cls
        self.names = tuple(f.name for f in fields(cls))
        self._decoders = {n: d for n in self.names if (d := _decoder(hints[n])) is not None}
        self._encoders = _encoders_of(cls)

    def encode(self, payload: Any) -> dict[str, Any]:
        """The JSON-ready data of a payload (what the schema would dump)."""
        data = {name: getattr(payload, name) for name in self.names}
        for name, convert in self._encoders.items():
            data[name] = convert(data[name])
        return data

    def decode(self, data: Mapping[str, Any]) -> Any:
        """The payload of data valid for this version (validated when it was appended)."""
        values = {name: data[name] for name in self.names if name in data}
        for name, convert in self._decoders.items():
            if name in values:
                values[name] = convert(values[name])
        return self.cls(**values)

    def decode_partial(self, data: Mapping[str, Any]) -> Any:
        """A payload holding only the fields present in `data` (the others are unset: reading
        one raises AttributeError). For folds that read a few fields of many events."""
        payload = object.__new__(self.cls)
        values = payload.__dict__
        values.update(data)
        for name, convert in self._decoders.items():
            if name in values:
                values[name] = convert(values[name])
        return payload

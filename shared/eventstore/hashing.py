"""Canonical content and the hash chain: hash_n = sha256(hash_{n-1} | header_n | data_n).

The header is the canonical JSON (`canonical_json`) of the event's envelope fields. The append
path and the verifier both build it with `header_text`, which writes that same text directly
(the keys in sorted order, each string escaped by the json module's own C escaper) instead of
building a dict and sorting it per event; `tests/unit/events/test_chain_hash.py` checks it
byte for byte against `canonical_json` of the dict.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

from shared.events.envelope import isoformat

_CANONICAL = json.JSONEncoder(sort_keys=True, separators=(",", ":"), ensure_ascii=False,
                              allow_nan=False)
_canonical = _CANONICAL.encode
# What `json.dumps(..., ensure_ascii=False)` uses for every str: quotes and escapes it.
_string: Any = getattr(json.encoder, "c_encode_basestring", None) or json.encoder.encode_basestring
_sha256 = hashlib.sha256


def canonical_json(value: Any) -> str:
    """Deterministic JSON: sorted keys, no spaces, UTF-8 kept. Floats are refused upstream."""
    return _canonical(value)


def canonical_time(value: datetime) -> str:
    """`isoformat(value)` (UTC, microseconds, `+00:00`), without a conversion when the value
    is already in UTC."""
    if value.tzinfo is UTC:
        return value.isoformat(timespec="microseconds")
    return isoformat(value)


def _json_value(value: Any) -> str:
    """canonical_json of one header value (str, int or None) without the encoder's set-up."""
    kind = type(value)
    if kind is str:
        return str(_string(value))
    if kind is int:
        return str(value)
    if value is None:
        return "null"
    return canonical_json(value)


def header_text(
    position: int | str,
    event_id: str,
    stream: str,
    stream_version: int | str,
    type: str,
    version: int,
    correlation_id: str,
    causation_id: str | None,
    actor: str,
    occurred_at: str,
    recorded_at: str,
) -> str:
    """canonical_json of the header dict (times as `isoformat` text), written directly: the
    one place the header's text is made. Keys in sorted order: actor, causation_id,
    correlation_id, event_id, occurred_at, position, recorded_at, stream, stream_version,
    type, version. (`header_pieces` passes markers for the two numbers only the database
    knows; they are written as they are.)"""
    v = _json_value
    return (
        '{"actor":' + v(actor) + ',"causation_id":' + v(causation_id)
        + ',"correlation_id":' + v(correlation_id) + ',"event_id":' + v(event_id)
        + ',"occurred_at":' + v(occurred_at) + ',"position":' + _number(position)
        + ',"recorded_at":' + v(recorded_at) + ',"stream":' + v(stream)
        + ',"stream_version":' + _number(stream_version) + ',"type":' + v(type)
        + ',"version":' + v(version) + "}"
    )


def _number(value: int | str) -> str:
    return value if type(value) is str else str(value)


def link(previous_hash: str, header: str, data_text: str) -> str:
    """sha256(previous hash | LF | header | LF | data), hex."""
    previous_hash.encode("ascii")  # a hash is hex; anything else is refused, as before
    return _sha256(f"{previous_hash}\n{header}\n{data_text}".encode()).hexdigest()


def chain_hash(
    previous_hash: str,
    *,
    position: int,
    event_id: str,
    stream: str,
    stream_version: int,
    type: str,
    version: int,
    correlation_id: str,
    causation_id: str | None,
    actor: str,
    occurred_at: datetime,
    recorded_at: datetime,
    data_text: str,
) -> str:
    header = header_text(position, event_id, stream, stream_version, type, version,
                         correlation_id, causation_id, actor, canonical_time(occurred_at),
                         canonical_time(recorded_at))
    return link(previous_hash, header, data_text)


def row_hash(previous_hash: str, row: Mapping[Any, Any]) -> str:
    """The chain hash of a stored row (as read from the `events` table)."""
    return chain_hash(
        previous_hash,
        position=row["position"],
        event_id=row["event_id"],
        stream=row["stream"],
        stream_version=row["stream_version"],
        type=row["type"],
        version=row["version"],
        correlation_id=row["correlation_id"],
        causation_id=row["causation_id"],
        actor=row["actor"],
        occurred_at=row["occurred_at"],
        recorded_at=row["recorded_at"],
        data_text=row["data"],
    )


_POSITION, _STREAM_VERSION = "\x00position\x00", "\x00stream_version\x00"


def header_pieces(
    *,
    event_id: str,
    stream: str,
    type: str,
    version: int,
    correlation_id: str,
    causation_id: str | None,
    actor: str,
    occurred_at: datetime,
    recorded_at: datetime,
) -> tuple[str, str, str]:
    """`header_text` cut around the two numbers only the database knows, for the PostgreSQL
    append function (migration 0003), which joins them server-side:
    header = a + str(position) + b + str(stream_version) + c."""
    whole = header_text(_POSITION, event_id, stream, _STREAM_VERSION, type, version,
                        correlation_id, causation_id, actor, canonical_time(occurred_at),
                        canonical_time(recorded_at))
    a, rest = whole.split(_POSITION)
    b, c = rest.split(_STREAM_VERSION)
    return a, b, c

"""Canonical content and the hash chain: hash_n = sha256(hash_{n-1} | header_n | data_n)."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from datetime import datetime
from typing import Any

from shared.events.envelope import isoformat


def canonical_json(value: Any) -> str:
    """Deterministic JSON: sorted keys, no spaces, UTF-8 kept. Floats are refused upstream."""
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False,
                      allow_nan=False)


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
    header = canonical_json(
        {
            "position": position,
            "event_id": event_id,
            "stream": stream,
            "stream_version": stream_version,
            "type": type,
            "version": version,
            "correlation_id": correlation_id,
            "causation_id": causation_id,
            "actor": actor,
            "occurred_at": isoformat(occurred_at),
            "recorded_at": isoformat(recorded_at),
        }
    )
    digest = hashlib.sha256()
    digest.update(previous_hash.encode("ascii"))
    digest.update(b"\n")
    digest.update(header.encode("utf-8"))
    digest.update(b"\n")
    digest.update(data_text.encode("utf-8"))
    return digest.hexdigest()


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
    """The canonical header of `chain_hash` cut around the two numbers only the database knows:
    header = a + str(position) + b + str(stream_version) + c (keys sorted: actor, causation_id,
    correlation_id, event_id, occurred_at, position, recorded_at, stream, stream_version, type,
    version). Used by the PostgreSQL append function, which joins the pieces server-side."""
    a = canonical_json({"actor": actor, "causation_id": causation_id,
                        "correlation_id": correlation_id, "event_id": event_id,
                        "occurred_at": isoformat(occurred_at)})[:-1] + ',"position":'
    b = (',"recorded_at":' + canonical_json(isoformat(recorded_at)) + ',"stream":'
         + canonical_json(stream) + ',"stream_version":')
    c = ',"type":' + canonical_json(type) + ',"version":' + canonical_json(version) + "}"
    return a, b, c

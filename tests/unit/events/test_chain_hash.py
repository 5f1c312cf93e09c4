"""The chain hash's header is written directly (`header_text`) by the append path and the
verifier; it must stay byte-identical to the definition: sha256(previous | LF |
canonical_json(header dict) | LF | data), with times as `isoformat`."""

from __future__ import annotations

import hashlib
import json
from datetime import UTC, datetime, timedelta, timezone

from hypothesis import given
from hypothesis import strategies as st

from shared.events.envelope import isoformat
from shared.eventstore.dialects import stored_time
from shared.eventstore.hashing import (
    canonical_json,
    canonical_time,
    chain_hash,
    header_pieces,
    header_text,
)


def reference_hash(previous: str, *, occurred_at: datetime, recorded_at: datetime,
                   data_text: str, **fields: object) -> str:
    header = json.dumps({**fields, "occurred_at": isoformat(occurred_at),
                         "recorded_at": isoformat(recorded_at)},
                        sort_keys=True, separators=(",", ":"), ensure_ascii=False,
                        allow_nan=False)
    digest = hashlib.sha256()
    digest.update(previous.encode("ascii"))
    digest.update(b"\n")
    digest.update(header.encode("utf-8"))
    digest.update(b"\n")
    digest.update(data_text.encode("utf-8"))
    return digest.hexdigest()


texts = st.text(max_size=40)  # any unicode: quotes, backslashes, control characters, emoji
zones = st.sampled_from([None, UTC, timezone(timedelta(0)), timezone(timedelta(hours=5, minutes=30)),
                         timezone(-timedelta(hours=8))])
times = st.builds(lambda moment, zone: moment.replace(tzinfo=zone),
                  st.datetimes(min_value=datetime(1970, 1, 2), max_value=datetime(9998, 1, 1)),
                  zones)
numbers = st.integers(min_value=0, max_value=2**62)


@given(previous=st.text(alphabet="0123456789abcdef", min_size=64, max_size=64),
       position=numbers, stream_version=numbers, version=numbers, event_id=texts,
       stream=texts, type_=texts, correlation_id=texts, causation_id=st.none() | texts,
       actor=texts, occurred_at=times, recorded_at=times, data_text=texts)
def test_chain_hash_equals_the_canonical_definition(
    previous: str, position: int, stream_version: int, version: int, event_id: str,
    stream: str, type_: str, correlation_id: str, causation_id: str | None, actor: str,
    occurred_at: datetime, recorded_at: datetime, data_text: str,
) -> None:
    fields = dict(position=position, event_id=event_id, stream=stream,
                  stream_version=stream_version, type=type_, version=version,
                  correlation_id=correlation_id, causation_id=causation_id, actor=actor)
    expected = reference_hash(previous, occurred_at=occurred_at, recorded_at=recorded_at,
                              data_text=data_text, **fields)
    assert chain_hash(previous, occurred_at=occurred_at, recorded_at=recorded_at,
                      data_text=data_text, **fields) == expected  # type: ignore[arg-type]


@given(times)
def test_canonical_time_is_isoformat(moment: datetime) -> None:
    assert canonical_time(moment) == isoformat(moment)


@given(times)
def test_stored_time_is_sqlalchemys_sqlite_text(moment: datetime) -> None:
    utc = moment.astimezone(UTC) if moment.tzinfo else moment
    expected = (f"{utc.year:04d}-{utc.month:02d}-{utc.day:02d} {utc.hour:02d}:{utc.minute:02d}:"
                f"{utc.second:02d}.{utc.microsecond:06d}")
    assert stored_time(canonical_time(moment)) == expected


def test_canonical_json_is_json_dumps_sorted_compact() -> None:
    value = {"b": [1, "é\"\\\n"], "a": {"z": None, "y": True}}
    assert canonical_json(value) == json.dumps(value, sort_keys=True, separators=(",", ":"),
                                               ensure_ascii=False)


@given(position=numbers, stream_version=numbers, event_id=texts, stream=texts, type_=texts,
       correlation_id=texts, causation_id=st.none() | texts, actor=texts, occurred_at=times,
       recorded_at=times)
def test_the_pieces_for_the_database_are_the_header_cut_around_the_two_numbers(
    position: int, stream_version: int, event_id: str, stream: str, type_: str,
    correlation_id: str, causation_id: str | None, actor: str, occurred_at: datetime,
    recorded_at: datetime,
) -> None:
    a, b, c = header_pieces(event_id=event_id, stream=stream, type=type_, version=3,
                            correlation_id=correlation_id, causation_id=causation_id,
                            actor=actor, occurred_at=occurred_at, recorded_at=recorded_at)
    assert a + str(position) + b + str(stream_version) + c == header_text(
        position, event_id, stream, stream_version, type_, 3, correlation_id, causation_id,
        actor, canonical_time(occurred_at), canonical_time(recorded_at))

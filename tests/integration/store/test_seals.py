"""Seals against the insider, on both backends (issue 11, "Sealed log").

The insider has the schema owner's powers (insider.py): drops the triggers, edits an event,
recomputes every following hash with our own `row_hash`, fixes the log head and puts the
triggers back, or cuts the tail and fixes the head. The chain alone then verifies; checked
against seals signed outside the database, `verify_log` names the first position that differs
(a rewrite) or the first one missing (a truncation). Seals that do not verify are problems.
Also here: the trigger check compares each trigger's definition and enabled state.
"""

from __future__ import annotations

import base64
import json
from pathlib import Path

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from shared.eventstore import EventStore
from shared.eventstore.verify import VerificationResult, verify_log
from shared.integrity.sealer import SealRefused, seal_log
from shared.integrity.seals import (
    FINGERPRINT_BYTES,
    SealSet,
    key_id,
    latest_seal,
    seal_files,
)

from . import insider
from .conftest import thing


@pytest.fixture
def key() -> Ed25519PrivateKey:
    return Ed25519PrivateKey.generate()


def fill(store: EventStore, n: int, start: int = 0) -> None:
    for i in range(start, start + n):
        store.append(f"thing-{i}", [thing(str(i))], expected_version=0)


def seal(store: EventStore, key: Ed25519PrivateKey, folder: Path) -> dict[str, object] | None:
    sealed = seal_log(store, key, folder, latest_seal(folder, key.public_key()), page=3)
    return None if sealed is None else sealed.document


def checked(store: EventStore, key: Ed25519PrivateKey, folder: Path, **options: object
            ) -> VerificationResult:
    seals = SealSet.load(seal_files(folder), key.public_key())
    return verify_log(store, page=4, seals=seals, **options)  # type: ignore[arg-type]


def sealed_log(store: EventStore, key: Ed25519PrivateKey, folder: Path) -> None:
    """12 events under three seals: 1..4, 5..8, 9..12."""
    for _ in range(3):
        fill(store, 4, store.last_position())
        assert seal(store, key, folder) is not None


def test_seals_cover_the_log_in_turn_and_an_intact_log_matches_them(
        store: EventStore, key: Ed25519PrivateKey, tmp_path: Path) -> None:
    sealed_log(store, key, tmp_path)
    documents = [json.loads(p.read_text()) for p in seal_files(tmp_path)]
    assert [(d["from_position"], d["position"]) for d in documents] == [(1, 4), (5, 8), (9, 12)]
    events = store.read_all(limit=100)
    assert all(d["log"] == events[0].hash for d in documents)
    assert documents[-1]["hash"] == events[-1].hash
    assert [base64.b64decode(d["fingerprints"]) for d in documents] == [
        b"".join(bytes.fromhex(e.hash[:2 * FINGERPRINT_BYTES]) for e in events[i:i + 4])
        for i in (0, 4, 8)]
    assert seal(store, key, tmp_path) is None  # the head has not moved: nothing to seal
    result = checked(store, key, tmp_path)
    assert result.ok, result.problems
    assert (result.seals.checked, result.seals.latest_position) == (3, 12)
    assert result.seals.key_id == key_id(key.public_key())
    assert result.to_json()["seals"] == {"checked": 3, "invalid": 0, "latest_position": 12,
                                         "key_id": key_id(key.public_key()),
                                         "contradicted": 0}


@pytest.mark.parametrize("edited", [1, 5, 7, 12])
def test_an_insider_rewrite_is_found_by_the_seals_naming_the_edited_position(
        store: EventStore, key: Ed25519PrivateKey, tmp_path: Path, edited: int) -> None:
    sealed_log(store, key, tmp_path)
    before = store.read_all(limit=100)
    insider.rewrite(store.url, edited)
    after = store.read_all(limit=100)
    assert after[edited - 1].data["name"] == "forged"
    assert [e.hash for e in after[:edited - 1]] == [e.hash for e in before[:edited - 1]]
    assert all(a.hash != b.hash for a, b in zip(after[edited - 1:], before[edited - 1:],
                                                strict=True))

    plain = verify_log(store)
    assert plain.ok, plain.problems  # the chain, the head and the triggers all check out

    result = checked(store, key, tmp_path)
    assert not result.ok and result.first_bad_position == edited
    assert [(p.position, p.kind) for p in result.problems] == [(edited, "rewrite")]
    assert f"position {edited} differs from seal" in result.problems[0].detail
    everything = checked(store, key, tmp_path, stop_at_first=False)
    assert [(p.position, p.kind) for p in everything.problems] == [(edited, "rewrite")]
    assert everything.seals.contradicted == 3 - (edited - 1) // 4  # the seals from there on

    with pytest.raises(SealRefused, match="position 12 no longer holds"):
        seal(store, key, tmp_path)  # a rewritten log is never sealed over


def test_with_only_a_later_seal_the_first_position_it_covers_is_named(
        store: EventStore, key: Ed25519PrivateKey, tmp_path: Path) -> None:
    sealed_log(store, key, tmp_path)
    *earlier, last = seal_files(tmp_path)
    for path in earlier:
        path.unlink()
    insider.rewrite(store.url, 6)
    result = checked(store, key, tmp_path)
    assert [(p.position, p.kind) for p in result.problems] == [(9, "rewrite")]
    assert "covers positions 9..12" in result.problems[0].detail


def test_a_cut_tail_is_a_truncation_naming_the_first_missing_position(
        store: EventStore, key: Ed25519PrivateKey, tmp_path: Path) -> None:
    sealed_log(store, key, tmp_path)
    insider.cut_tail(store.url, keep=6)
    assert store.last_position() == 6
    plain = verify_log(store)
    assert plain.ok, plain.problems

    result = checked(store, key, tmp_path)
    assert [(p.position, p.kind) for p in result.problems] == [(7, "truncation")]
    assert "positions 7..12 are missing" in result.problems[0].detail
    with pytest.raises(SealRefused, match="was cut"):
        seal(store, key, tmp_path)

    fill(store, 8, 100)  # new events take the cut positions: each differs from the seals
    result = checked(store, key, tmp_path)
    assert [(p.position, p.kind) for p in result.problems] == [(7, "rewrite")]


def test_a_tampered_or_foreign_seal_is_a_problem(
        store: EventStore, key: Ed25519PrivateKey, tmp_path: Path) -> None:
    sealed_log(store, key, tmp_path)
    first, second, third = seal_files(tmp_path)
    document = json.loads(second.read_text())
    events = store.read_all(limit=100)
    document["position"], document["hash"] = 7, events[6].hash  # a seal of 5..7 instead
    document["fingerprints"] = base64.b64encode(b"".join(
        bytes.fromhex(e.hash[:16]) for e in events[4:7])).decode()
    second.write_text(json.dumps(document))  # well formed, consistent, not signed
    other = Ed25519PrivateKey.generate()
    foreign_folder = tmp_path / "foreign"
    fill(store, 1, 50)
    seal(store, other, foreign_folder)
    foreign = seal_files(foreign_folder)[0]
    (tmp_path / "notes.json").write_text("[1, 2]")

    seals = SealSet.load([first, second, third, foreign, tmp_path / "notes.json"],
                         key.public_key())
    result = verify_log(store, seals=seals)
    problems = {(p.position, p.kind, p.detail.split(": ", 1)[1]) for p in result.problems}
    assert problems == {
        (None, "seal", "bad signature: the seal was altered or not signed by this key"),
        (None, "seal", f"signed by another key ({key_id(other.public_key())}; the public key "
                       f"is {key_id(key.public_key())})"),
        (None, "seal", "not a seal: not a JSON object"),
    }
    assert (result.seals.checked, result.seals.invalid) == (2, 3)

    without_key = verify_log(store, seals=SealSet.load([first], None))
    assert [p.kind for p in without_key.problems] == ["seal"]
    assert "no public key" in without_key.problems[0].detail


# -- the trigger check: definition and state, not just the name ----------------------------

def trigger_problems(store: EventStore) -> list[str]:
    result = verify_log(store)
    return [p.detail for p in result.problems if p.kind == "trigger"]


def edit_goes_through(store: EventStore) -> None:
    """The owner's UPDATE is no longer stopped: the trigger is as good as gone."""
    insider.execute(store.url, "UPDATE events SET actor = 'mallory' WHERE position = 2")
    assert store.read_all(limit=10)[1].actor == "mallory"


def test_a_no_op_trigger_of_the_same_name_is_reported(store: EventStore) -> None:
    fill(store, 3)
    assert trigger_problems(store) == []
    if store.dialect == "postgresql":
        insider.execute(store.url, "DROP TRIGGER events_immutable ON events",
                        "CREATE FUNCTION noop() RETURNS trigger LANGUAGE plpgsql AS "
                        "$$ BEGIN RETURN NEW; END $$",
                        "CREATE TRIGGER events_immutable BEFORE UPDATE OR DELETE ON events "
                        "FOR EACH ROW EXECUTE FUNCTION noop()")
    else:
        insider.execute(store.url, "DROP TRIGGER events_immutable",
                        "CREATE TRIGGER events_immutable BEFORE UPDATE ON events "
                        "BEGIN SELECT 1; END")
    edit_goes_through(store)
    [problem] = trigger_problems(store)
    assert problem.startswith("immutability trigger events_immutable is altered"), problem


def test_a_trigger_that_never_fires_is_reported(store: EventStore) -> None:
    """A WHEN clause that is never true (PostgreSQL), a RAISE that is never reached (SQLite)."""
    fill(store, 3)
    if store.dialect == "postgresql":
        insider.execute(store.url, "DROP TRIGGER events_no_truncate ON events",
                        "CREATE TRIGGER events_no_truncate BEFORE TRUNCATE ON events FOR EACH "
                        "STATEMENT EXECUTE FUNCTION clearance_events_immutable()",
                        "DROP TRIGGER events_immutable ON events",
                        "CREATE TRIGGER events_immutable BEFORE UPDATE OR DELETE ON events "
                        "FOR EACH ROW WHEN (false) EXECUTE FUNCTION "
                        "clearance_events_immutable()")
    else:
        insider.execute(store.url, "DROP TRIGGER events_no_delete",
                        "CREATE TRIGGER events_no_delete BEFORE DELETE ON events WHEN 0 "
                        "BEGIN SELECT RAISE(ABORT, 'events are immutable: DELETE rejected'); "
                        "END")
    [problem] = trigger_problems(store)
    assert " is altered" in problem


@pytest.mark.postgres
def test_a_replaced_trigger_function_is_reported(pg_url: str, registry) -> None:  # type: ignore[no-untyped-def]
    store = EventStore(pg_url, registry, migrate=False)
    fill(store, 3)
    insider.execute(pg_url, "CREATE OR REPLACE FUNCTION clearance_events_immutable() RETURNS "
                            "trigger LANGUAGE plpgsql AS $$ BEGIN RETURN NEW; END $$")
    assert sorted(trigger_problems(store)) == [
        f"immutability trigger {name} is altered (its function clearance_events_immutable "
        "is not the migration's)" for name in ("events_immutable", "events_no_truncate")]
    store.close()


@pytest.mark.postgres
@pytest.mark.parametrize(("alter", "said"), [
    ("DISABLE TRIGGER events_immutable", "disabled"),
    ("ENABLE REPLICA TRIGGER events_immutable",
     "replica-only (never fires in normal sessions)"),
])
def test_a_disabled_or_replica_only_trigger_is_reported(
        pg_url: str, registry, alter: str, said: str) -> None:  # type: ignore[no-untyped-def]
    store = EventStore(pg_url, registry, migrate=False)
    fill(store, 3)
    insider.execute(pg_url, f"ALTER TABLE events {alter}")
    edit_goes_through(store)
    assert trigger_problems(store) == [f"immutability trigger events_immutable is {said}"]
    insider.execute(pg_url, "ALTER TABLE events ENABLE ALWAYS TRIGGER events_immutable")
    assert trigger_problems(store) == []  # 'A' (always) fires in every session: fine
    store.close()

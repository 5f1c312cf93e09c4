"""`clearance history` summaries of the control outcomes, the refused release and the
clearance: what an auditor reads must say what the officer decided, that a release was
refused, and what cleared a declaration."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path

from audit.history import summarise
from shared.events.catalog import registry
from shared.events.envelope import RecordedEvent

FIXTURES = Path(__file__).parents[3] / "shared" / "events" / "fixtures"
NOW = datetime(2026, 3, 2, 10, 15, tzinfo=UTC)


def recorded(event_type: str, version: int, actor: str = "officer-117") -> RecordedEvent:
    data = json.loads((FIXTURES / f"{event_type}.v{version}.json").read_text())["data"]
    return RecordedEvent(position=1, event_id="e1", type=event_type, version=version,
                         stream="risk-x", stream_version=1, correlation_id="x",
                         causation_id=None, actor=actor, occurred_at=NOW, recorded_at=NOW,
                         data=data, hash="h")


def line(event: RecordedEvent) -> str:
    return summarise(event, registry().decode(event))


def test_a_release_after_payment_names_the_finding_the_outcome_and_the_duty() -> None:
    text = line(recorded("ControlCompleted", 3))
    assert text == ("Control result NON-COMPLIANT by officer-117: findings valuation: invoice "
                    "understated; outcome release after payment, additional duty 412.50")


def test_a_result_recorded_before_outcomes_reads_as_a_customs_hold() -> None:
    text = line(recorded("ControlCompleted", 2))
    assert "findings valuation: invoice understated" in text
    assert "no outcome decided (customs hold), additional duty 412.50" in text


def test_an_amendment_names_its_version_reason_and_changes() -> None:
    assert line(recorded("DeclarationAmended", 1, actor="broker")) == (
        "Amended to version 2 (invoice corrected: the supplier's credit note lowers the value): "
        "/items/0/value: '15000.00' -> '13500.00'; /items/0/documents/1: None -> "
        "{'reference': 'CN-2026-0042', 'type': 'CREDIT_NOTE'}")


def test_invalidation_requested_granted_and_refused() -> None:
    assert line(recorded("InvalidationRequested", 1, actor="broker")) == (
        "Invalidation requested after release (declaration version 1): goods declared under "
        "the wrong procedure: re-exported unopened")
    assert line(recorded("DeclarationInvalidated", 1)) == (
        "Declaration invalidated (granted after release): goods re-exported unopened "
        "(art. 174): granted")
    assert line(recorded("InvalidationRefused", 1)) == (
        "Invalidation refused: no proof that the goods left the customs territory")


def test_a_refused_release_says_so() -> None:
    text = line(recorded("ReleaseRefused", 1, actor="release-service"))
    assert text == ("Release refused at 2026-03-02T10:15:00+00:00 (office GBDEM001), by the "
                    "control's outcome")


def test_a_clearance_names_what_was_paid_against_what_was_due() -> None:
    text = line(recorded("DeclarationCleared", 1, actor="release-service"))
    assert text == ("Cleared at 2026-03-02T10:15:00+00:00: every debt paid (1234.56 paid "
                    "against 1234.56 due, declaration version 1)")


def test_a_post_release_amendment_applied_for_and_decided() -> None:
    assert line(recorded("AmendmentRequested", 1, actor="broker")) == (
        "Post-release amendment to version 2 applied for (post-release: the supplier's credit "
        "note lowers the value): /items/0/value: '15000.00' -> '13500.00'")
    assert line(recorded("AmendmentDecided", 1)) == (
        "Post-release amendment granted: credit note checked against the supplier's ledger")

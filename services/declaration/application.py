"""Use cases of the declaration service: lodge a declaration, read its status, invalidate it.

Lodgement is idempotent on (declarant, LRN) without a lookup table: the consignment id is a
name-based UUID of the pair, so the declaration stream `declaration-<consignment id>` is the
same for a repeat, and the store's unique (stream, version) key decides a race. A repeat with
the same payload fingerprint answers 200 with the original result; another payload is a
conflict (409). The MRN is claimed by the status table's unique key in the same transaction.
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, date, datetime
from typing import Any

from shared.events.catalog import registry
from shared.events.declaration import (
    AmendmentDecided,
    AmendmentRequested,
    DeclarationAccepted,
    DeclarationAmended,
    DeclarationInvalidated,
    DeclarationReceived,
    InvalidationRefused,
    InvalidationRequested,
)
from shared.events.envelope import NewEvent, RecordedEvent, actor_text, stream_name
from shared.events.payment import account_stream
from shared.events.release import GoodsReleased, ReleaseRefused
from shared.eventstore import EventStore, KeyTaken, WrongExpectedVersion
from shared.identity import Caller
from shared.reference import ReferenceData

from .domain.access import may_lodge_as, may_see
from .domain.amendment import (
    AmendmentInvalid,
    OnApplication,
    check_amendment,
    decide_application,
)
from .domain.amendment import guard as guard_amendment
from .domain.declaration import Declaration, to_document
from .domain.feed import StatusChange, status_changes
from .domain.identifiers import MrnAllocator, payload_fingerprint
from .domain.invalidation import Invalidate, decide_request, request_invalidation
from .domain.lifecycle import Lifecycle
from .domain.lifecycle import fold as fold_lifecycle
from .domain.payment_terms import account_problems
from .domain.status import Status
from .domain.status_view import KEPT_FIELDS
from .domain.validation import DeclarationInvalid, Problem
from .intake import validate_document
from .projections import (
    STATUS,
    facts_of,
    lock_rows,
    project_in,
    project_lodged,
    status_by_mrn,
)

CONSIGNMENT_NAMESPACE = uuid.UUID("6f1c2a4e-2b1e-4d8a-9a57-1f0c3e5d7b21")
CATEGORY = "declaration"
FEED_WINDOW = 2000  # log positions one status-notifications request reads at most
MRN_ATTEMPTS = 5
WRITE_ATTEMPTS = 5  # an invalidation raced by another write to the consignment: decide again
SERVICE_ACTOR = actor_text(Caller.service(CATEGORY).actor())


class LrnConflict(Exception):
    """The declarant already used this LRN for a different declaration."""


class DeclarationNotFound(LookupError):
    """No declaration with this MRN."""


class ConcurrentChange(Exception):
    """Other writes to the declaration kept winning: the request may be sent again."""


class VersionMismatch(Exception):
    """The amendment was made to a declaration version that is no longer the current one."""


class _DecidedMeanwhile(Exception):
    """The release was decided while an invalidation before release was being recorded."""


@dataclass(frozen=True)
class Lodged:
    created: bool  # False: the same request seen before (idempotent repeat)
    mrn: str
    consignment_id: str
    status: Status

    def body(self) -> dict[str, Any]:
        return {"mrn": self.mrn, "consignment_id": self.consignment_id,
                "status": self.status.as_json()}


def _new(payload: Any, caller: Caller | None = None) -> NewEvent:
    """A new event of the declaration stream whose consignment `payload` names, by `caller`
    (by the service itself when None)."""
    return registry().new_event(
        payload, correlation_id=payload.consignment_id,
        actor=SERVICE_ACTOR if caller is None else actor_text(caller.actor()))


def consignment_id_for(declarant_eori: str, lrn: str) -> str:
    return str(uuid.uuid5(CONSIGNMENT_NAMESPACE, f"{declarant_eori}\n{lrn}"))


class Declarations:
    """The declaration service's application: the store and reference data it decides with."""

    def __init__(self, store: EventStore, reference: ReferenceData,
                 allocator: MrnAllocator | None = None, *,
                 post_release_amendment_days: int = 1095) -> None:
        self.store = store
        self.reference = reference
        self.allocator = allocator or MrnAllocator()
        self.post_release_amendment_days = post_release_amendment_days

    def validate(self, raw: Mapping[str, Any], on_date: date) -> Declaration:
        declaration = validate_document(raw, on_date=on_date, tariff=self.reference.tariff,
                                        countries=self.reference.countries,
                                        currencies=self.reference.currencies,
                                        offices=self.reference.offices.offices,
                                        measures=self.reference.tariff,
                                        rates=self.reference.rates)
        terms = declaration.payment
        if terms is not None and terms.account is not None:  # read only when one is named
            history = self.store.read_stream(account_stream(terms.account))
            problems = account_problems(declaration, (e.payload for e in history),
                                        self.reference.rates.national_currency)
            if problems:
                raise DeclarationInvalid(problems)
        return declaration

    def lodge(self, raw: Mapping[str, Any], caller: Caller, *,
              now: datetime | None = None) -> Lodged:
        """Validate and accept a declaration document lodged by `caller` (raises
        NotYourDeclarant, DeclarationInvalid, LrnConflict)."""
        declarant = raw.get("declarant")
        may_lodge_as(caller, declarant.get("eori") if isinstance(declarant, Mapping) else None)
        actor = actor_text(caller.actor())
        now = now or datetime.now(UTC)
        # the acceptance date: the local date at the office (its tariff, rate and limits)
        accepted_on = self.reference.offices.local_date(raw.get("office"), now)
        declaration = self.validate(raw, accepted_on)
        fingerprint = payload_fingerprint(declaration)
        consignment_id = consignment_id_for(declaration.declarant.eori, declaration.lrn)
        stream = stream_name(CATEGORY, consignment_id)
        # A repeated lodgement (same declarant and LRN) is found by the append itself: the
        # stream exists, so appending at version 0 fails and the stored one is answered.
        document = to_document(declaration)
        for _ in range(MRN_ATTEMPTS):
            mrn = self.allocator.allocate(declaration.office, accepted_on,
                                          declaration.type.value)
            events = [
                registry().new_event(
                    DeclarationReceived(consignment_id, declaration.lrn,
                                        declaration.declarant.eori, fingerprint, document),
                    correlation_id=consignment_id, actor=actor, occurred_at=now),
                registry().new_event(
                    DeclarationAccepted(consignment_id, mrn, declaration.lrn,
                                        declaration.declarant.eori, declaration.office,
                                        declaration.transport.mode.value, accepted_on, 1,
                                        document),
                    correlation_id=consignment_id, actor=SERVICE_ACTOR, occurred_at=now),
            ]
            try:
                with self.store.transaction() as tx:
                    recorded = tx.append(stream, events, expected_version=0)
                    project_lodged(tx, recorded)
            except WrongExpectedVersion:  # a concurrent identical (or conflicting) lodgement
                return self._repeat(self.store.read_stream(stream), fingerprint)
            except KeyTaken:  # the MRN was taken: allocate another
                continue
            return Lodged(True, mrn, consignment_id, Status.ACCEPTED)
        raise RuntimeError(f"no free MRN after {MRN_ATTEMPTS} attempts")

    def _repeat(self, existing: list[RecordedEvent], fingerprint: str) -> Lodged:
        received = next(e.payload for e in existing
                        if isinstance(e.payload, DeclarationReceived))
        if received.fingerprint != fingerprint:
            raise LrnConflict(
                f"LRN {received.lrn} of declarant {received.declarant_eori} "
                "was already used for a different declaration")
        accepted = next(e.payload for e in existing
                        if isinstance(e.payload, DeclarationAccepted))
        return Lodged(False, accepted.mrn, received.consignment_id, Status.ACCEPTED)

    def status_notifications(self, caller: Caller, after: int,
                             limit: int) -> tuple[list[dict[str, Any]], int]:
        """The status changes of the declarations `caller` may see, at log positions after
        `after`, in log order (at most `limit`), and the position to ask after next time.

        One request reads at most `FEED_WINDOW` positions of the log: a client follows with
        `after` set to the position returned, so a first request (after=0) on a long log is
        answered in bounded time. Each visible consignment met in the window has its status
        changes folded from its own events in the log (`domain.feed`), so a change is
        reported at the position of the fact that made it, whatever order the projection
        heard the facts in."""
        events = self.store.read_all(after, limit=FEED_WINDOW)
        if not events:
            return [], after
        up_to = events[-1].position
        met = list(dict.fromkeys(e.correlation_id for e in events if e.type in KEPT_FIELDS))
        identity = STATUS.select(self.store, met, ["declarant_eori", "office"])
        changes: list[StatusChange] = []
        for consignment_id in met:
            if consignment_id not in identity or not may_see(caller, *identity[consignment_id]):
                continue
            history = self.store.read_correlation(consignment_id, up_to=up_to)
            facts = facts_of(history).get(consignment_id, {})
            changes += [c for c in status_changes(facts) if c.position > after]
        changes.sort(key=lambda change: change.position)
        if len(changes) > limit:
            del changes[limit:]
            up_to = changes[-1].position
        return [change.as_json() for change in changes], up_to

    def status(self, mrn: str, caller: Caller) -> dict[str, Any]:
        """The declaration's status, if `caller` may see it (else as if it did not exist)."""
        view = status_by_mrn(self.store, mrn)
        if view is None or not may_see(caller, view["declarant"], view["office"]):
            raise DeclarationNotFound(f"no declaration with MRN {mrn}")
        return view

    def invalidate(self, mrn: str, caller: Caller, reason: str) -> tuple[int, dict[str, Any]]:
        """The declarant asks for its declaration to be invalidated (UCC art. 174): before
        release it is invalidated at once (200), after release the request waits for an
        officer's decision (202). Raises lifecycle.NotAllowed naming its ground, or
        DeclarationNotFound when not the caller's to act on.

        An invalidation before release and the release decision exclude each other: the
        invalidation is appended first (taking the deployment's append lock) and then looks
        for a release or a refusal in the log; if one was recorded meanwhile, it is undone and
        decided again, now after release. The release service checks the other way round."""
        view = self.status(mrn, caller)
        consignment_id = view["consignment_id"]
        for _ in range(WRITE_ATTEMPTS):
            history, state = self._lifecycle(consignment_id)
            step = request_invalidation(state)
            before_release = isinstance(step, Invalidate)
            payload: Any = (
                DeclarationInvalidated(consignment_id, mrn, state.declaration_version, reason,
                                       False, None) if before_release
                else InvalidationRequested(consignment_id, mrn, state.declaration_version,
                                           reason))
            try:
                self._record(consignment_id, history, [_new(payload, caller)],
                             check_undecided=before_release)
            except (WrongExpectedVersion, _DecidedMeanwhile):
                continue
            answer = self.status(mrn, caller)
            return (200 if before_release else 202), {
                "mrn": mrn, "consignment_id": consignment_id, "status": answer["status"],
                "invalidation": "invalidated" if before_release else "requested"}
        raise ConcurrentChange(f"{mrn} kept changing: send the request again")

    def decide_invalidation(self, mrn: str, caller: Caller, granted: bool,
                            reason: str) -> dict[str, Any]:
        """An officer of the declaration's office decides the invalidation requested after
        release: granted, the declaration is invalidated; refused, it stands."""
        view = self.status(mrn, caller)
        consignment_id = view["consignment_id"]
        for _ in range(WRITE_ATTEMPTS):
            history, state = self._lifecycle(consignment_id)
            request_id = decide_request(state)
            payload: Any = (
                DeclarationInvalidated(consignment_id, mrn, state.declaration_version, reason,
                                       True, request_id) if granted
                else InvalidationRefused(consignment_id, mrn, reason, request_id))
            try:
                self._record(consignment_id, history, [_new(payload, caller)],
                             check_undecided=False)
            except WrongExpectedVersion:
                continue
            answer = self.status(mrn, caller)
            return {"mrn": mrn, "consignment_id": consignment_id, "status": answer["status"],
                    "decision": "granted" if granted else "refused"}
        raise ConcurrentChange(f"{mrn} kept changing: send the decision again")

    def amend(self, mrn: str, caller: Caller, reason: str, raw: Mapping[str, Any], *,
              of_version: int | None = None) -> dict[str, Any]:
        """The declarant amends its declaration (UCC art. 173) with the whole corrected
        document: a new declaration version, accepted with the same MRN and acceptance date,
        which risk and payment assess again; DeclarationAmended records what changed. Raises
        lifecycle.NotAllowed naming its ground, DeclarationInvalid (422), DeclarationNotFound,
        VersionMismatch when `of_version` (the version the declarant amends, from If-Match) is
        no longer the current one, or WrongExpectedVersion when another amendment won the
        race.

        Like an invalidation before release, it excludes a release decided meanwhile: after
        its append it looks for one in the log, and is undone and refused if one was."""
        view = self.status(mrn, caller)
        consignment_id = view["consignment_id"]
        history, state = self._lifecycle(consignment_id)
        if of_version is not None and of_version != state.declaration_version:
            raise VersionMismatch(f"{mrn} is at declaration version "
                                  f"{state.declaration_version}, not {of_version}: read it and "
                                  "amend that one")
        today = self.reference.offices.local_date(view["office"], datetime.now(UTC))
        step = guard_amendment(state, today=today, limit_days=self.post_release_amendment_days)
        first = next(e.payload for e in history if isinstance(e.payload, DeclarationAccepted))
        try:  # on the acceptance date: the tariff, rates and rules of the declaration
            declaration = self.validate(raw, first.acceptance_date)
            document = to_document(declaration)
            changes = check_amendment(state, document)
        except DeclarationInvalid as invalid:
            raise DeclarationInvalid(Problem("/document" + p.pointer, p.message)
                                     for p in invalid.problems) from None
        except AmendmentInvalid as invalid:
            raise DeclarationInvalid(Problem("/document" + pointer, message)
                                     for pointer, message in invalid.problems) from None
        version = state.declaration_version + 1
        answer = {"mrn": mrn, "consignment_id": consignment_id, "declaration_version": version,
                  "changes": [change.to_dict() for change in changes]}
        if isinstance(step, OnApplication):  # after release: an officer decides
            self._record(consignment_id, history, [_new(AmendmentRequested(
                consignment_id, mrn, version, reason, answer["changes"], document), caller)],
                check_undecided=False)
            return {**answer, "amendment": "requested"}
        new = [
            _new(DeclarationAmended(consignment_id, mrn, version, reason, answer["changes"]),
                 caller),
            _new(DeclarationAccepted(consignment_id, mrn, declaration.lrn,
                                     declaration.declarant.eori, declaration.office,
                                     declaration.transport.mode.value, first.acceptance_date,
                                     version, document)),
        ]
        try:
            self._record(consignment_id, history, new, check_undecided=True)
        except _DecidedMeanwhile:
            # released (or refused) meanwhile: after release it is an application; sent
            # again, the declarant is told which
            raise ConcurrentChange(f"{mrn} was released or refused meanwhile: send the "
                                   "amendment again") from None
        return {**answer, "amendment": "amended"}

    def decide_amendment(self, mrn: str, caller: Caller, granted: bool,
                         reason: str) -> dict[str, Any]:
        """An officer of the declaration's office decides the post-release amendment applied
        for (UCC art. 173(3)): granted, the declarant's corrected document becomes the next
        declaration version, which risk and payment assess again (a higher duty is owed, a
        lower one leaves the excess repayable); refused, the declaration stands."""
        view = self.status(mrn, caller)
        consignment_id = view["consignment_id"]
        for _ in range(WRITE_ATTEMPTS):
            history, state = self._lifecycle(consignment_id)
            request_id = decide_application(state)
            request = next(e for e in history if e.event_id == request_id)
            asked: AmendmentRequested = request.payload
            new = [_new(AmendmentDecided(consignment_id, mrn, request_id,
                                         "granted" if granted else "refused", reason), caller)]
            if granted:
                document = asked.document
                first = next(e.payload for e in history
                             if isinstance(e.payload, DeclarationAccepted))
                new += [
                    # the amendment is the declarant's (who applied), permitted by the officer
                    registry().new_event(
                        DeclarationAmended(consignment_id, mrn, asked.declaration_version,
                                           asked.reason, asked.changes),
                        correlation_id=consignment_id, actor=request.actor,
                        causation_id=request_id),
                    _new(DeclarationAccepted(consignment_id, mrn, document["lrn"],
                                             document["declarant"]["eori"], document["office"],
                                             document["transport"]["mode"],
                                             first.acceptance_date, asked.declaration_version,
                                             document)),
                ]
            try:
                self._record(consignment_id, history, new, check_undecided=False)
            except WrongExpectedVersion:
                continue
            answer = self.status(mrn, caller)
            return {"mrn": mrn, "consignment_id": consignment_id, "status": answer["status"],
                    "decision": "granted" if granted else "refused",
                    "declaration_version": asked.declaration_version if granted
                    else state.declaration_version}
        raise ConcurrentChange(f"{mrn} kept changing: send the decision again")

    def _lifecycle(self, consignment_id: str) -> tuple[list[RecordedEvent], Lifecycle]:
        history = self.store.read_correlation(consignment_id)
        return history, fold_lifecycle((e.event_id, e.payload) for e in history)

    def _record(self, consignment_id: str, history: list[RecordedEvent], new: list[NewEvent],
                *, check_undecided: bool) -> None:
        """Append the `new` events to the declaration stream, at the version `history` shows,
        and project them; with `check_undecided`, undo it if the release was decided
        meanwhile."""
        stream = stream_name(CATEGORY, consignment_id)
        version = sum(1 for e in history if e.stream == stream)
        with self.store.transaction() as tx:
            lock_rows(tx, [consignment_id])  # before the append: see lock_rows
            recorded = tx.append(stream, new, expected_version=version)
            if check_undecided and any(
                    e.type in (GoodsReleased.TYPE, ReleaseRefused.TYPE)
                    for e in tx.log.read_stream(stream_name("release", consignment_id))):
                raise _DecidedMeanwhile(consignment_id)
            project_in(tx, recorded)
